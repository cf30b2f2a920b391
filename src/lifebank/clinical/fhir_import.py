"""Use case: import FHIR R4 files (Bundles, Bulk Data NDJSON, single resources) as clinical records.

All-or-nothing per file: the file is read and validated in full (structure, datatypes, required bindings,
references, participant links) before anything is written; then its patients and records are written in one
transaction with the ledger event. Re-importing a file replaces the records with the same resource ids, so
nothing duplicates. References are resolved within the file (ids and Bundle fullUrls) and against the
database (patients and encounters imported earlier: import `Patient` and `Encounter` files first, which a
folder import does by itself). References to types this domain does not store (Practitioner, Organization)
are not checked.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lifebank import biobank
from lifebank.audit import service as ledger
from lifebank.clinical import _store
from lifebank.clinical.fhir_map import reference_target
from lifebank.clinical.fhir_read import FhirFile, Reading, ValidationPool, read_fhir_text, start_reading
from lifebank.clinical.models import ClinImport
from lifebank.clinical.vocabulary_check import unknown_codes
from lifebank.db.engine import Database
from lifebank.errors import RowsRejected
from lifebank.messages import Msg

# Bulk Data folders: files of these types go first so that later files can reference them.
TYPE_ORDER = {"Patient": 0, "Encounter": 1}
SITE_OF_CREATED = "clinical-import"


def _resolve(
    db: Database, out: FhirFile, create: bool
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Patients and records of the file with their references checked; participants to create."""
    patients: list[dict[str, Any]] = []
    records: list[tuple[int, dict[str, Any], tuple[str, str] | None, tuple[str, str] | None]] = []
    encounter_ids: set[str] = set()
    full_urls = out.full_urls
    targets: dict[str | None, tuple[str, str] | None] = {}  # a patient's reference recurs in each of its records

    def target(reference: str | None) -> tuple[str, str] | None:
        try:
            return targets[reference]
        except KeyError:
            found = targets[reference] = reference_target(reference, full_urls)
            return found

    for where, rtype, row, subject, encounter in out.entries:
        if rtype == "Patient":
            patients.append({**row, "_where": where})
            continue
        if rtype == "Encounter":
            encounter_ids.add(row["source_id"])
        records.append((where, row, target(subject), target(encounter)))
    in_file_patients = {p["source_id"] for p in patients}
    with db.session() as session:
        # one lookup per file (in chunks) of the references the file does not resolve itself
        stored = _store.existing_patients(
            session,
            "fhir",
            in_file_patients | {t[1] for _w, _r, t, _e in records if t is not None and t[1] not in in_file_patients},
        )
        wanted_encounters = {e[1] for _w, _r, _t, e in records if e is not None}
        stored_encounters = _store.existing_record_ids(session, "fhir", "Encounter", wanted_encounters - encounter_ids)
    # Participants: an identifier's code must exist in the biobank; no code -> stored link or created.
    to_create: list[dict[str, Any]] = []
    named = {p["participant_code"] for p in patients if p["participant_code"]}
    existing = biobank.existing_participants(db, named) if named else set()
    for patient in patients:
        code = patient["participant_code"]
        if code is None and patient["source_id"] in stored:
            patient["participant_code"] = stored[patient["source_id"]][1]
            continue
        if code is not None and code in existing:
            continue
        if not create:
            reason = (
                Msg(
                    "identifier {system}|{code} is no participant of the biobank",
                    code=code,
                    system="urn:lifebank:participant",
                )
                if code
                else Msg(
                    "Patient {id} maps to no participant (no urn:lifebank:participant identifier); "
                    "import with --create-participants to create one",
                    id=patient["source_id"],
                )
            )
            out.error(patient["_where"], "Patient.identifier", reason)
            continue
        patient["participant_code"] = code or _store.derived_participant_code("fhir", patient["source_id"])
        to_create.append(patient)
    rows = []
    for where, row, target, enc in records:
        if target is None or target[0] != "Patient":
            out.error(where, f"{row['source_type']}.subject", Msg("the subject must reference a Patient"))
            continue
        if target[1] not in in_file_patients and target[1] not in stored:
            out.error(
                where,
                f"{row['source_type']}.subject",
                Msg(
                    "reference {reference} points to no resource in the file or the database",
                    reference=f"Patient/{target[1]}",
                ),
            )
            continue
        row["_patient"] = target[1]
        if enc is not None:
            if enc[1] not in encounter_ids and enc[1] not in stored_encounters:
                out.error(
                    where,
                    f"{row['source_type']}.encounter",
                    Msg(
                        "reference {reference} points to no resource in the file or the database",
                        reference=f"Encounter/{enc[1]}",
                    ),
                )
                continue
            row["encounter_ref"] = enc[1][:128]
        rows.append(row)
    return patients, rows, to_create


def _create_participants(db: Database, patients: list[dict[str, Any]], actor: str) -> None:
    """Register the participants `--create-participants` asked for (the biobank's own use case and ledger)."""
    existing = biobank.existing_participants(db, {p["participant_code"] for p in patients})
    from lifebank.biobank import service as bank

    for patient in patients:
        if patient["participant_code"] in existing:
            continue
        year = patient["birth_year"] if patient["birth_year"] and patient["birth_year"] >= 1900 else None
        bank.register_participant(
            db,
            patient["participant_code"],
            sex=_store.GENDER_TO_SEX.get(patient["gender"] or "unknown", "U"),
            birth_year=year,
            site=SITE_OF_CREATED,
            actor=actor,
        )


def import_fhir_text(
    db: Database, name: str, text: str, *, actor: str, create_participants: bool = False
) -> dict[str, Any]:
    """Import one FHIR file's text; returns counts per resource type. Raises RowsRejected naming every problem."""
    sha256 = hashlib.sha256(text.encode()).hexdigest()
    return _import_read(db, read_fhir_text(name, text), sha256, actor=actor, create_participants=create_participants)


def _import_read(db: Database, out: FhirFile, sha256: str, *, actor: str, create_participants: bool) -> dict[str, Any]:
    """Check a read file's references and participants, then write it in one transaction (`import_fhir_text`)."""
    name = out.name
    if not out.errors:
        patients, rows, to_create = _resolve(db, out, create_participants)
    if out.errors:
        raise RowsRejected(Msg("FHIR file {file}", file=name), out.errors)
    _create_participants(db, to_create, actor)
    counts = out.counts
    result = {
        "file": name,
        "format": out.fmt,
        "resources": dict(sorted(counts.items())),
        "stored": len(rows) + len(patients),
        "participants_created": len(to_create),
    }
    with db.transaction() as session:
        ids = _store.upsert_patients(
            session, "fhir", [{k: v for k, v in p.items() if not k.startswith("_")} for p in patients]
        )
        missing = {row["_patient"] for row in rows} - ids.keys()
        if missing:
            ids.update({sid: pk for sid, (pk, _c) in _store.existing_patients(session, "fhir", missing).items()})
        for row in rows:
            row["patient_id"] = ids[row.pop("_patient")]
        _store.replace_records(session, "fhir", rows)
        result["unknown_codes"] = unknown_codes(session, rows)
        session.add(
            ClinImport(
                file_name=name[:500],
                sha256=sha256,
                fmt=out.fmt,
                counts=json.dumps(result["resources"]),
                imported_by=actor,
            )
        )
        ledger.record(
            session,
            actor=actor,
            action="clinical.import",
            entity_type="clinical_file",
            entity_id=name[:200],
            change={"format": out.fmt, "resources": result["resources"]},
        )
    _store.refresh_statistics(db, len(rows) + len(patients))
    return result


def fhir_files(path: Path) -> list[Path]:
    """The FHIR files of a folder, in an order where references point backwards: Patient and Encounter NDJSON
    first, then Synthea's organisation/practitioner bundles, then the rest by name."""
    if path.is_file():
        return [path]
    files = [p for p in path.iterdir() if p.is_file() and p.suffix in {".json", ".ndjson"}]

    def rank(p: Path) -> tuple[int, str]:
        stem = p.name.split(".")[0]
        if stem in TYPE_ORDER:
            return TYPE_ORDER[stem], p.name
        if p.name.startswith(("hospitalInformation", "practitionerInformation")):
            return 2, p.name
        return 3, p.name

    return sorted(files, key=rank)


def import_fhir_path(
    db: Database,
    path: Path,
    *,
    actor: str,
    create_participants: bool = False,
    on_file: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Import a file or every FHIR file of a folder, each file its own all-or-nothing unit (a rejected file
    stops the run; the files before it stay imported and are listed).

    The next file is read while this one is checked and written: a large NDJSON file's slices queue in the
    folder's validation processes behind this one's, so the cores are not idle during a write nor between
    files (reading is pure; the next file's references are looked up only once this one is committed). A
    rejected file drops the next one's reading."""
    totals: Counter[str] = Counter()
    files = []
    paths = fhir_files(path)
    with ValidationPool() as pool:
        ahead: list[tuple[Reading, str] | None] = []
        for index, file in enumerate(paths):
            if on_file:
                on_file(file.name)
            while len(ahead) < min(index + 2, len(paths)):  # this file and the next one started
                ahead.append(_start_file(paths[len(ahead)], pool))
            reading, sha256 = ahead[index]  # type: ignore[misc]
            ahead[index] = None
            out = reading.result()
            result = _import_read(db, out, sha256, actor=actor, create_participants=create_participants)
            totals.update(result["resources"])
            files.append(result)
    return {"resources": dict(sorted(totals.items())), "files": files}


def _start_file(file: Path, pool: ValidationPool) -> tuple[Reading, str]:
    """Start reading a file (`start_reading`); its SHA-256 for the import record."""
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        text = "\ufffd"
    return start_reading(file.name, text, pool), hashlib.sha256(text.encode()).hexdigest()
