"""Turn validated FHIR resources into this domain's rows: pseudonymous patients and clinical records.

Pure. A Patient keeps its id, the participant code of its `urn:lifebank:participant` identifier (if any),
gender, birth *year* and death date: names, addresses, telecom and other identifiers are dropped here, so they
never reach the database. Each clinical resource becomes one record: its first coding as (system, code,
display), its time, value and unit, status, stage, and references (subject, encounter) as (type, id) for the
service to resolve within the file and against the database.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from lifebank.clinical.codes import PARTICIPANT_SYSTEM

KIND_OF_TYPE = {"Condition": "condition", "Procedure": "procedure", "Encounter": "encounter",
                "MedicationRequest": "medication", "MedicationStatement": "medication",
                "MedicationAdministration": "medication", "Immunization": "immunization"}


def fhir_instant(text: str | None) -> datetime | None:
    """A FHIR date/dateTime/instant as an aware UTC datetime; a partial date starts its year or month."""
    if not text:
        return None
    if len(text) == 4:
        return datetime(int(text), 1, 1, tzinfo=UTC)
    if len(text) == 7:
        return datetime(int(text[:4]), int(text[5:7]), 1, tzinfo=UTC)
    if len(text) == 10:
        return datetime(int(text[:4]), int(text[5:7]), int(text[8:10]), tzinfo=UTC)
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def reference_target(reference: str | None, full_urls: dict[str, tuple[str, str]]) -> tuple[str, str] | None:
    """(type, id) a literal reference points at: `Type/id`, an absolute URL ending so, or a Bundle fullUrl."""
    if not reference:
        return None
    if reference in full_urls:
        return full_urls[reference]
    if "?" in reference:  # a conditional reference (Synthea's Organization?identifier=...): not resolvable
        return None
    parts = reference.rstrip("/").split("/")
    if len(parts) >= 2 and parts[-2][:1].isupper():
        return parts[-2], parts[-1]
    return None


def first_coding(concept: dict[str, Any] | None) -> tuple[str, str, str]:
    if not concept:
        return "", "", ""
    for coding in concept.get("coding") or []:
        if coding.get("code"):
            return coding.get("system", ""), str(coding["code"]), coding.get("display") or concept.get("text", "")
    return "", "", concept.get("text", "")


def patient_row(resource: dict[str, Any]) -> dict[str, Any]:
    """The pseudonymous part of a Patient (see the module docstring for what is dropped)."""
    code = next((ident.get("value") for ident in resource.get("identifier") or []
                 if ident.get("system") == PARTICIPANT_SYSTEM and ident.get("value")), None)
    birth = resource.get("birthDate")
    deceased = resource.get("deceasedDateTime")
    return {"source_id": str(resource["id"]), "participant_code": code, "gender": resource.get("gender"),
            "birth_year": int(birth[:4]) if birth else None,
            "deceased_on": date.fromisoformat(deceased[:10]) if deceased and len(deceased) >= 10 else None}


def _period(resource: dict[str, Any], stem: str) -> tuple[datetime | None, datetime | None]:
    """`<stem>DateTime` or `<stem>Period` (start, end)."""
    if value := resource.get(f"{stem}DateTime"):
        return fhir_instant(value), None
    period = resource.get(f"{stem}Period") or {}
    return fhir_instant(period.get("start")), fhir_instant(period.get("end"))


def subject_of(resource: dict[str, Any]) -> str | None:
    reference = (resource.get("subject") or resource.get("patient") or {}).get("reference")
    return reference


def record_row(resource: dict[str, Any]) -> dict[str, Any]:
    """One clinical record (without its patient, which the service resolves from `subject`)."""
    rtype = resource["resourceType"]
    row: dict[str, Any] = {"source_type": rtype, "source_id": str(resource["id"]), "kind": KIND_OF_TYPE.get(rtype),
                           "start": None, "end": None, "value_num": None, "unit": None, "value_text": None,
                           "status": resource.get("status"), "stage": None, "encounter_ref": None}
    system, code, display = "", "", ""
    if rtype == "Condition":
        system, code, display = first_coding(resource.get("code"))
        row["start"], row["end"] = _period(resource, "onset")
        row["start"] = row["start"] or fhir_instant(resource.get("recordedDate"))
        row["end"] = row["end"] or fhir_instant(resource.get("abatementDateTime"))
        row["status"] = first_coding(resource.get("clinicalStatus"))[1] or None
        if stages := resource.get("stage"):
            stage = first_coding(stages[0].get("summary"))
            row["stage"] = (stage[2] or stage[1])[:200] or None
    elif rtype == "Observation":
        system, code, display = first_coding(resource.get("code"))
        row["start"], _ = _period(resource, "effective")
        row["start"] = row["start"] or fhir_instant(resource.get("effectiveInstant") or resource.get("issued"))
        quantity = resource.get("valueQuantity")
        if quantity is not None and quantity.get("value") is not None:
            row["value_num"] = float(quantity["value"])
            row["unit"] = (quantity.get("code") or quantity.get("unit") or "")[:64] or None
        elif concept := resource.get("valueCodeableConcept"):
            value = first_coding(concept)
            row["value_text"] = (value[2] or value[1])[:500]
        elif isinstance(resource.get("valueString"), str):
            row["value_text"] = resource["valueString"][:500]
        row["kind"] = "measurement" if row["value_num"] is not None else "observation"
    elif rtype == "Procedure":
        system, code, display = first_coding(resource.get("code"))
        row["start"], row["end"] = _period(resource, "performed")
    elif rtype == "Encounter":
        system, code, display = first_coding((resource.get("type") or [None])[0])
        period = resource.get("period") or {}
        row["start"], row["end"] = fhir_instant(period.get("start")), fhir_instant(period.get("end"))
    elif rtype.startswith("Medication"):
        concept = resource.get("medicationCodeableConcept")
        if concept:
            system, code, display = first_coding(concept)
        else:
            display = (resource.get("medicationReference") or {}).get("display", "")
        row["start"], row["end"] = _period(resource, "effective")
        row["start"] = row["start"] or fhir_instant(resource.get("authoredOn"))
    elif rtype == "Immunization":
        system, code, display = first_coding(resource.get("vaccineCode"))
        row["start"] = fhir_instant(resource.get("occurrenceDateTime"))
    row.update(system=system[:200], code=code[:64], display=display[:500], concept_id=None)
    return row
