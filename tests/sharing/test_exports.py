"""De-identified exports: per-recipient pseudonyms, generalisation, k-anonymity with its report, consent re-checked
against the purpose, every format readable by its field's own library, ledgered with SHA-256, downloads only by
the recipient."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from google.protobuf.json_format import Parse
from phenopackets import Phenopacket
from sqlalchemy import select

from lifebank.audit.models import LedgerChange, LedgerEvent
from lifebank.errors import Conflict
from lifebank.sharing import beacon, deid, exports

from .conftest import PEOPLE


def _release(bank, user: str, purposes: str = "HMB", dataset: str = "biobank") -> exports.Source:
    grant = beacon.grant_records(bank.db, dataset, user, purposes=purposes, actor="test")
    return exports.from_release(bank.db, grant)


def _rows(folder: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO((folder / "participants.csv").read_text())))


def test_csv_export_is_pseudonymous_generalised_k_anonymous_and_ledgered(bank, users, tmp_path) -> None:
    users("partner", "partner1")
    users("partner", "partner2")
    one = exports.export(bank.db, bank.settings.data_dir, _release(bank, "partner1"), "csv", actor="test",
                         out=tmp_path / "p1")
    exports.export(bank.db, bank.settings.data_dir, _release(bank, "partner2"), "csv", actor="test",
                   out=tmp_path / "p2")
    report = one["report"]
    assert report["records_in"] == PEOPLE and report["consent_refused"] == 0
    assert report["released"] + report["suppressed"] == PEOPLE and report["suppressed"] > 0
    assert "birth year → 5-year band" in report["generalised"]
    rows = _rows(tmp_path / "p1")
    assert len(rows) == report["released"] == one["rows"]
    text = "".join(p.read_text() for p in (tmp_path / "p1").glob("*.csv"))
    assert "P00" not in text and "BLD0" not in text and "Shanghai" not in text  # no code, barcode or site
    assert {r["region"] for r in rows} <= {"East China"}
    assert all(r["birth_band"].count("-") == 1 for r in rows)
    released = [deid.Released(r["pseudonym"], r["sex"], r["birth_band"], r["region"], r["diagnosis"] or None)
                for r in rows]
    assert deid.k_of(released) >= 5
    # two recipients cannot link: the same participant has different pseudonyms; only the bank maps back
    key1, key2 = exports.recipient_key(bank.db, "partner1"), exports.recipient_key(bank.db, "partner2")
    assert key1 != key2
    ids1, ids2 = {r["pseudonym"] for r in rows}, {r["pseudonym"] for r in _rows(tmp_path / "p2")}
    assert not ids1 & ids2
    back = {deid.pseudonym(key1, "participant", f"P{i:04d}"): f"P{i:04d}" for i in range(PEOPLE)}
    assert ids1 <= set(back)
    # the ledger holds recipient, release, counts and each file's SHA-256, equal to the files written
    with bank.db.session() as session:
        event = session.scalars(select(LedgerEvent).where(LedgerEvent.action == "share.export")
                                .order_by(LedgerEvent.seq)).first()
        change = json.loads(session.scalar(select(LedgerChange.change_json).where(LedgerChange.seq == event.seq)))
    assert change["recipient"] == "partner1" and change["rows"] == one["rows"]
    for f in change["files"]:
        assert hashlib.sha256((tmp_path / "p1" / f["name"]).read_bytes()).hexdigest() == f["sha256"]


def test_consent_is_rechecked_against_the_purpose(bank, users) -> None:
    users("partner", "partner1")
    # population-origins research: HMB consents exclude it (DUO), GRU ones allow it -> only the even half
    result = exports.export(bank.db, bank.settings.data_dir, _release(bank, "partner1", "POA"), "csv",
                            actor="test", k=2)
    report = result["report"]
    assert report["consent_refused"] == PEOPLE // 2
    assert report["released"] + report["suppressed"] == PEOPLE // 2
    # a purpose no consent covers: refused, with the reason
    users("partner", "partner3")
    with pytest.raises(Conflict, match="excluded by their consent"):
        exports.export(bank.db, bank.settings.data_dir, _release(bank, "partner3", "NRES"), "csv", actor="test")


def test_data_that_cannot_reach_k_is_suppressed_or_refused(bank, users) -> None:
    users("partner", "partner1")
    source = _release(bank, "partner1")
    strict = exports.export(bank.db, bank.settings.data_dir, source, "csv", actor="test", k=8)
    report = strict["report"]
    assert report["further_generalised"] > 0  # 5-year bands too small for k = 8: 10-year bands instead
    assert "small groups: 10-year band and diagnosis one level up" in report["generalised"]
    assert report["released"] + report["suppressed"] == PEOPLE
    with pytest.raises(Conflict, match="would not reach k = 90"):
        exports.export(bank.db, bank.settings.data_dir, source, "csv", actor="test", k=90)


def test_every_format_reads_back_with_its_own_library(bank, users, tmp_path) -> None:
    from fhir.resources.R4B.patient import Patient
    from fhir.resources.R4B.specimen import Specimen

    users("partner", "partner1")
    source = _release(bank, "partner1")
    parquet = exports.export(bank.db, bank.settings.data_dir, source, "parquet", actor="test", out=tmp_path / "pq")
    table = pq.read_table(tmp_path / "pq" / "participants.parquet")
    assert table.num_rows == parquet["rows"] and "pseudonym" in table.column_names
    fhir = exports.export(bank.db, bank.settings.data_dir, source, "fhir", actor="test", out=tmp_path / "fhir")
    patients = [Patient.model_validate(json.loads(line))
                for line in (tmp_path / "fhir" / "Patient.ndjson").read_text().splitlines()]
    assert len(patients) == fhir["rows"] and all(p.birthDate is None for p in patients)
    specimens = [Specimen.model_validate(json.loads(line))
                 for line in (tmp_path / "fhir" / "Specimen.ndjson").read_text().splitlines()]
    assert {s.subject.reference for s in specimens} <= {f"Patient/{p.id}" for p in patients}
    packets = exports.export(bank.db, bank.settings.data_dir, source, "phenopackets", actor="test",
                             out=tmp_path / "pp")
    files = sorted((tmp_path / "pp" / "phenopackets").glob("*.json"))
    assert len(files) == packets["rows"]
    packet = Parse(files[0].read_text(), Phenopacket())
    assert packet.meta_data.phenopacket_schema_version == "2.0"
    assert packet.subject.id == packet.id and packet.biosamples[0].sampled_tissue.id.startswith("UBERON:")


def test_recipients_download_only_their_own_exports(client, bank, users) -> None:
    manager = users.headers("biobank_manager", "mgr")
    p1 = users.headers("partner", "partner1")
    p2 = users.headers("partner", "partner2")
    grant = client.post("/api/v1/sharing/releases", json={"dataset": "biobank", "username": "partner1",
                                                          "purposes": "HMB"}, headers=manager)
    assert grant.status_code == 201, grant.text
    made = client.post("/api/v1/sharing/exports", json={"format": "csv", "release": grant.json()["id"]},
                       headers=manager)
    assert made.status_code == 201, made.text
    export_id = made.json()["id"]
    own = client.get("/api/v1/sharing/exports", headers=p1).json()
    assert [e["id"] for e in own] == [export_id]
    assert client.get("/api/v1/sharing/exports", headers=p2).json() == []
    url = f"/api/v1/sharing/exports/{export_id}/files/participants.csv"
    got = client.get(url, headers=p1)
    assert got.status_code == 200 and got.text.startswith("pseudonym,")
    assert got.headers["digest"] == "sha-256=" + hashlib.sha256(got.content).hexdigest()
    refused = client.get(url, headers=p2)
    assert refused.status_code == 403
    assert "another recipient" in refused.json()["detail"]
    assert client.post("/api/v1/sharing/exports", json={"format": "csv", "release": 1}, headers=p1).status_code \
        == 403
