"""Scoped grants through the real API: a site or collection grant reads only its participants and specimens;
what lies outside answers as if it did not exist; a researcher counts; a partner sees nothing of the bank."""

from __future__ import annotations

from datetime import date

import pytest

from lifebank.auth import organisations
from lifebank.auth import service as auth
from lifebank.biobank import service

API = "/api/v1/biobank"
PASSWORD = "Correct-horse-battery-9"
ACTOR = "tester"


def _storage(db) -> None:
    """Two storage units: a freezer with a rack and a 9x9 box, an LN2 tank with a rack and a 10x10 box."""
    for name, kind in (("Upright -80", "freezer"), ("LN2 tank", "tank"), ("Rack", "rack")):
        service.define_container_type(db, name, kind=kind, actor=ACTOR)
    service.define_container_type(db, "Box 9x9", kind="box", rows=9, columns=9, scheme="letter-number", actor=ACTOR)
    service.define_container_type(db, "Box 10x10", kind="box", rows=10, columns=10, scheme="sequential",
                                  actor=ACTOR)
    for unit, unit_type, temp, box, box_type in (("FRZ-01", "Upright -80", "-80C", "BOX-1", "Box 9x9"),
                                                 ("TANK-01", "LN2 tank", "LN2", "CB-1", "Box 10x10")):
        service.create_container(db, unit, type_name=unit_type, temperature_class=temp, actor=ACTOR)
        rack = "R01" if unit == "FRZ-01" else "RL1"
        service.create_container(db, rack, type_name="Rack", parent_path=unit, actor=ACTOR)
        service.create_container(db, box, type_name=box_type, parent_path=f"{unit}/{rack}", actor=ACTOR)


def _participant(db, code: str, site: str) -> None:
    service.register_participant(db, code, sex="F", birth_year=1980, site=site, actor=ACTOR)
    service.record_consent(db, code, duo_codes="DUO:0000042", consent_date=date(2024, 1, 2), actor=ACTOR)


@pytest.fixture
def two_sites(db):
    """SH's P1 (a tube in FRZ-01, one unstored), BJ's P2 (a tube in TANK-01)."""
    _storage(db)
    _participant(db, "P000001", site="SH")
    _participant(db, "P000002", site="BJ")
    service.register_specimen(db, "SH-1", participant="P000001", type="SER", quantity=1,
                              location="FRZ-01/R01/BOX-1/A1", actor=ACTOR)
    service.register_specimen(db, "SH-2", participant="P000001", type="SER", quantity=1, actor=ACTOR)
    service.register_specimen(db, "BJ-1", participant="P000002", type="SER", quantity=1,
                              location="TANK-01/RL1/CB-1/1", actor=ACTOR)
    return db


def _token(db, username: str, roles: list[str], scopes: list[str] | None = None) -> dict[str, str]:
    auth.create_user(db, username, PASSWORD, roles, scopes=scopes)
    return {"Authorization": "Bearer " + auth.create_token(db, username, "t").token}


def _barcodes(client, headers, **params) -> list[str]:
    answer = client.get(f"{API}/specimens", headers=headers, params={"sort": "barcode", **params})
    assert answer.status_code == 200, answer.text
    return [s["barcode"] for s in answer.json()["items"]]


def test_a_site_grant_reads_that_sites_participants_and_specimens_only(two_sites, client) -> None:
    tech = _token(two_sites, "tess", ["technician"], ["site:SH"])
    assert _barcodes(client, tech) == ["SH-1", "SH-2"]
    assert client.get(f"{API}/specimens", headers=tech).json()["total"] == 2
    assert [p["code"] for p in client.get(f"{API}/participants", headers=tech).json()["items"]] == ["P000001"]
    assert client.get(f"{API}/participants/P000001", headers=tech).status_code == 200
    outside, unknown = (client.get(f"{API}/participants/{c}", headers=tech) for c in ("P000002", "P999999"))
    assert outside.status_code == unknown.status_code == 404
    assert outside.json()["detail"].replace("P000002", "?") == unknown.json()["detail"].replace("P999999", "?")
    assert client.get(f"{API}/specimens/SH-1", headers=tech).status_code == 200
    assert client.get(f"{API}/specimens/BJ-1", headers=tech).status_code == 404
    assert client.get(f"{API}/specimens/BJ-1/history", headers=tech).status_code == 404
    exported = client.get(f"{API}/specimens/export", headers=tech, params={"format": "csv"})
    assert [line.split(",")[0] for line in exported.content.decode("utf-8-sig").splitlines()[1:]] == \
        ["SH-1", "SH-2"]
    # A scoped grant confers reads only: no storage, no writes, no pages that do not filter by scope.
    assert client.get(f"{API}/containers", headers=tech).status_code == 403
    assert client.post(f"{API}/specimens/SH-1/checkout", headers=tech, json={}).status_code == 403
    assert client.get("/biobank/storage", headers=tech).status_code == 403


def test_a_collection_grant_reads_what_is_stored_under_its_storage_path(two_sites, client) -> None:
    tech = _token(two_sites, "cora", ["clinician"], ["collection:TANK-01"])
    assert _barcodes(client, tech) == ["BJ-1"]
    assert [p["code"] for p in client.get(f"{API}/participants", headers=tech).json()["items"]] == ["P000002"]
    organisations.grant_scoped_role(two_sites, "cora", "clinician", "site:SH", actor="root")
    widened = {"Authorization": "Bearer " + auth.create_token(two_sites, "cora", "t2").token}
    assert _barcodes(client, widened) == ["BJ-1", "SH-1", "SH-2"]
    nowhere = _token(two_sites, "nora", ["clinician"], ["collection:NO/SUCH/PATH"])
    assert _barcodes(client, nowhere) == [] and client.get(f"{API}/specimens", headers=nowhere).json()["total"] == 0


def test_a_researcher_counts_and_a_partner_sees_nothing_of_the_bank(two_sites, client) -> None:
    researcher = _token(two_sites, "rhea", ["researcher"])
    counts = client.get(f"{API}/specimens", headers=researcher, params={"type": "SER"})
    assert counts.status_code == 200 and counts.json()["total"] == 3 and counts.json()["items"] == []
    for params in ({"participant": "P000001"}, {"container": "FRZ-01"}):
        assert client.get(f"{API}/specimens", headers=researcher, params=params).status_code == 403
    for path in ("/specimens/SH-1", "/specimens/export", "/participants", "/participants/P000001",
                 "/containers", "/box-map?path=FRZ-01/R01/BOX-1"):
        assert client.get(API + path, headers=researcher).status_code == 403, path
    partner = _token(two_sites, "pia", ["partner"])
    for path in ("/specimens", "/specimens/SH-1", "/specimens/export", "/participants", "/participants/P000001",
                 "/containers", "/occupancy?path=FRZ-01"):
        assert client.get(API + path, headers=partner).status_code == 403, path
    scoped_researcher = _token(two_sites, "sam", ["researcher"], ["site:BJ"])
    assert client.get(f"{API}/specimens", headers=scoped_researcher).json() == \
        {"total": 1, "limit": 50, "offset": 0, "items": []}
