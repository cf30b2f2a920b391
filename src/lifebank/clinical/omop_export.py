"""Use case: export the clinical records and the biobank's specimens as OMOP CDM 5.4 tables (CSV or Parquet).

One PERSON per participant code (`person_source_value` = the code; `person_id` the OMOP person_id it came in
with when it was imported from OMOP, else a generated number). Record ids: a record imported from an OMOP
table keeps its id there (the round trip gives the same ids back); any other gets `10**12 + its row id`.
Concept ids come from the record (OMOP imports keep them) or the loaded vocabulary by (system, code); 0 ("no
matching concept", the CDM's convention) otherwise, with the code in the `*_source_value` column. SPECIMEN
rows are the biobank's specimens (`specimen_source_id` = barcode). Every column the spec lists is written, in
its order and type.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from lifebank.biobank import service as bank
from lifebank.clinical.codes import SYSTEM_VOCABULARIES
from lifebank.clinical.models import ClinConcept, ClinPatient, ClinRecord
from lifebank.clinical.omop_spec import Field, cdm_tables
from lifebank.clinical.omop_tables import EHR_TYPE_CONCEPT, GENDER_CONCEPTS, RECORD_TABLES, TABLE_OF_KIND
from lifebank.db.engine import Database
from lifebank.errors import ValidationFailed

GENERATED = 10**12
EXPORTED = ("person", *RECORD_TABLES, "specimen")


def _omop_id(origin: str, source_type: str, table: str, source_id: str, pk: int) -> int:
    if origin == "omop" and source_type == table and source_id.isdigit():
        return int(source_id)
    return GENERATED + pk


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _persons(db: Database) -> tuple[dict[str, int], list[dict[str, Any]], dict[int, str]]:
    """participant code -> person_id; PERSON rows; clin_patient id -> participant code."""
    with db.session() as session:
        patients = list(session.execute(select(ClinPatient.id, ClinPatient.origin, ClinPatient.source_id,
                                               ClinPatient.participant_code, ClinPatient.gender,
                                               ClinPatient.birth_year, ClinPatient.deceased_on)
                                        .order_by(ClinPatient.id)))
    code_of = {p.id: p.participant_code for p in patients}
    chosen: dict[str, Any] = {}
    for p in patients:  # prefer the OMOP person the participant came in as
        if p.participant_code not in chosen or (p.origin == "omop" and chosen[p.participant_code].origin != "omop"):
            chosen[p.participant_code] = p
    bank_codes = {s["participant"] for s in bank.iter_specimens(db, bank.SpecimenFilter()) if s["participant"]}
    person_id: dict[str, int] = {}
    rows = []
    for index, code in enumerate(sorted(set(chosen) | bank_codes), start=1):
        p = chosen.get(code)
        view = bank.participant_view(db, code) if p is None or p.birth_year is None else None
        birth_year = p.birth_year if p is not None and p.birth_year else (view or {}).get("birth_year")
        if birth_year is None:
            continue  # year_of_birth is required: a person without it cannot be exported (nor its specimens)
        gender = p.gender if p is not None else {"F": "female", "M": "male"}.get((view or {}).get("sex", ""), "")
        pid = int(p.source_id) if p is not None and p.origin == "omop" and p.source_id.isdigit() else GENERATED + index
        person_id[code] = pid
        rows.append({"person_id": pid, "gender_concept_id": GENDER_CONCEPTS.get(gender or "", 0),
                     "year_of_birth": birth_year, "race_concept_id": 0, "ethnicity_concept_id": 0,
                     "person_source_value": code, "gender_source_value": gender or None,
                     "gender_source_concept_id": 0, "race_source_concept_id": 0, "ethnicity_source_concept_id": 0})
    return person_id, rows, code_of


def _concept_lookup(db: Database) -> dict[tuple[str, str], int]:
    with db.session() as session:
        return {(vocab, code): cid for cid, vocab, code in session.execute(select(
            ClinConcept.concept_id, ClinConcept.vocabulary_id, ClinConcept.concept_code)
            .where(ClinConcept.vocabulary_id.in_(set(SYSTEM_VOCABULARIES.values()))))}


def _record_rows(db: Database, person_id: dict[str, int], code_of: dict[int, str]) -> dict[str, list[dict]]:
    concepts = _concept_lookup(db)
    out: dict[str, list[dict[str, Any]]] = {t: [] for t in RECORD_TABLES}
    visit_ids: dict[str, int] = {}
    with db.session() as session:
        records = list(session.scalars(select(ClinRecord).order_by(ClinRecord.id)))
    for r in records:
        if r.kind == "encounter":
            visit_ids[r.source_id] = _omop_id(r.origin, r.source_type, "visit_occurrence", r.source_id, r.id)
    for r in records:
        spec = TABLE_OF_KIND.get(r.kind)
        pid = person_id.get(code_of[r.patient_id])
        if spec is None or pid is None or r.start is None:
            continue
        concept = r.concept_id or concepts.get((SYSTEM_VOCABULARIES.get(r.system, ""), r.code), 0)
        row: dict[str, Any] = {"person_id": pid, spec.concept: concept, spec.start[1]: r.start.date(),
                               spec.start[0]: r.start, spec.type_concept: EHR_TYPE_CONCEPT}
        if spec.name != "death":
            row[spec.id] = _omop_id(r.origin, r.source_type, spec.name, r.source_id, r.id)
        if spec.source_value:
            row[spec.source_value] = r.code[:50] or None
        if spec.end is not None:
            end = r.end or r.start  # visit and drug end dates are required: a point event ends when it starts
            row[spec.end[1]], row[spec.end[0]] = end.date(), end
        if spec.value_number:
            row[spec.value_number] = r.value_num
        if spec.unit:
            row[spec.unit] = (r.unit or "")[:50] or None
        if spec.value_string and r.value_text:
            row[spec.value_string] = r.value_text[:60]
        if r.encounter_ref and r.encounter_ref in visit_ids and spec.name != "visit_occurrence":
            row["visit_occurrence_id"] = visit_ids[r.encounter_ref]
        out[spec.name].append(row)
    seen: set[int] = set()
    out["death"] = [d for d in out["death"] if not (d["person_id"] in seen or seen.add(d["person_id"]))]
    return out


def _specimen_rows(db: Database, person_id: dict[str, int]) -> list[dict[str, Any]]:
    rows = []
    for index, s in enumerate(bank.iter_specimens(db, bank.SpecimenFilter()), start=1):
        pid = person_id.get(s["participant"] or "")
        if pid is None or not s["collected_at"]:
            continue  # person_id and specimen_date are required
        collected = datetime.fromisoformat(s["collected_at"])
        rows.append({"specimen_id": index, "person_id": pid, "specimen_concept_id": 0,
                     "specimen_type_concept_id": EHR_TYPE_CONCEPT, "specimen_date": collected.date(),
                     "specimen_datetime": collected, "quantity": s["quantity"], "specimen_source_id": s["barcode"],
                     "specimen_source_value": s["type"], "unit_source_value": s["unit"]})
    return rows


def _write_csv(path: Path, fields: tuple[Field, ...], rows: list[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([f.name for f in fields])
        writer.writerows([_cell(row.get(f.name)) for f in fields] for row in rows)


def _write_parquet(path: Path, fields: tuple[Field, ...], rows: list[dict[str, Any]]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    types = {"integer": pa.int64(), "float": pa.float64(), "date": pa.date32(), "datetime": pa.timestamp("us"),
             "varchar": pa.string()}

    def plain(field: Field, value: Any) -> Any:
        if field.datatype == "datetime" and isinstance(value, datetime):
            return value.replace(tzinfo=None)
        return value

    columns = {f.name: pa.array([plain(f, row.get(f.name)) for row in rows], type=types[f.datatype])
               for f in fields}
    pq.write_table(pa.table(columns), path)


def _deaths_of_patients(db: Database, person_id: dict[str, int], rows: list[dict[str, Any]]) -> None:
    """A FHIR Patient's deceasedDateTime is a DEATH row too (once per person; an OMOP death row wins)."""
    dead = {row["person_id"] for row in rows}
    with db.session() as session:
        for code, day in session.execute(select(ClinPatient.participant_code, ClinPatient.deceased_on)
                                         .where(ClinPatient.deceased_on.is_not(None)).order_by(ClinPatient.id)):
            pid = person_id.get(code)
            if pid is not None and pid not in dead:
                dead.add(pid)
                rows.append({"person_id": pid, "death_date": day, "death_type_concept_id": EHR_TYPE_CONCEPT})


def _tables(db: Database) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    person_id, persons, code_of = _persons(db)
    yield "person", persons
    records = _record_rows(db, person_id, code_of)
    _deaths_of_patients(db, person_id, records["death"])
    yield from records.items()
    yield "specimen", _specimen_rows(db, person_id)


def export_omop(db: Database, folder: Path, *, table_format: str = "csv") -> dict[str, int]:
    """Write every exported CDM table into `folder` (created; an existing one must be empty); rows per table."""
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise ValidationFailed("{path} exists and is not an empty folder", path=str(folder))
    folder.mkdir(parents=True, exist_ok=True)
    spec = cdm_tables()
    counts = {}
    for table, rows in _tables(db):
        fields = spec[table]
        if table_format == "parquet":
            _write_parquet(folder / f"{table}.parquet", fields, rows)
        else:
            _write_csv(folder / f"{table}.csv", fields, rows)
        counts[table] = len(rows)
    return counts
