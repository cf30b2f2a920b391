"""Build FHIR R4 resources from LifeBank rows (pure): what the read-only FHIR API and `$export` emit.

Ids: a resource imported from FHIR keeps its id; a record imported from OMOP gets `<table prefix>-<OMOP id>`
(`co-12` for condition_occurrence 12), a Patient with no FHIR source is its participant code, a Specimen its
barcode, a Consent `<participant>-<version>`. Every resource is checked against `fhir.resources` R4B in the
tests; a patient's birth date is only its year (pseudonymous data).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

from lifebank.clinical.codes import DUO, PARTICIPANT_SYSTEM, UCUM

OMOP_PREFIX = {"condition_occurrence": "co", "measurement": "me", "observation": "ob", "procedure_occurrence": "po",
               "drug_exposure": "de", "visit_occurrence": "vo", "death": "dt"}
PREFIX_TABLE = {v: k for k, v in OMOP_PREFIX.items()}
_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
SPECIMEN_STATUS = {"available": "available", "reserved": "available", "checked_out": "unavailable"}


def instant(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None


def record_id(origin: str, source_type: str, source_id: str) -> str:
    return source_id if origin == "fhir" else f"{OMOP_PREFIX.get(source_type, 'x')}-{source_id}"


def parse_record_id(rid: str) -> tuple[str, str | None, str]:
    """(origin, source_type or None, source_id) a resource id names (see `record_id`)."""
    prefix, _, rest = rid.partition("-")
    if prefix in PREFIX_TABLE and rest.isdigit():
        return "omop", PREFIX_TABLE[prefix], rest
    return "fhir", None, rid


def valid_id(text: str) -> bool:
    return bool(_ID.fullmatch(text))


def _concept(system: str, code: str, display: str) -> dict[str, Any]:
    coding: dict[str, Any] = {}
    if system:
        coding["system"] = system
    if code:
        coding["code"] = code
    if display:
        coding["display"] = display
    concept: dict[str, Any] = {"coding": [coding]} if code else {}
    if display:
        concept["text"] = display
    return concept or {"text": "unknown"}


def _meta(updated: datetime | None) -> dict[str, Any]:
    return {"lastUpdated": instant(updated)} if updated else {}


def patient(pid: str, code: str, gender: str | None, birth_year: int | None, deceased: date | None,
            updated: datetime | None = None) -> dict[str, Any]:
    resource: dict[str, Any] = {"resourceType": "Patient", "id": pid,
                                "identifier": [{"system": PARTICIPANT_SYSTEM, "value": code}]}
    if meta := _meta(updated):
        resource["meta"] = meta
    if gender:
        resource["gender"] = gender
    if birth_year:
        resource["birthDate"] = f"{birth_year:04d}"
    if deceased:
        resource["deceasedDateTime"] = deceased.isoformat()
    return resource


def record(row: dict[str, Any], subject: str) -> dict[str, Any]:
    """A Condition, Observation, Procedure, Encounter or MedicationStatement from one clinical record."""
    rid = record_id(row["origin"], row["source_type"], row["source_id"])
    kind = row["kind"]
    ref = {"reference": f"Patient/{subject}"}
    concept = _concept(row["system"], row["code"], row["display"])
    base: dict[str, Any] = {"id": rid}
    if meta := _meta(row.get("updated_at")):
        base["meta"] = meta
    if kind == "condition":
        resource = {"resourceType": "Condition", **base, "code": concept, "subject": ref}
        if row["status"] in {"active", "recurrence", "relapse", "inactive", "remission", "resolved"}:
            resource["clinicalStatus"] = {"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": row["status"]}]}
        if row["start"]:
            resource["onsetDateTime"] = instant(row["start"])
        if row["end"]:
            resource["abatementDateTime"] = instant(row["end"])
        if row["stage"]:
            resource["stage"] = [{"summary": {"text": row["stage"]}}]
        return resource
    if kind in {"measurement", "observation", "death"}:
        status = row["status"] if row["status"] in {"registered", "preliminary", "final", "amended", "corrected",
                                                     "cancelled", "entered-in-error", "unknown"} else "final"
        resource = {"resourceType": "Observation", **base, "status": status, "code": concept, "subject": ref}
        category = "laboratory" if kind == "measurement" else "exam" if kind == "death" else "survey"
        resource["category"] = [{"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": category}]}]
        if row["start"]:
            resource["effectiveDateTime"] = instant(row["start"])
        if row["value_num"] is not None:
            quantity: dict[str, Any] = {"value": row["value_num"]}
            if row["unit"]:
                quantity.update(unit=row["unit"], system=UCUM, code=row["unit"])
            resource["valueQuantity"] = quantity
        elif row["value_text"]:
            resource["valueString"] = row["value_text"]
        return resource
    if kind == "procedure":
        resource = {"resourceType": "Procedure", **base, "status": row["status"] or "completed", "code": concept,
                    "subject": ref}
        if row["start"]:
            resource["performedPeriod" if row["end"] else "performedDateTime"] = (
                {"start": instant(row["start"]), "end": instant(row["end"])} if row["end"] else instant(row["start"]))
        return resource
    if kind == "encounter":
        resource = {"resourceType": "Encounter", **base, "status": row["status"] or "finished",
                    "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
                    "subject": ref}
        if row["code"]:
            resource["type"] = [concept]
        if row["start"]:
            end = {"end": instant(row["end"])} if row["end"] else {}
            resource["period"] = {"start": instant(row["start"]), **end}
        return resource
    resource = {"resourceType": "MedicationStatement", **base, "status": "completed",
                "medicationCodeableConcept": concept, "subject": ref}
    if row["start"]:
        resource["effectiveDateTime"] = instant(row["start"])
    return resource


def specimen(view: dict[str, Any], subject: str | None) -> dict[str, Any]:
    """A biobank specimen: type (SPREC sample type), status, parent lineage, collection time, container."""
    resource: dict[str, Any] = {
        "resourceType": "Specimen", "id": view["barcode"],
        "identifier": [{"system": "urn:lifebank:specimen", "value": view["barcode"]}],
        "status": SPECIMEN_STATUS.get(view["status"], "unavailable"),
        "type": {"coding": [{"system": "urn:lifebank:sprec-sample-type", "code": view["type"]}],
                 "text": view["type"]}}
    if subject:
        resource["subject"] = {"reference": f"Patient/{subject}"}
    if view.get("parent"):
        resource["parent"] = [{"reference": f"Specimen/{view['parent']}"}]
    if view.get("collected_at"):
        resource["collection"] = {"collectedDateTime": instant(datetime.fromisoformat(view["collected_at"]))}
    container: dict[str, Any] = {}
    if view.get("location"):
        container["description"] = view["location"]
    if view.get("quantity") is not None:
        container["specimenQuantity"] = {"value": view["quantity"], "unit": view["unit"]}
    if container:
        resource["container"] = [container]
    return resource


def consent(code: str, subject: str, item: dict[str, Any]) -> dict[str, Any]:
    """One consent version: active unless withdrawn; its DUO codes as provision purposes."""
    return {
        "resourceType": "Consent", "id": f"{code}-{item['version']}",
        "status": "inactive" if item["withdrawn_at"] else "active",
        "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "research"}]},
        "category": [{"coding": [{"system": "http://loinc.org", "code": "57016-8"}]}],
        "patient": {"reference": f"Patient/{subject}"}, "dateTime": item["date"],
        "policyRule": {"text": item["scope"] or "LifeBank consent"},
        "provision": {"type": "permit", "purpose": [{"system": DUO, "code": c} for c in item["codes"]]},
    }


def group(gid: str, name: str, members: list[str]) -> dict[str, Any]:
    resource: dict[str, Any] = {"resourceType": "Group", "id": gid, "type": "person", "actual": True, "name": name,
                                "quantity": len(members)}
    if members:
        resource["member"] = [{"entity": {"reference": f"Patient/{m}"}} for m in members]
    return resource


def outcome(code: str, text: str) -> dict[str, Any]:
    return {"resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": code, "diagnostics": text}]}
