"""Read use cases behind the FHIR API: resolve ids, run searches with FHIR's parameters, page the results.

Search parameters: `subject` (Patient/id or id), `code` (`system|code` or `code`), `date` and `_lastUpdated`
(with FHIR prefixes eq, ge, gt, le, lt; a date alone means that whole day), `_count` (page size, at most 1000)
and `_offset` (the paging links carry it).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from lifebank import biobank
from lifebank.clinical import fhir_out
from lifebank.clinical.models import ClinPatient, ClinRecord
from lifebank.db.engine import Database
from lifebank.errors import NotFound, ValidationFailed

KINDS_OF_TYPE = {
    "Condition": ("condition",),
    "Observation": ("measurement", "observation", "death"),
    "Procedure": ("procedure",),
    "Encounter": ("encounter",),
    "MedicationStatement": ("medication", "immunization"),
}
MAX_COUNT = 1000
RECORD_COLUMNS = (
    ClinRecord.id,
    ClinRecord.patient_id,
    ClinRecord.kind,
    ClinRecord.origin,
    ClinRecord.source_type,
    ClinRecord.source_id,
    ClinRecord.system,
    ClinRecord.code,
    ClinRecord.display,
    ClinRecord.start,
    ClinRecord.end,
    ClinRecord.value_num,
    ClinRecord.unit,
    ClinRecord.value_text,
    ClinRecord.status,
    ClinRecord.stage,
    ClinRecord.updated_at,
)


def patient_ids(session: Any, codes: set[str]) -> dict[str, str]:
    """participant code -> the Patient id the API shows (the FHIR source id if one was imported, else the code)."""
    shown = {code: code for code in codes}
    if codes:
        for code, sid in session.execute(
            select(ClinPatient.participant_code, ClinPatient.source_id)
            .where(ClinPatient.origin == "fhir", ClinPatient.participant_code.in_(codes))
            .order_by(ClinPatient.id)
        ):
            shown[code] = sid if fhir_out.valid_id(sid) else code
    return shown


def participant_of(db: Database, pid: str) -> str:
    """The participant code behind a Patient id (a FHIR source id, or a participant code)."""
    reference = pid.removeprefix("Patient/")
    with db.session() as session:
        code = session.scalar(
            select(ClinPatient.participant_code)
            .where(ClinPatient.origin == "fhir", ClinPatient.source_id == reference)
            .limit(1)
        )
    if code is not None:
        return code
    if biobank.existing_participants(db, {reference}):
        return reference
    raise NotFound("Patient/{id} does not exist", id=reference)


def read_patient(db: Database, pid: str) -> dict[str, Any]:
    code = participant_of(db, pid)
    with db.session() as session:
        row = session.execute(
            select(ClinPatient)
            .where(ClinPatient.participant_code == code)
            .order_by(ClinPatient.origin.desc(), ClinPatient.id)
            .limit(1)
        ).scalar()
        shown = patient_ids(session, {code})[code]
    if row is not None:
        return fhir_out.patient(shown, code, row.gender, row.birth_year, row.deceased_on, row.updated_at)
    view = biobank_view(db, code)
    gender = {"F": "female", "M": "male", "O": "other", "U": "unknown"}.get(view["sex"])
    return fhir_out.patient(shown, code, gender, view["birth_year"], None)


def biobank_view(db: Database, code: str) -> dict[str, Any]:
    from lifebank.biobank import service as bank

    return bank.participant_view(db, code)


def _prefixed(text: str) -> tuple[str, str]:
    for prefix in ("ge", "gt", "le", "lt", "eq"):
        if text.startswith(prefix):
            return prefix, text[2:]
    return "eq", text


def date_clause(column: Any, values: list[str], name: str) -> list[Any]:
    """SQL conditions of FHIR date search values (`ge2020-01-01`, `lt2021`, `2020-05-01`)."""
    clauses = []
    for raw in values:
        prefix, text = _prefixed(raw)
        try:
            if len(text) == 4:
                low = datetime(int(text), 1, 1, tzinfo=UTC)
                high = datetime(int(text) + 1, 1, 1, tzinfo=UTC)
            elif len(text) == 10:
                day = date.fromisoformat(text)
                low = datetime(day.year, day.month, day.day, tzinfo=UTC)
                high = low + timedelta(days=1)
            else:
                low = datetime.fromisoformat(text.replace("Z", "+00:00"))
                low = low if low.tzinfo else low.replace(tzinfo=UTC)
                high = low + timedelta(seconds=1)
        except ValueError:
            raise ValidationFailed("{param}: {value!r} is not a FHIR date", param=name, value=raw) from None
        clauses.append(
            {
                "eq": column.between(low, high - timedelta(microseconds=1)),
                "ge": column >= low,
                "gt": column >= high,
                "le": column < high,
                "lt": column < low,
            }[prefix]
        )
    return clauses


def page_size(count: str | None) -> int:
    if count is None:
        return 50
    if not count.isdigit() or int(count) > MAX_COUNT:
        raise ValidationFailed("_count must be a whole number up to {max}", max=MAX_COUNT)
    return int(count)


def search_records(
    db: Database, rtype: str, params: dict[str, list[str]], *, limit: int, offset: int
) -> tuple[int, list[dict[str, Any]]]:
    """(total, resources) of one page of a Condition/Observation/... search."""
    query = (
        select(*RECORD_COLUMNS, ClinPatient.participant_code)
        .join(ClinPatient, ClinPatient.id == ClinRecord.patient_id)
        .where(ClinRecord.kind.in_(KINDS_OF_TYPE[rtype]))
    )
    subjects = params.get("subject", []) + params.get("patient", [])
    codes = {participant_of(db, subject) for subject in subjects}
    for code in params.get("code", []):
        system, bar, value = code.rpartition("|")
        query = query.where(ClinRecord.code.in_(value.split(",")))
        if bar and system:
            query = query.where(ClinRecord.system == system)
    query = query.where(*date_clause(ClinRecord.start, params.get("date", []), "date"))
    query = query.where(*date_clause(ClinRecord.updated_at, params.get("_lastUpdated", []), "_lastUpdated"))
    with db.session() as session:  # one session for the page: a search is a few milliseconds of queries
        if subjects:
            # The subject's own patient rows first, then its records by patient_id: the planner then walks the
            # (patient_id, code, system, kind, start) index instead of every record of the code across patients.
            own: list[int] = []
            if len(codes) == 1:  # several subjects must all hold: two different participants match nothing
                own = list(session.scalars(select(ClinPatient.id).where(ClinPatient.participant_code.in_(codes))))
            query = query.where(ClinRecord.patient_id.in_(own))
        rows = [dict(r) for r in session.execute(query.order_by(ClinRecord.id).limit(limit).offset(offset)).mappings()]
        if 0 < len(rows) < limit or (offset == 0 and not rows):  # the last page: its rows give the total
            total = offset + len(rows)
        else:
            total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        shown = patient_ids(session, {r["participant_code"] for r in rows})
    return total, [fhir_out.record(r, shown[r["participant_code"]]) for r in rows]


def read_record(db: Database, rtype: str, rid: str) -> dict[str, Any]:
    origin, source_type, source_id = fhir_out.parse_record_id(rid)
    query = (
        select(*RECORD_COLUMNS, ClinPatient.participant_code)
        .join(ClinPatient, ClinPatient.id == ClinRecord.patient_id)
        .where(
            ClinRecord.kind.in_(KINDS_OF_TYPE[rtype]), ClinRecord.origin == origin, ClinRecord.source_id == source_id
        )
    )
    if source_type:
        query = query.where(ClinRecord.source_type == source_type)
    with db.session() as session:
        row = session.execute(query.limit(1)).mappings().first()
        if row is None:
            raise NotFound("{type}/{id} does not exist", type=rtype, id=rid)
        shown = patient_ids(session, {row["participant_code"]})
    return fhir_out.record(dict(row), shown[row["participant_code"]])


def search_patients(
    db: Database, params: dict[str, list[str]], *, limit: int, offset: int
) -> tuple[int, list[dict[str, Any]]]:
    query = select(ClinPatient.participant_code).distinct()
    for ident in params.get("identifier", []):
        query = query.where(ClinPatient.participant_code == ident.rpartition("|")[2])
    query = query.where(*date_clause(ClinPatient.updated_at, params.get("_lastUpdated", []), "_lastUpdated"))
    with db.session() as session:
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        codes = list(session.scalars(query.order_by(ClinPatient.participant_code).limit(limit).offset(offset)))
        shown = patient_ids(session, set(codes))
    return total, [read_patient(db, shown[c]) for c in codes]
