"""Use case: import an OMOP CDM 5.4 folder (person and the clinical event tables) as clinical records.

Every row of every table is checked against the CDM specification (required fields, types, lengths) and every
person linked to a participant (its `person_source_value` is the participant code; `--create-participants`
creates one otherwise) before anything is written; then the whole folder is written in one transaction.
Codes: a row's source concept (or standard concept) found in the loaded vocabulary gives (system, code,
display); without a vocabulary the source value is kept under the table's usual system. OMOP ids are kept
as source ids, so re-importing updates in place and an export gives the same ids back.
"""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from lifebank import biobank
from lifebank.audit import service as ledger
from lifebank.clinical import _store
from lifebank.clinical.codes import VOCABULARY_SYSTEMS
from lifebank.clinical.fhir_import import SITE_OF_CREATED
from lifebank.clinical.models import ClinConcept, ClinImport
from lifebank.clinical.omop_spec import missing_columns, row_problems
from lifebank.clinical.omop_tables import CONCEPT_GENDERS, IMPORTED_TABLES, RECORD_TABLES
from lifebank.db.engine import Database
from lifebank.errors import RowError, RowsRejected
from lifebank.messages import Msg


def _file_of(folder: Path, table: str) -> Path | None:
    for name in (f"{table.upper()}.csv", f"{table}.csv"):
        if (folder / name).is_file():
            return folder / name
    return None


def read_table(path: Path, table: str) -> list[tuple[int, dict[str, str]]]:
    """(line, row) of a CDM CSV after the spec's checks; RowsRejected naming file, line, column, reason."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        header = [c.strip().lower() for c in next(reader, [])]
        missing = missing_columns(table, header)
        if missing:
            raise RowsRejected(Msg("OMOP file {file}", file=path.name),
                               [RowError(1, c, Msg("required column {column} is missing", column=c))
                                for c in missing])
        rows, errors = [], []
        for line, row in enumerate(reader, start=2):
            if not row:
                continue
            problems = row_problems(table, header, row)
            errors += [RowError(line, column, reason) for column, reason in problems]
            rows.append((line, dict(zip(header, row, strict=False))))
    if errors:
        raise RowsRejected(Msg("OMOP file {file}", file=path.name), errors, rows=len(rows))
    return rows


def _when(row: dict[str, str], columns: tuple[str, str] | None) -> datetime | None:
    if columns is None:
        return None
    if text := row.get(columns[0]):
        value = datetime.fromisoformat(text)
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    if text := row.get(columns[1]):
        day = date.fromisoformat(text)
        return datetime(day.year, day.month, day.day, tzinfo=UTC)
    return None


def _concepts(db: Database, ids: set[int]) -> dict[int, tuple[str, str, str]]:
    found: dict[int, tuple[str, str, str]] = {}
    with db.session() as session:
        for part in _store.chunks(sorted(ids)):
            for cid, vocab, code, name in session.execute(select(
                    ClinConcept.concept_id, ClinConcept.vocabulary_id, ClinConcept.concept_code,
                    ClinConcept.concept_name).where(ClinConcept.concept_id.in_(part))):
                found[cid] = (VOCABULARY_SYSTEMS.get(vocab, vocab), code, name)
    return found


def _int(text: str | None) -> int | None:
    return int(text) if text else None


def _persons(db: Database, path: Path, rows: list[tuple[int, dict[str, str]]],
             create: bool) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    codes = {r["person_source_value"] for _l, r in rows if r.get("person_source_value")}
    existing = biobank.existing_participants(db, codes)
    patients, to_create, errors = [], [], []
    for line, row in rows:
        code = row.get("person_source_value") or ""
        if code not in existing:
            if not create:
                errors.append(RowError(line, "person_source_value", Msg(
                    "person {id}: {value!r} is no participant code of the biobank; import with "
                    "--create-participants to create one", id=row["person_id"], value=code)))
                continue
            if not code or len(code) > 32 or not code.replace("-", "").replace("_", "").isalnum():
                code = _store.derived_participant_code("omop", row["person_id"])
        patient = {"source_id": row["person_id"], "participant_code": code,
                   "gender": CONCEPT_GENDERS.get(_int(row["gender_concept_id"]) or 0, "unknown"),
                   "birth_year": _int(row["year_of_birth"]), "deceased_on": None}
        patients.append(patient)
        if code not in existing:
            to_create.append(patient)
    if errors:
        raise RowsRejected(Msg("OMOP file {file}", file=path.name), errors, rows=len(rows))
    known = biobank.existing_participants(db, {p["participant_code"] for p in to_create}) if to_create else set()
    return patients, [p for p in to_create if p["participant_code"] not in known]


def _records(table: str, rows: list[tuple[int, dict[str, str]]], concepts: dict[int, tuple[str, str, str]],
             person_ids: set[str], path: Path) -> list[dict[str, Any]]:
    spec = RECORD_TABLES[table]
    out, errors = [], []
    for line, row in rows:
        if row["person_id"] not in person_ids:
            errors.append(RowError(line, "person_id", Msg("person {id} is not in PERSON.csv or the database",
                                                          id=row["person_id"])))
            continue
        concept_id = _int(row.get(spec.concept))
        known = concepts.get(_int(row.get(spec.source_concept)) or 0) or concepts.get(concept_id or 0)
        source_value = row.get(spec.source_value or "", "")
        system, code, display = known if known else (spec.default_system if source_value else "", source_value, "")
        value_num = row.get(spec.value_number or "")
        out.append({"person": row["person_id"], "kind": spec.kind, "source_type": table,
                    "source_id": row[spec.id], "system": system[:200], "code": code[:64], "display": display[:500],
                    "concept_id": concept_id, "start": _when(row, spec.start), "end": _when(row, spec.end),
                    "value_num": float(value_num) if value_num else None,
                    "unit": (row.get(spec.unit or "") or None), "value_text": row.get(spec.value_string or "") or None,
                    "status": None, "stage": None,
                    "encounter_ref": row.get("visit_occurrence_id") or None if table != "visit_occurrence" else None})
    if errors:
        raise RowsRejected(Msg("OMOP file {file}", file=path.name), errors, rows=len(rows))
    return out


def import_omop_folder(db: Database, folder: Path, *, actor: str, create_participants: bool = False) -> dict[str, Any]:
    """Import the folder's PERSON.csv and clinical tables in one transaction; counts per table."""
    person_file = _file_of(folder, "person")
    if person_file is None:
        raise RowsRejected(Msg("OMOP folder {folder}", folder=folder.name),
                           [RowError(0, "PERSON.csv", Msg("the file is missing"))])
    tables = {t: (f, read_table(f, t)) for t in IMPORTED_TABLES if (f := _file_of(folder, t)) is not None}
    patients, to_create = _persons(db, person_file, tables["person"][1], create_participants)
    with db.session() as session:
        stored = _store.existing_patients(session, "omop", {r["person_id"] for t, (_f, rows) in tables.items()
                                                            if t != "person" for _l, r in rows})
    person_ids = {p["source_id"] for p in patients} | set(stored)
    wanted: set[int] = set()
    for table, (_f, rows) in tables.items():
        if table in RECORD_TABLES:
            spec = RECORD_TABLES[table]
            wanted |= {v for _l, r in rows for c in (spec.concept, spec.source_concept) if (v := _int(r.get(c)))}
    concepts = _concepts(db, wanted)
    records = [rec for table, (path, rows) in tables.items() if table in RECORD_TABLES
               for rec in _records(table, rows, concepts, person_ids, path)]
    deaths = {r["person_id"]: date.fromisoformat(r["death_date"]) for _l, r in tables.get("death", (None, []))[1]}
    for patient in patients:
        patient["deceased_on"] = deaths.get(patient["source_id"])
    from lifebank.biobank import service as bank

    for patient in to_create:
        year = patient["birth_year"] if patient["birth_year"] and patient["birth_year"] >= 1900 else None
        bank.register_participant(db, patient["participant_code"], sex=_store.GENDER_TO_SEX.get(
            patient["gender"] or "unknown", "U"), birth_year=year, site=SITE_OF_CREATED, actor=actor)
    counts = {table: len(rows) for table, (_f, rows) in tables.items()}
    with db.transaction() as session:
        ids = _store.upsert_patients(session, "omop", patients)
        ids.update({sid: pk for sid, (pk, _c) in stored.items() if sid not in ids})
        for record in records:
            record["patient_id"] = ids[record.pop("person")]
        _store.replace_records(session, "omop", records)
        session.add(ClinImport(file_name=folder.name[:500], sha256="", fmt="omop", counts=str(counts),
                               imported_by=actor))
        ledger.record(session, actor=actor, action="clinical.import", entity_type="clinical_file",
                      entity_id=folder.name[:200], change={"format": "omop", "tables": counts})
    _store.refresh_statistics(db, len(records) + len(patients))
    return {"folder": folder.name, "format": "omop", "tables": counts, "participants_created": len(to_create)}
