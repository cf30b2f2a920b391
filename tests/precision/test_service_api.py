"""Reports kept, signed (password re-entered, ledgered), immutable, re-run as versions, exported as FHIR;
through the service on SQLite and PostgreSQL and through the HTTP API."""

from __future__ import annotations

import pytest

from lifebank.audit import service as audit
from lifebank.auth import service as auth
from lifebank.config import Settings
from lifebank.errors import AuthenticationRequired, Conflict, NotFound
from lifebank.precision import service
from lifebank.precision.fhir import report_bundle, validate
from lifebank.precision.run import Options

from .conftest import EXAMPLES

PASSWORD = "Correct-Horse-42"


def brca_files():
    return {"vcf": (EXAMPLES / "T001-BRCA.grch38.vcf.gz").read_bytes(),
            "cna": (EXAMPLES / "T001-BRCA.grch38.cna.tsv").read_bytes(),
            "fusions": (EXAMPLES / "T001-BRCA.grch38.fusions.tsv").read_bytes()}


def test_report_is_kept_signed_immutable_rerun_and_exported(db, tmp_path):
    auth.create_user(db, "drlee", PASSWORD, ["clinician"])
    settings = Settings(data_dir=tmp_path, database_url=db.url, secret_key="k" * 32)
    made = service.create_report(db, None, brca_files(), Options(tumour_type="BRCA"), actor="drlee")
    assert (made["report"], made["version"], made["status"]) == ("PR-000001", 1, "draft")
    with pytest.raises(AuthenticationRequired):
        service.sign_report(db, settings, "PR-000001", username="drlee", password="wrong", meaning="approval")
    signed = service.sign_report(db, settings, "PR-000001", username="drlee", password=PASSWORD, meaning="approval")
    assert (signed["status"], signed["signed_by"], signed["signature_meaning"]) == ("final", "drlee", "approval")
    with pytest.raises(Conflict, match="already signed and final"):
        service.sign_report(db, settings, "PR-000001", username="drlee", password=PASSWORD, meaning="approval")
    again = service.rerun_report(db, None, "PR-000001", actor="drlee")
    assert (again["version"], again["status"], again["changes"]) == (2, "draft", [])
    first = service.get_report(db, "PR-000001", 1)
    assert first["status"] == "final" and first["content_sha256"] == made["content_sha256"]
    actions = [e.action for e in audit.recent_events(db, entity_types=("precision_report",), limit=10)]
    assert sorted(actions) == ["precision.report.create", "precision.report.rerun", "precision.report.sign"]
    bundle = report_bundle(first)
    validate(bundle)
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert kinds[0] == "DiagnosticReport" and kinds.count("Observation") > 10
    assert bundle["entry"][0]["resource"]["status"] == "final"


def test_links_to_unknown_participant_are_refused(db):
    with pytest.raises(NotFound, match="participant P-NOPE does not exist"):
        service.create_report(db, None, brca_files(), Options(tumour_type="BRCA"), actor="x", participant="P-NOPE")


def test_api_create_sign_and_fhir(client, users, db):
    headers = users.headers("clinician", "drwu")
    auth.reset_password(db, "drwu", PASSWORD, actor="test")
    files = {k: (k, v) for k, v in brca_files().items()}
    made = client.post("/api/v1/precision/reports", data={"tumour_type": "BRCA"}, files=files, headers=headers)
    assert made.status_code == 201, made.text
    number = made.json()["report"]
    pik3ca = [v for v in made.json()["content"]["variants"] if v["gene"] == "PIK3CA"][0]
    assert pik3ca["tier"] == "I"
    assert client.get(f"/api/v1/precision/reports/{number}/fhir", headers=headers).status_code == 409
    signed = client.post(f"/api/v1/precision/reports/{number}/sign", json={"password": PASSWORD}, headers=headers)
    assert signed.status_code == 200 and signed.json()["status"] == "final"
    fhir = client.get(f"/api/v1/precision/reports/{number}/fhir", headers=headers)
    assert fhir.status_code == 200 and fhir.json()["resourceType"] == "Bundle"
    pdf = client.get(f"/api/v1/precision/reports/{number}/pdf?lang=zh_Hans", headers=headers)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    bad = client.post("/api/v1/precision/reports", data={"tumour_type": "NOPE"}, files=files, headers=headers)
    assert bad.status_code == 422 and "unknown OncoTree code" in bad.json()["detail"]
    kb = client.get("/api/v1/precision/kb", headers=headers)
    assert {row["source"]: row["origin"] for row in kb.json()} == {"moalmanac": "vendored", "hotspots": "vendored",
                                                                   "oncotree": "vendored"}
    assert client.post("/api/v1/precision/kb/load", json={"folder": "/tmp"}, headers=headers).status_code == 403
    researcher = users.headers("researcher")
    assert client.get("/api/v1/precision/reports", headers=researcher).status_code == 403
