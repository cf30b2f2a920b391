"""Reports with the rest of the bank: tumour type from the clinical record, a CIViC release loaded and a re-run
that shows what changed, the CLI's exact interface, the pages, and the demo."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from datetime import date

import pytest
from typer.testing import CliRunner

from lifebank.audit import service as audit
from lifebank.auth import service as auth
from lifebank.biobank import service as biobank
from lifebank.precision import kb_store, service
from lifebank.precision.run import Options

from .conftest import EXAMPLES, FIXTURES, vep_vcf

PASSWORD = "Correct-Horse-42"
CIVIC = FIXTURES / "01-Nov-2026-ClinicalEvidenceSummaries.tsv"


def quiet(_description, _total, _unit="rows"):
    from contextlib import nullcontext

    return nullcontext(lambda n: None)


def test_tumour_type_comes_from_the_clinical_record(db, tmp_path):
    from lifebank.clinical.fhir_import import import_fhir_text

    biobank.register_participant(db, "P900", sex="F", birth_year=1970, site="SH", actor="t")
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": {"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1970-01-01",
                      "identifier": [{"system": "urn:lifebank:participant", "value": "P900"}]}},
        {"resource": {"resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/p1"},
                      "code": {"coding": [{"system": "http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl",
                                           "code": "C3224", "display": "Melanoma"}]},
                      "onsetDateTime": "2024-03-01"}}]}
    import_fhir_text(db, "p900.json", json.dumps(bundle), actor="t")
    vcf = vep_vcf(tmp_path / "t.vcf", [("7", 140753336, "A", "T", "BRAF", "missense_variant", "p.Val600Glu")])
    made = service.create_report(db, None, {"vcf": vcf.read_bytes()}, Options(tumour_type=""), actor="t",
                                 participant="P900")
    assert made["tumour_type"] == "MEL" and made["content"]["variants"][0]["tier"] == "I"


def test_civic_release_is_loaded_ledgered_and_a_rerun_lists_the_changes(db, tmp_path):
    data_dir = tmp_path / "data"
    vcf = vep_vcf(tmp_path / "t.vcf", [("7", 55191822, "T", "G", "EGFR", "missense_variant", "p.Leu858Arg")])
    made = service.create_report(db, data_dir, {"vcf": vcf.read_bytes()}, Options(tumour_type="LUAD"), actor="t")
    assert not [t for t in made["content"]["variants"][0]["therapies"] if t["source"] == "CIViC"]
    release = tmp_path / "civic-release"
    release.mkdir()
    shutil.copy(CIVIC, release / CIVIC.name)
    loaded = service.kb_load(db, data_dir, release, actor="curator")
    assert [(row["source"], row["version"]) for row in loaded] == [("civic", "01-Nov-2026")]
    status = {row["source"]: row for row in service.kb_status(db, data_dir)}
    assert status["civic"]["origin"] == "loaded" and status["moalmanac"]["origin"] == "vendored"
    again = service.rerun_report(db, data_dir, made["report"], actor="t")
    egfr = again["content"]["variants"][0]
    civic = [t for t in egfr["therapies"] if t["source"] == "CIViC"]
    assert [(t["therapy"], t["source_id"], t["level"], t["in_tumour_type"], t["pmids"]) for t in civic] == [
        ("Afatinib", "EID2997", "A", True, ["23982599"])]
    changed = next(c for c in again["changes"] if c["change"] == "changed")
    assert changed["biomarker"] == "EGFR p.L858R" and changed["therapies_added"] == [
        "Afatinib (sensitivity, A, CIViC)"]
    assert any(c["change"] == "knowledge base" and c["biomarker"] == "CIViC" for c in again["changes"])
    actions = [e.action for e in audit.recent_events(db, entity_types=("precision_kb",), limit=5)]
    assert actions == ["precision.kb.load"]
    assert service.get_report(db, made["report"], 1)["content_sha256"] == made["content_sha256"]


def test_cli_report_prints_the_exact_interface(tmp_path, monkeypatch):
    from lifebank.cli.main import app

    monkeypatch.setenv("LIFEBANK_DATA_DIR", str(tmp_path))
    result = CliRunner().invoke(app, ["precision", "report", "--vcf", str(EXAMPLES / "T001-BRCA.grch38.vcf.gz"),
                                      "--cna", str(EXAMPLES / "T001-BRCA.grch38.cna.tsv"), "--fusions",
                                      str(EXAMPLES / "T001-BRCA.grch38.fusions.tsv"), "--tumour-type", "BRCA",
                                      "--genome", "GRCh38", "--format", "json"])
    assert result.exit_code == 0, result.output
    content = json.loads(result.output)
    assert list(content)[:6] == ["tumour_type", "tmb", "variants", "cna", "fusions", "knowledge_base"]
    assert len(content["variants"]) == 196
    first = content["variants"][0]
    assert list(first)[:8] == ["gene", "protein_change", "chrom", "pos", "ref", "alt", "tier", "therapies"]
    pik3ca = next(v for v in content["variants"] if v["gene"] == "PIK3CA")
    assert pik3ca["tier"] == "I" and list(pik3ca["therapies"][0])[:4] == ["therapy", "direction", "level", "source"]
    assert {c["gene"] for c in content["cna"] if c["tier"] == "I"} == {"ERBB2"}
    html = CliRunner().invoke(app, ["precision", "report", "--vcf", str(EXAMPLES / "T001-BRCA.grch38.vcf.gz"),
                                    "--tumour-type", "BRCA", "--format", "html"])
    assert html.exit_code == 0 and "PIK3CA p.H1047R" in html.output
    pdf = tmp_path / "r.pdf"
    done = CliRunner().invoke(app, ["precision", "report", "--vcf", str(EXAMPLES / "T001-BRCA.grch38.vcf.gz"),
                                    "--tumour-type", "BRCA", "--format", "pdf", "-o", str(pdf)])
    assert done.exit_code == 0 and pdf.read_bytes().startswith(b"%PDF")
    bad = subprocess.run([sys.executable, "-m", "lifebank", "precision", "report", "--vcf",
                          str(EXAMPLES / "T001-BRCA.grch38.vcf.gz"), "--tumour-type", "NOPE", "--format", "json"],
                         capture_output=True, text=True, env={**os.environ, "LIFEBANK_DATA_DIR": str(tmp_path)})
    assert bad.returncode == 1 and "unknown OncoTree code 'NOPE'" in bad.stderr and "Traceback" not in bad.stderr


def test_pages_list_show_and_sign_with_errors_inline(client, db):
    auth.create_user(db, "drsun", PASSWORD, ["clinician"], locale="zh_Hans")
    made = service.create_report(db, None, {"vcf": (EXAMPLES / "T001-BRCA.grch38.vcf.gz").read_bytes()},
                                 Options(tumour_type="BRCA"), actor="t")
    login = client.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', login.text).group(1)
    client.post("/login", data={"username": "drsun", "password": PASSWORD, "csrf_token": csrf})
    listing = client.get("/precision/reports")
    assert listing.status_code == 200 and made["report"] in listing.text and "肿瘤报告" in listing.text
    page = client.get(f"/precision/reports/{made['report']}")
    assert page.status_code == 200 and "PIK3CA" in page.text and "签署" in page.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    wrong = client.post(f"/precision/reports/{made['report']}/sign",
                        data={"password": "nope", "meaning": "approval", "csrf_token": csrf})
    assert wrong.status_code == 422 and "sign-error" in wrong.text
    signed = client.post(f"/precision/reports/{made['report']}/sign",
                         data={"password": PASSWORD, "meaning": "approval", "csrf_token": csrf})
    assert signed.status_code == 200 and "最终版（已签署）" in signed.text
    pdf = client.get(f"/api/v1/precision/reports/{made['report']}/pdf?lang=zh_Hans")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert client.get(f"/api/v1/precision/reports/{made['report']}/fhir").json()["type"] == "collection"
    assert login.status_code == 200
    vcf = (EXAMPLES / "T001-BRCA.grch38.vcf.gz").read_bytes()
    refused = client.post("/precision/reports", data={"tumour_type": "BREASTX", "csrf_token": csrf},
                          files={"vcf": ("t.vcf.gz", vcf)})
    assert refused.status_code == 422, refused.text[:3000]
    assert 'id="report-error">未知的 OncoTree 代码 &#39;BREASTX&#39;' in refused.text
    made_here = client.post("/precision/reports", data={"tumour_type": "BRCA", "csrf_token": csrf},
                            files={"vcf": ("t.vcf.gz", vcf)}, follow_redirects=False)
    assert made_here.status_code == 303 and made_here.headers["location"] == "/precision/reports/PR-000002"
    found = client.get("/find", params={"q": "pr-000002"}, follow_redirects=False)
    assert found.status_code in (302, 303, 307) and found.headers["location"] == "/precision/reports/PR-000002"


def test_demo_loads_two_reports_once_one_signed(db):
    from lifebank.demo import DEMO_PASSWORD
    from lifebank.precision.demo import load_demo

    auth.create_user(db, "clinician", DEMO_PASSWORD, ["clinician"])
    biobank.register_participant(db, "P000001", sex="F", birth_year=1960, site="SH", actor="t")
    load_demo(db, quiet)
    load_demo(db, quiet)
    reports = service.list_reports(db)
    assert sorted((r["label"], r["status"]) for r in reports) == [("T001-BRCA", "final"), ("T001-COAD", "draft")]
    assert kb_store.VENDORED.joinpath("NOTICE").is_file()
    assert date.today().year >= 2026


def _cli(args, env, stdin=None):
    return subprocess.run([sys.executable, "-m", "lifebank", "precision", *args], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=180, input=stdin)


@pytest.mark.slow
def test_cli_keeps_signs_reruns_and_exports_a_report(db, db_url, tmp_path):
    auth.create_user(db, "drfan", PASSWORD, ["clinician"])
    biobank.register_participant(db, "P777", sex="M", birth_year=1955, site="SH", actor="t")
    env = {"LIFEBANK_DATABASE_URL": db_url, "LIFEBANK_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "200"}
    kept = _cli(["report", "--vcf", str(EXAMPLES / "T001-COAD.grch38.vcf.gz"), "--tumour-type", "COAD",
                 "--participant", "P777", "--format", "json"], env)
    assert kept.returncode == 0, kept.stderr
    assert json.loads(kept.stdout)["report"] == {"id": "PR-000001", "version": 1, "status": "draft"}
    listed = _cli(["reports", "--format", "json"], env)
    assert [(r["report"], r["participant"]) for r in json.loads(listed.stdout)] == [("PR-000001", "P777")]
    refused = _cli(["fhir", "PR-000001"], env)
    assert refused.returncode == 1 and "only a final report is exported" in refused.stderr
    signed = _cli(["sign", "PR-000001", "--user", "drfan", "--password-stdin"], env, stdin=PASSWORD + "\n")
    assert signed.returncode == 0 and "PR-000001 version 1 signed by drfan: final" in signed.stdout
    fhir = _cli(["fhir", "PR-000001"], env)
    assert fhir.returncode == 0 and json.loads(fhir.stdout)["entry"][0]["resource"]["status"] == "final"
    release = tmp_path / "civic"
    release.mkdir()
    shutil.copy(CIVIC, release / CIVIC.name)
    assert _cli(["kb", "load", str(release)], env).returncode == 0
    again = _cli(["rerun", "PR-000001", "--format", "json"], env)
    assert again.returncode == 0, again.stderr
    body = json.loads(again.stdout)
    assert body["version"] == 2 and body["status"] == "draft"
    assert any(c["biomarker"] == "BRAF p.V600E" and "Encorafenib + Cetuximab (sensitivity, A, CIViC)"
               in c["therapies_added"] for c in body["changes"])
