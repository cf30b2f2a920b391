"""Scoped grants in the pages (issue 11): a technician or clinician whose grant is limited to a site or a
storage collection sees, in the specimen and participant pages, the header search and the dashboard, exactly
what the API shows them — lists and counts filtered, out-of-scope pages answered 404 as an unknown one — and
nothing of storage (a scoped grant confers no storage read, as in the API)."""

from __future__ import annotations

import re

import pytest

from lifebank.auth import service as auth
from lifebank.biobank import service

from .biobank_fixtures import ACTOR, add_participant

PASSWORD = "Correct-horse-battery-9"


@pytest.fixture
def two_sites(bank):
    """SH's P000001: SH-1 in FRZ-01, SH-2 unstored; BJ's P000002: BJ-1 in TANK-01; BJ's P000003: BJ-2 in FRZ-01."""
    add_participant(bank, "P000003", site="BJ")
    for barcode, participant, location in (("SH-1", "P000001", "FRZ-01/R01/BOX-1/A1"), ("SH-2", "P000001", None),
                                           ("BJ-1", "P000002", "TANK-01/RL1/CB-1/1"),
                                           ("BJ-2", "P000003", "FRZ-01/R01/BOX-2/A1")):
        service.register_specimen(bank, barcode, participant=participant, type="SER", quantity=1,
                                  location=location, actor=ACTOR)
    return bank


def _as(db, username: str, role: str, scopes: list[str] | None = None) -> dict[str, str]:
    auth.create_user(db, username, PASSWORD, [role], scopes=scopes)
    return {"Authorization": "Bearer " + auth.create_token(db, username, "t").token}


def _barcodes(html: str) -> list[str]:
    return sorted(set(re.findall(r'href="/biobank/specimens/((?:SH|BJ)-\d)"', html)))


def _codes(html: str) -> list[str]:
    return sorted(set(re.findall(r'href="/biobank/participants/(P\d{6})"', html)))


def test_a_site_grant_lists_and_opens_only_its_sites_specimens_and_participants(two_sites, client) -> None:
    tess = _as(two_sites, "tess", "technician", ["site:SH"])
    listed = client.get("/biobank/specimens", headers=tess)
    assert listed.status_code == 200 and _barcodes(listed.text) == ["SH-1", "SH-2"]
    assert "/biobank/specimens/BJ" not in client.get("/biobank/specimens", headers=tess, params={"type": "SER"}).text
    exported = client.get("/biobank/specimens/export", headers=tess, params={"format": "csv"})
    lines = exported.content.decode("utf-8-sig").splitlines()[1:]
    assert sorted(line.split(",")[0] for line in lines) == ["SH-1", "SH-2"]
    assert client.get("/biobank/specimens/SH-1", headers=tess).status_code == 200
    outside, unknown = (client.get(f"/biobank/specimens/{b}", headers=tess) for b in ("BJ-1", "XX-9"))
    assert outside.status_code == unknown.status_code == 404
    assert outside.text.replace("BJ-1", "?") == unknown.text.replace("XX-9", "?")
    people = client.get("/biobank/participants", headers=tess)
    assert people.status_code == 200 and _codes(people.text) == ["P000001"]
    assert client.get("/biobank/participants/P000001", headers=tess).status_code == 200
    assert client.get("/biobank/participants/P000002", headers=tess).status_code == 404
    # The navigation offers the scope-aware pages, and nothing of storage; no write form is shown.
    nav = client.get("/dashboard", headers=tess).text
    assert 'href="/biobank/specimens"' in nav and 'href="/biobank/storage"' not in nav
    assert 'action="/biobank/specimens/SH-1/checkout"' not in client.get("/biobank/specimens/SH-1",
                                                                         headers=tess).text


def test_a_collection_grant_sees_what_is_stored_there_and_its_participants_tubes_there_only(two_sites,
                                                                                          client) -> None:
    cora = _as(two_sites, "cora", "clinician", ["collection:FRZ-01"])
    assert _barcodes(client.get("/biobank/specimens", headers=cora).text) == ["BJ-2", "SH-1"]
    assert _codes(client.get("/biobank/participants", headers=cora).text) == ["P000001", "P000003"]
    page = client.get("/biobank/participants/P000001", headers=cora)
    # SH-2 (not stored under FRZ-01) is neither listed nor counted on the participant's page.
    assert page.status_code == 200 and _barcodes(page.text) == ["SH-1"]
    assert re.search(r"<dt>Specimens</dt><dd>1</dd>", page.text)
    assert client.get("/biobank/specimens/SH-2", headers=cora).status_code == 404
    assert client.get("/biobank/participants/P000002", headers=cora).status_code == 404


def test_storage_pages_stay_closed_to_scoped_grants_as_the_storage_api_is(two_sites, client) -> None:
    tess = _as(two_sites, "tess", "technician", ["collection:FRZ-01"])
    for path in ("/biobank/storage", "/biobank/storage?path=FRZ-01/R01/BOX-1", "/biobank/storage/manage"):
        assert client.get(path, headers=tess).status_code == 403, path
    assert client.get("/api/v1/biobank/box-map", headers=tess, params={"path": "FRZ-01/R01/BOX-1"}).status_code == 403


def test_find_anything_returns_no_hit_outside_the_scope(two_sites, client) -> None:
    tess = _as(two_sites, "tess", "technician", ["site:SH"])
    inside = client.get("/find", headers=tess, params={"q": "sh-1"}, follow_redirects=False)
    assert inside.status_code == 303 and inside.headers["location"] == "/biobank/specimens/SH-1"
    assert client.get("/find", headers=tess, params={"q": "P000001"},
                      follow_redirects=False).headers["location"] == "/biobank/participants/P000001"
    for text in ("BJ-1", "P000002", "FRZ-01/R01/BOX-1/A1", "FRZ-01"):
        answer = client.get("/find", headers=tess, params={"q": text}, follow_redirects=False)
        assert answer.status_code == 200 and "/biobank/" not in re.sub(r'href="/biobank/(specimens|participants)"',
                                                                      "", answer.text.split("<main", 1)[1]), text
    manager = _as(two_sites, "mara", "biobank_manager")
    assert client.get("/find", headers=manager, params={"q": "BJ-1"},
                      follow_redirects=False).headers["location"] == "/biobank/specimens/BJ-1"


def test_the_dashboard_counts_within_the_scope_and_never_shows_the_bank_wide_snapshot(two_sites, client) -> None:
    from lifebank.biobank import statistics

    statistics.refresh(two_sites)
    tess = _as(two_sites, "tess", "technician", ["site:BJ"])
    page = client.get("/dashboard", headers=tess).text
    assert 'id="scoped-specimens"' in page and 'id="panel-specimens"' not in page and 'id="panel-storage"' not in page
    assert re.search(r'id="scoped-specimens"><a href="/biobank/specimens">2<', page)
    assert re.search(r'id="scoped-participants"><a href="/biobank/participants">2<', page)
    assert "technician@site:BJ" in page
    manager = client.get("/dashboard", headers=_as(two_sites, "mara", "biobank_manager")).text
    assert 'id="scoped-specimens"' not in manager and "panel-specimens" in manager
    nobody = client.get("/dashboard", headers=_as(two_sites, "pia", "partner")).text
    assert "scoped-specimens" not in nobody
