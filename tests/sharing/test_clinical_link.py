"""Where clinical data exists: Beacon disease filters (ICD-10) and diagnoses in exports, generalised when rare."""

from __future__ import annotations

import csv
import io
import json

from lifebank.clinical.fhir_import import import_fhir_text
from lifebank.sharing import beacon, exports

B = "/api/beacon/v2"
ICD10 = "http://hl7.org/fhir/sid/icd-10"


def _bundle(diagnoses: dict[str, str]) -> str:
    entries = []
    for n, (participant, code) in enumerate(sorted(diagnoses.items())):
        entries.append({"resource": {"resourceType": "Patient", "id": f"pt{n}", "identifier": [
            {"system": "urn:lifebank:participant", "value": participant}]}})
        entries.append({"resource": {"resourceType": "Condition", "id": f"dx{n}",
                                     "subject": {"reference": f"Patient/pt{n}"},
                                     "code": {"coding": [{"system": ICD10, "code": code}]},
                                     "onsetDateTime": "2023-05-01"}})
    return json.dumps({"resourceType": "Bundle", "type": "collection", "entry": entries})


def test_disease_filters_and_exported_diagnoses(client, bank, users, tmp_path) -> None:
    women = [f"P{i:04d}" for i in range(100) if i % 3][:12]
    men = [f"P{i:04d}" for i in range(100) if not i % 3][:2]
    diagnoses = {p: "C50.9" for p in women} | {p: "C61" for p in men}
    import_fhir_text(bank.db, "dx.json", _bundle(diagnoses), actor="test")
    beacon.set_level(bank.db, "biobank", "REGISTERED", actor="test")
    reader = users.headers("researcher", "reader")

    def count(filters: str):
        body = client.get(f"{B}/individuals?filters={filters}&requestedGranularity=count&datasets=biobank",
                          headers=reader).json()
        return body["responseSummary"].get("numTotalResults")

    assert count("ICD10:C50.9") == 12
    assert count("ICD10:C50.9,NCIT:C20197") == 0
    assert count("ICD10:C61") is None  # 2 people: below the threshold, a boolean only
    users("partner", "partner1")
    grant = beacon.grant_records(bank.db, "biobank", "partner1", purposes="HMB", actor="test")
    result = exports.export(bank.db, bank.settings.data_dir, exports.from_release(bank.db, grant), "fhir",
                            actor="test", k=2, out=tmp_path)
    assert result["report"]["rare_diagnoses_to_parent"] == 0  # with k = 2 both codes are common enough
    conditions = [json.loads(line) for line in (tmp_path / "Condition.ndjson").read_text().splitlines()]
    assert sorted(c["code"]["coding"][0]["code"] for c in conditions).count("C50.9") >= 1
    strict = exports.export(bank.db, bank.settings.data_dir, exports.from_release(bank.db, grant), "csv",
                            actor="test", k=5, out=tmp_path / "csv")
    assert strict["report"]["rare_diagnoses_to_parent"] == 2  # C61 held by 2 < 5: exported as its parent
    rows = list(csv.DictReader(io.StringIO((tmp_path / "csv" / "participants.csv").read_text())))
    assert "C61" not in {r["diagnosis"] for r in rows}
