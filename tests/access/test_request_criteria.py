"""SPREC and freeze-thaw criteria in the request form (and the CLI), and the HGR report's diagnosis column
from the clinical domain's records (issue 11, items 5 and 7)."""

from __future__ import annotations

import json
import re

import pytest

from lifebank.access import criteria, service
from lifebank.clinical.fhir_import import import_fhir_text
from lifebank.errors import ValidationFailed

from .access_fixtures import ACTOR, PASSWORD, Bank


def _log_in(client, username: str) -> str:
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    answer = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token},
                         follow_redirects=False)
    assert answer.status_code == 303, answer.text[:300]
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get("/access/requests/new").text).group(1)


def _form(token: str, **changes: str) -> dict[str, object]:
    values: dict[str, object] = {"csrf_token": token, "title": "Serum proteomics", "organisation": "Hospital A",
                                 "purposes": ["DUO:0000006"], "types": ["SER"], "material": "1",
                                 "per_participant": "1"}
    values.update(changes)
    return values


def test_the_form_records_sprec_and_freeze_thaw_criteria_and_allocation_honours_them(bank: Bank, client) -> None:
    token = _log_in(client, "alice")
    page = client.get("/access/requests/new").text
    assert 'name="sprec_prefix"' in page and 'name="max_freeze_thaw"' in page
    created = client.post("/access/requests/new", data=_form(token, sprec_prefix="ser-sst-a", max_freeze_thaw="0"),
                          follow_redirects=False)
    assert created.status_code == 303, created.text[:500]
    request_id = int(created.headers["location"].split("/")[3].split("?")[0])
    view = service.request_view(bank.db, request_id, bank.principal("alice"))
    assert (view["sprec_prefix"], view["max_freeze_thaw"]) == ("SER-SST-A", 0)
    shown = client.get(f"/access/requests/{request_id}").text
    assert 'id="request-sprec">SER-SST-A<' in shown and 'id="request-freeze-thaw">0<' in shown
    # Every fixture tube is SER-SST-A-D-N-B-A, never thawed: a prefix they do not carry leaves none to allocate.
    other = client.post("/access/requests/new", data=_form(token, sprec_prefix="SER-SST-B"), follow_redirects=False)
    other_id = int(other.headers["location"].split("/")[3].split("?")[0])
    manager, rev2 = bank.principal("manager"), bank.principal("rev2")
    for rid in (request_id, other_id):
        service.appoint_committee(bank.db, rid, ["rev2"], principal=manager)
        service.cast_vote(bank.db, rid, "approve", principal=rev2)
        service.add_document(bank.db, rid, kind="agreement", filename="mta.pdf", content=b"%PDF",
                             content_type="application/pdf", principal=manager)
        service.sign_agreement(bank.db, rid, principal=manager)
    assert service.allocate(bank.db, request_id, principal=manager)["allocated"] > 0
    with pytest.raises(ValidationFailed):
        service.allocate(bank.db, other_id, principal=manager)


@pytest.mark.parametrize("field,value,words", [
    ("sprec_prefix", "SER SST", "write the first fields of a SPREC code"),
    ("max_freeze_thaw", "-1", "whole number of 0 or more, not -1"),
    ("max_freeze_thaw", "two", "whole number of 0 or more, not two"),
])
def test_a_bad_criterion_is_refused_in_the_form_naming_it_and_nothing_is_written(bank: Bank, client, field: str,
                                                                                 value: str, words: str) -> None:
    token = _log_in(client, "alice")
    answer = client.post("/access/requests/new", data=_form(token, **{field: value}))
    assert answer.status_code == 422 and words in answer.text
    assert f'value="{value}"' in answer.text  # what was typed stays in the form
    assert service.list_requests(bank.db, bank.principal("manager")) == []


def test_criteria_parsers() -> None:
    assert criteria.sprec_prefix(" ser-sst ") == "SER-SST" and criteria.sprec_prefix("") is None
    assert criteria.max_freeze_thaw("3") == 3 and criteria.max_freeze_thaw(" ") is None
    with pytest.raises(ValidationFailed):
        criteria.sprec_prefix("SER--SST")
    with pytest.raises(ValidationFailed) as refused:
        criteria.max_freeze_thaw("1.5")
    assert "1.5" in refused.value.render("zh_Hans") and "冻融" in refused.value.render("zh_Hans")


def test_the_cli_takes_the_same_criteria(bank: Bank, db_url: str, tmp_path) -> None:
    from .test_cli import run

    env = {"LIFEBANK_DATABASE_URL": db_url, "LIFEBANK_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "200"}
    made = run(["access", "request", "create", "--title", "T", "--org", "Hospital A", "--purpose", "HMB",
                "--specimen-type", "SER", "--sprec", "ser-sst", "--max-freeze-thaw", "1", "--format", "json"], env)
    assert made.returncode == 0, made.stderr
    view = service.request_view(bank.db, json.loads(made.stdout)["id"], bank.principal("manager"))
    assert (view["sprec_prefix"], view["max_freeze_thaw"]) == ("SER-SST", 1)
    bad = run(["access", "request", "create", "--title", "T", "--org", "Hospital A", "--purpose", "HMB",
               "--specimen-type", "SER", "--sprec", "SER/SST"], env)
    assert bad.returncode != 0 and "SER/SST" in bad.stderr + bad.stdout


def _fhir(code: str, pid: str, snomed: str, display: str) -> str:
    patient = {"resourceType": "Patient", "id": pid, "gender": "female", "birthDate": "1970-01-01",
               "identifier": [{"system": "urn:lifebank:participant", "value": code}]}
    condition = {"resourceType": "Condition", "id": f"c-{pid}", "subject": {"reference": f"Patient/{pid}"},
                 "code": {"coding": [{"system": "http://snomed.info/sct", "code": snomed, "display": display}]},
                 "onsetDateTime": "2020-01-01"}
    return json.dumps(patient) + "\n" + json.dumps(condition) + "\n"


def test_the_hgr_report_names_the_shipped_donors_diagnoses_from_the_clinical_domain(bank: Bank) -> None:
    from datetime import date

    from lifebank.access import hgr

    import_fhir_text(bank.db, "dx.ndjson", _fhir("P000001", "pat-1", "254837009", "Malignant neoplasm of breast"),
                     actor=ACTOR)
    manager = bank.principal("manager")
    request_id = service.create_request(bank.db, bank.draft(purposes=["GRU"]), principal=manager)
    service.appoint_committee(bank.db, request_id, ["rev2"], principal=manager)
    service.cast_vote(bank.db, request_id, "approve", principal=bank.principal("rev2"))
    service.add_document(bank.db, request_id, kind="agreement", filename="mta.pdf", content=b"%PDF",
                         content_type="application/pdf", principal=manager)
    service.sign_agreement(bank.db, request_id, principal=manager)
    service.allocate(bank.db, request_id, principal=manager)
    for pick in service.pick_list(bank.db, request_id, manager):
        service.scan(bank.db, request_id, pick["barcode"], principal=manager)
    service.ship(bank.db, request_id, courier="SF", tracking_number="SF1", temperature="dry_ice", un3373=True,
                 principal=manager)
    sections = hgr.report_sections(bank.db, date.today().year)
    distributions = next(s for s in sections if s.heading.startswith("Distributions"))
    assert distributions.headers[3] == "Diagnosis 疾病"
    assert [row[3] for row in distributions.rows] == ["254837009 Malignant neoplasm of breast"]
    # A disease-specific request names its disease first; no clinical record at all reads "—".
    assert hgr._diagnosis(bank.db, "C50", {"P000001"}) == "DS C50; 254837009 Malignant neoplasm of breast"
    assert hgr._diagnosis(bank.db, None, {"P000002"}) == "—"
