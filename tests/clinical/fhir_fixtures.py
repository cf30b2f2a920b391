"""Small synthetic FHIR resources for the clinical tests (built in code: each test says what it changes)."""

from __future__ import annotations

import json
from typing import Any

from lifebank.clinical.codes import LOINC, PARTICIPANT_SYSTEM, RXNORM, SNOMED


def patient(pid: str, code: str | None = None, **extra: Any) -> dict[str, Any]:
    resource = {"resourceType": "Patient", "id": pid, "gender": "male", "birthDate": "1950-03-04",
                "name": [{"family": "Doe", "given": ["Johnny"]}],
                "address": [{"line": ["1 Secret Street"], "city": "Hidden Town"}],
                "identifier": [{"system": "http://hospital.example/mrn", "value": "MRN-778899"}]}
    if code:
        resource["identifier"].append({"system": PARTICIPANT_SYSTEM, "value": code})
    resource.update(extra)
    return resource


def condition(cid: str, pid: str, code: str = "399068003", onset: str = "2015-06-01", **extra: Any) -> dict:
    resource = {"resourceType": "Condition", "id": cid, "subject": {"reference": f"Patient/{pid}"},
                "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                               "code": "active"}]},
                "code": {"coding": [{"system": SNOMED, "code": code, "display": "Malignant tumor of prostate"}]},
                "onsetDateTime": onset}
    resource.update(extra)
    return resource


def observation(oid: str, pid: str, code: str = "2857-1", value: float = 5.2, when: str = "2015-05-20") -> dict:
    return {"resourceType": "Observation", "id": oid, "status": "final", "subject": {"reference": f"Patient/{pid}"},
            "code": {"coding": [{"system": LOINC, "code": code, "display": "PSA"}]},
            "effectiveDateTime": when, "valueQuantity": {"value": value, "unit": "ng/mL",
                                                         "system": "http://unitsofmeasure.org", "code": "ng/mL"}}


def encounter(eid: str, pid: str) -> dict:
    return {"resourceType": "Encounter", "id": eid, "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
            "subject": {"reference": f"Patient/{pid}"},
            "period": {"start": "2015-05-20T09:00:00+08:00", "end": "2015-05-20T10:00:00+08:00"}}


def medication(mid: str, pid: str, code: str = "310798") -> dict:
    return {"resourceType": "MedicationRequest", "id": mid, "status": "active", "intent": "order",
            "subject": {"reference": f"Patient/{pid}"}, "authoredOn": "2015-07-01",
            "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": code, "display": "Bicalutamide"}]}}


def bundle(*resources: dict[str, Any], kind: str = "transaction") -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": kind,
            "entry": [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r,
                       "request": {"method": "POST", "url": r["resourceType"]}} for r in resources]}


def ndjson(*resources: dict[str, Any]) -> str:
    return "".join(json.dumps(r) + "\n" for r in resources)
