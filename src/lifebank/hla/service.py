"""Use cases of the HLA registry: grade, import/update/delete donors, search, load MACs and IMGT releases.

The search index lives in memory, one per process and database. It is built lazily from the donor table on the
first search and kept current without rebuilding: every write also appends to `hla_change` (in the same
transaction), and before each search the index applies the changes it has not seen yet - its own and other
processes' (a CLI import while the server runs). Loading a MAC dictionary or an IMGT release re-resolves every
typing, so it invalidates the whole index.
"""

from __future__ import annotations

import csv
import hashlib
import io
import threading
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from lifebank.audit import service as ledger
from lifebank.db.base import utcnow
from lifebank.db.engine import Database
from lifebank.errors import NotFound, RowError, RowsRejected, ValidationFailed
from lifebank.hla.grading import CONFIDENCE_RANK, GRADE_RANK, Grader
from lifebank.hla.index import SearchIndex, build_from_columns
from lifebank.hla.macs import MacDictionary, MacError, load_mac_file
from lifebank.hla.models import HLA_COLUMNS, Change, Donor, MacCode, NomenclatureRelease
from lifebank.hla.nomenclature import (
    ALL_LOCI,
    MATCH_LOCI,
    Nomenclature,
    ReleaseError,
    describe,
    parse_release,
    split_allele,
    vendored,
)
from lifebank.hla.typing import Genotype, LocusTyping, Position, TypingError, TypingParser
from lifebank.messages import N_, Msg

DONOR_TYPES = {"adult": "adult", "a": "adult", "1": "adult", "cord": "cord", "c": "cord", "cbu": "cord",
               "2": "cord"}
SEARCH_LOCI = {"A", "B", "C", "DRB1", "DQB1"}
FORM_ORDER = ("A", "B", "C", "DRB1", "DQB1")  # how coordinators (and the search form) list the loci
CHUNK = 5000
REBUILD = -1  # hla_change.donor_key meaning "every typing must be re-resolved" (MACs or a release loaded)
RELOAD = -2  # hla_change.donor_key meaning "the donor table changed wholesale: rebuild indexes from it"
BULK_CHANGES = 100_000  # a write touching more donors logs one RELOAD instead of a row per donor
CHANGE_LOG_KEEP = 1_000_000  # donor change rows kept; a process further behind rebuilds its index


@dataclass(slots=True)
class DonorRecord:
    """One validated donor, ready to write."""

    donor_id: str
    donor_type: str
    columns: dict[str, str | None]
    registry_code: str | None = None
    abo: str | None = None
    cmv: str | None = None
    sex: str | None = None
    birth_date: date | None = None
    collection_date: date | None = None
    cell_dose: float | None = None
    line: int = 0
    renamed: tuple[tuple[str, str, str], ...] = ()  # (column, name as typed, IMGT's current name)

    def row(self) -> dict[str, Any]:
        out: dict[str, Any] = {"donor_id": self.donor_id, "donor_type": self.donor_type,
                               "registry_code": self.registry_code, "abo": self.abo, "cmv": self.cmv,
                               "sex": self.sex, "birth_date": self.birth_date, "collection_date": self.collection_date,
                               "cell_dose": self.cell_dose}
        out.update({column.lower(): self.columns.get(column) for column in HLA_COLUMNS})
        return out


@dataclass(slots=True)
class Context:
    """What one process needs to type and search: nomenclature, MACs, parsers, grader and the index.

    `parser` reads typings entered now (patients, grade requests) and refuses renamed names; `registry` reads
    donor records, which were typed under older releases, and follows IMGT's renames.
    """

    nom: Nomenclature
    macs: MacDictionary
    parser: TypingParser
    registry: TypingParser
    grader: Grader
    index: SearchIndex | None = None
    seen_change: int = 0
    config_seq: int = 0  # the last "re-resolve everything" change this context has loaded
    lock: threading.RLock = field(default_factory=threading.RLock)

    def position_of(self, locus: str, text: str) -> Position | None:
        """A stored donor typing as the index reads it; None when it does not parse (a MAC not loaded yet, a
        name deleted without successor), which the index counts as untyped."""
        try:
            return self.registry.position(text, locus)
        except TypingError:
            return None


_contexts: weakref.WeakKeyDictionary[Database, Context] = weakref.WeakKeyDictionary()
_contexts_lock = threading.Lock()


# -- context -------------------------------------------------------------------------------------------------------
def _load_context(db: Database) -> Context:
    with db.session() as session:
        release = session.get(NomenclatureRelease, 1)
        codes = dict(session.execute(select(MacCode.code, MacCode.expansion)).all())
        config_seq = _last_rebuild(session)
    nom = vendored()
    if release is not None and Path(release.folder).is_dir():
        nom = parse_release(Path(release.folder))
    macs = MacDictionary(codes)
    return Context(nom, macs, TypingParser(nom, macs), TypingParser(nom, macs, follow_renames=True), Grader(nom),
                   config_seq=config_seq)


def _last_rebuild(session: Session) -> int:
    return session.execute(select(func.max(Change.seq)).where(Change.donor_key == REBUILD)).scalar_one() or 0


def fresh_context(db: Database) -> Context:
    """The process's context, reloaded first if a MAC dictionary or a release has been loaded since (by any
    process); the index then re-reads its distinct typing texts with the new parser instead of being rebuilt."""
    ctx = context(db)
    with db.session() as session:
        last = _last_rebuild(session)
    if last > ctx.config_seq:
        with ctx.lock:
            fresh = _load_context(db)
            ctx.nom, ctx.macs, ctx.grader = fresh.nom, fresh.macs, fresh.grader
            ctx.parser, ctx.registry = fresh.parser, fresh.registry
            ctx.config_seq = fresh.config_seq
            if ctx.index is not None:
                ctx.index.reresolve(ctx.position_of)
    return ctx


def context(db: Database) -> Context:
    with _contexts_lock:
        ctx = _contexts.get(db)
        if ctx is None:
            ctx = _load_context(db)
            _contexts[db] = ctx
        return ctx


def reset(db: Database) -> None:
    """Forget the process's nomenclature, MACs and index for `db` (they reload on next use)."""
    with _contexts_lock:
        _contexts.pop(db, None)


WHAT = {"typing": N_("typing"), "patient": N_("patient"), "donor": N_("donor")}


def parse(db: Database, gl: str, what: str = "typing") -> Genotype:
    try:
        return fresh_context(db).parser.genotype(gl)
    except TypingError as exc:
        raise ValidationFailed("{what}: {reason}", what=Msg(WHAT.get(what, what)), reason=exc.message) from None


def describe_allele(db: Database, name: str) -> dict[str, Any]:
    """The loaded release's view of one allele name (groups, ARD name, antigens, TCE, deletions)."""
    name = name.strip().removeprefix("HLA-")
    nom = fresh_context(db).nom
    found = describe(nom, name)
    if found is None:
        if split_allele(name) is None:
            raise ValidationFailed("{name!r} is not shaped like an allele name (e.g. A*01:01:01:01)", name=name)
        raise NotFound("{name} is not an allele of IPD-IMGT/HLA {release}", name=name, release=nom.version)
    return found


# -- grading -------------------------------------------------------------------------------------------------------
def grade(db: Database, patient_gl: str, donor_gl: str) -> dict[str, Any]:
    ctx = fresh_context(db)
    patient, donor = parse(db, patient_gl, "patient"), parse(db, donor_gl, "donor")
    return ctx.grader.grade(patient, donor).as_dict()


# -- import --------------------------------------------------------------------------------------------------------
def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip().strip("'\"").strip()
    return None if value == "" or value.upper() == "NULL" else value


def _date(value: str | None, line: int, column: str, errors: list[RowError]) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors.append(RowError(line, column, Msg("{value!r} is not a date (YYYY-MM-DD)", value=value)))
        return None


def _records_from_table(text: str, errors: list[RowError]) -> list[tuple[int, dict[str, str | None]]]:
    delimiter = "\t" if "\t" in text.split("\n", 1)[0] else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    header = next(reader, None)
    if header is None:
        errors.append(RowError(1, "header", Msg("empty file")))
        return []
    header = [_clean(h) or "" for h in header]
    missing = [c for c in ("DonorId", *HLA_COLUMNS) if c not in header]
    if missing:
        errors.append(RowError(1, "header", Msg("missing column(s) {columns}", columns=", ".join(missing))))
        return []
    out = []
    for number, values in enumerate(reader, start=2):
        if not any(v.strip() for v in values):
            continue
        if len(values) != len(header):
            errors.append(RowError(number, "row", Msg("{count} fields, header has {header}", count=len(values),
                                                      header=len(header))))
            continue
        out.append((number, {h: _clean(v) for h, v in zip(header, values, strict=True)}))
    return out


def _records_from_gl(text: str, parser: TypingParser, donor_type: str,
                     errors: list[RowError]) -> list[tuple[int, dict[str, str | None]]]:
    out = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        donor_id, sep, gl = line.strip().partition("%")
        if not sep:
            errors.append(RowError(number, "line", Msg("expected ID%GLSTRING")))
            continue
        try:
            genotype = parser.genotype(gl)
        except TypingError as exc:
            errors.append(RowError(number, "GLSTRING", exc.message))
            continue
        row: dict[str, str | None] = {"DonorId": donor_id.strip(), "DonorType": donor_type}
        for locus in ALL_LOCI:
            typing = genotype.get(locus)
            row[f"{locus}_1"] = typing.first.text if typing else None
            row[f"{locus}_2"] = typing.second.text if typing and typing.second is not typing.first else None
        out.append((number, row))
    return out


def validate_donors(db: Database, text: str, *, donor_type: str = "adult") -> tuple[list[DonorRecord], list[RowError]]:
    """Check every row; return the records and every error (line, column, reason). Writes nothing."""
    ctx = fresh_context(db)
    errors: list[RowError] = []
    first = next((line for line in text.splitlines() if line.strip()), "")
    if "%" in first and "," not in first.split("%")[0] and "\t" not in first:
        raw = _records_from_gl(text, ctx.registry, donor_type, errors)
    else:
        raw = _records_from_table(text, errors)
    records: list[DonorRecord] = []
    seen: dict[str, int] = {}
    for number, row in raw:
        before = len(errors)
        donor_id = row.get("DonorId")
        if not donor_id:
            errors.append(RowError(number, "DonorId", Msg("missing donor id")))
        elif len(donor_id) > 64:
            errors.append(RowError(number, "DonorId", Msg("longer than 64 characters")))
        elif donor_id in seen:
            errors.append(RowError(number, "DonorId", Msg("{donor} repeats line {line}", donor=donor_id,
                                                          line=seen[donor_id])))
        else:
            seen[donor_id] = number
        kind = DONOR_TYPES.get((row.get("DonorType") or donor_type).lower())
        if kind is None:
            errors.append(RowError(number, "DonorType", Msg("{value!r} is not adult/cord (or 1/2)",
                                                            value=row.get("DonorType"))))
        columns: dict[str, str | None] = {}
        renamed: list[tuple[str, str, str]] = []
        for locus in ALL_LOCI:
            a, b = row.get(f"{locus}_1"), row.get(f"{locus}_2")
            columns[f"{locus}_1"], columns[f"{locus}_2"] = a, b
            for column, value in ((f"{locus}_1", a), (f"{locus}_2", b)):
                if value is None:
                    continue
                try:
                    position = ctx.registry.position(value, locus)
                    renamed += [(column, old, new) for old, new in position.renamed]
                except TypingError as exc:
                    errors.append(RowError(number, column, exc.message))
        # Legacy donors typed at A and B only are kept (flagged incompletely typed in searches, ranked through
        # their match probabilities); A and B are the least a registry record carries.
        for locus in ("A", "B"):
            if columns[f"{locus}_1"] is None and columns[f"{locus}_2"] is None:
                errors.append(RowError(number, f"{locus}_1", Msg("{locus} must be typed (A and B at least)",
                                                                 locus=locus)))
        dose = None
        if (raw_dose := row.get("CellDose")) is not None:
            try:
                dose = float(raw_dose)
                if dose < 0:
                    raise ValueError
            except ValueError:
                errors.append(RowError(number, "CellDose", Msg("{value!r} is not a non-negative number",
                                                               value=raw_dose)))
        abo = row.get("ABO")
        if abo is not None and abo.upper().rstrip("+-") not in {"A", "B", "AB", "O"}:
            errors.append(RowError(number, "ABO", Msg("{value!r} is not A, B, AB or O (optionally + or -)",
                                                      value=abo)))
        sex = row.get("Sex")
        if sex is not None and sex.strip().upper()[:1] not in {"F", "M", "U"}:
            errors.append(RowError(number, "Sex", Msg("{value!r} is not F, M or U", value=sex)))
        cmv = row.get("CMV")
        if cmv is not None and cmv.lower() not in {"positive", "negative", "pos", "neg", "+", "-"}:
            errors.append(RowError(number, "CMV", Msg("{value!r} is not positive/negative", value=cmv)))
        birth = _date(row.get("BirthDate"), number, "BirthDate", errors)
        collected = _date(row.get("CollectionDate"), number, "CollectionDate", errors)
        if len(errors) == before and donor_id and kind:
            records.append(DonorRecord(
                donor_id=donor_id, donor_type=kind, columns=columns, registry_code=row.get("RegistryCode"),
                abo=abo.upper() if abo else None, sex=sex.strip().upper()[:1] if sex else None,
                cmv=None if cmv is None else ("positive" if cmv.lower() in {"positive", "pos", "+"} else "negative"),
                birth_date=birth, collection_date=collected, cell_dose=dose, line=number,
                renamed=tuple(dict.fromkeys(renamed))))
    return records, errors


@dataclass(frozen=True, slots=True)
class ImportResult:
    rows: int
    added: int
    updated: int
    sha256: str
    renamed: tuple[dict[str, Any], ...] = ()  # typings that used names IMGT has since renamed

    def as_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "added": self.added, "updated": self.updated, "sha256": self.sha256,
                "renamed": list(self.renamed)}


def import_donors(db: Database, text: str, *, actor: str, donor_type: str = "adult") -> ImportResult:
    """Validate every row, then write all of them in one transaction (new donors added, known ones updated)."""
    records, errors = validate_donors(db, text, donor_type=donor_type)
    if errors:
        raise RowsRejected(Msg("donor import"), errors, len(records) + len({e.line for e in errors}))
    digest = hashlib.sha256(text.encode()).hexdigest()
    return write_donors(db, records, actor=actor, digest=digest)


def write_donors(db: Database, records: Sequence[DonorRecord], *, actor: str, digest: str,
                 progress: Any = None) -> ImportResult:
    now = utcnow()
    added = updated = 0
    with db.transaction() as session:
        ids = [r.donor_id for r in records]
        existing: dict[str, int] = {}
        for start in range(0, len(ids), 900):
            chunk = ids[start: start + 900]
            existing.update(session.execute(select(Donor.donor_id, Donor.id).where(Donor.donor_id.in_(chunk)))
                            .all())
        new_rows = [dict(r.row(), revision=1, created_at=now, updated_at=now)
                    for r in records if r.donor_id not in existing]
        for start in range(0, len(new_rows), CHUNK):
            session.execute(insert(Donor), new_rows[start: start + CHUNK])
            if progress:
                progress(len(new_rows[start: start + CHUNK]))
        added = len(new_rows)
        for r in records:
            if r.donor_id in existing:
                session.execute(update(Donor).where(Donor.id == existing[r.donor_id])
                                .values(**r.row(), revision=Donor.revision + 1, updated_at=now))
                updated += 1
        keys: list[int] = list(existing[r.donor_id] for r in records if r.donor_id in existing)
        new_ids = [r["donor_id"] for r in new_rows]
        for start in range(0, len(new_ids), 900):
            keys += session.execute(select(Donor.id).where(Donor.donor_id.in_(new_ids[start: start + 900])))\
                .scalars().all()
        _log_changes(session, keys)
        renamed = tuple({"line": r.line, "donor_id": r.donor_id, "column": column, "typed": old, "current": new}
                        for r in records for column, old, new in r.renamed)
        ledger.record(session, actor=actor, action="hla.donors.import", entity_type="hla_import", entity_id=digest[:16],
                      change={"rows": len(records), "added": added, "updated": updated, "sha256": digest,
                              "renamed": len(renamed)})
    return ImportResult(len(records), added, updated, digest, renamed)


def _log_changes(session: Session, keys: Iterable[int]) -> None:
    """Record donor writes for other processes' indexes, and keep the log bounded.

    A bulk write logs one RELOAD marker: replaying a million single-donor changes costs more than rebuilding.
    Donor rows older than the newest CHANGE_LOG_KEEP are pruned (REBUILD markers never are: a process must
    not miss a MAC dictionary or release); a process that was further behind sees the gap and rebuilds.
    """
    keys = list(keys)
    rows = [{"donor_key": RELOAD}] if len(keys) > BULK_CHANGES else [{"donor_key": k} for k in keys]
    for start in range(0, len(rows), CHUNK):
        session.execute(insert(Change), rows[start: start + CHUNK])
    top = session.execute(select(func.max(Change.seq))).scalar_one() or 0
    if top > CHANGE_LOG_KEEP:
        session.execute(delete(Change).where(Change.seq <= top - CHANGE_LOG_KEEP, Change.donor_key != REBUILD))


# -- single donors -------------------------------------------------------------------------------------------------
def _donor_row(session: Session, donor_id: str) -> Donor:
    donor = session.execute(select(Donor).where(Donor.donor_id == donor_id)).scalar_one_or_none()
    if donor is None:
        raise NotFound("donor {donor!r} not found", donor=donor_id)
    return donor


def donor_dict(donor: Donor) -> dict[str, Any]:
    return {"donor_id": donor.donor_id, "donor_type": donor.donor_type, "registry": donor.registry_code,
            "abo": donor.abo, "cmv": donor.cmv, "sex": donor.sex, "birth_date": donor.birth_date,
            "collection_date": donor.collection_date, "cell_dose": donor.cell_dose,
            "hla": {column: getattr(donor, column.lower()) for column in HLA_COLUMNS}, "revision": donor.revision}


def get_donor(db: Database, donor_id: str) -> dict[str, Any]:
    with db.session() as session:
        return donor_dict(_donor_row(session, donor_id))


def list_donors(db: Database, *, limit: int = 50, offset: int = 0,
                donor_type: str | None = None) -> tuple[int, list[dict[str, Any]]]:
    with db.session() as session:
        query = select(Donor)
        count = select(func.count()).select_from(Donor)
        if donor_type:
            query, count = query.where(Donor.donor_type == donor_type), count.where(Donor.donor_type == donor_type)
        total = session.execute(count).scalar_one()
        rows = session.execute(query.order_by(Donor.id).limit(limit).offset(offset)).scalars().all()
        return total, [donor_dict(d) for d in rows]


def update_donor(db: Database, donor_id: str, changes: dict[str, Any], *, actor: str) -> dict[str, Any]:
    """Change a donor's typing or attributes (keys as in the import header: A_1 ..., CellDose, ABO, CMV, Sex ...)."""
    with db.session() as session:
        current = donor_dict(_donor_row(session, donor_id))
    row: dict[str, str | None] = {"DonorId": donor_id, "DonorType": current["donor_type"],
                                  "RegistryCode": current["registry"], "ABO": current["abo"], "CMV": current["cmv"],
                                  "Sex": current["sex"],
                                  "CellDose": None if current["cell_dose"] is None else str(current["cell_dose"]),
                                  "BirthDate": current["birth_date"] and current["birth_date"].isoformat(),
                                  "CollectionDate": current["collection_date"] and
                                  current["collection_date"].isoformat(), **current["hla"]}
    unknown = set(changes) - set(row) - {"DonorType"}
    if unknown:
        raise ValidationFailed("unknown donor field(s): {fields}", fields=", ".join(sorted(unknown)))
    row.update({k: None if v is None else str(v) for k, v in changes.items()})
    header = list(row)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerow(["" if row[h] is None else row[h] for h in header])
    records, errors = validate_donors(db, buffer.getvalue())
    if errors:
        raise RowsRejected(Msg("donor update"), errors, 1, title="Validation failed")
    record = records[0]
    with db.transaction() as session:
        donor = _donor_row(session, donor_id)
        session.execute(update(Donor).where(Donor.id == donor.id)
                        .values(**record.row(), revision=Donor.revision + 1, updated_at=utcnow()))
        _log_changes(session, [donor.id])
        ledger.record(session, actor=actor, action="hla.donor.update", entity_type="hla_donor", entity_id=donor_id,
                      change={k: changes[k] for k in sorted(changes)})
    return get_donor(db, donor_id)


def delete_donor(db: Database, donor_id: str, *, actor: str) -> None:
    with db.transaction() as session:
        donor = _donor_row(session, donor_id)
        key = donor.id
        session.execute(delete(Donor).where(Donor.id == key))
        _log_changes(session, [key])
        ledger.record(session, actor=actor, action="hla.donor.delete", entity_type="hla_donor", entity_id=donor_id,
                      change={"donor_id": donor_id})


# -- index ---------------------------------------------------------------------------------------------------------
_TYPING_COLUMNS = [getattr(Donor, c.lower()) for c in HLA_COLUMNS]


def _loci_of(parser: TypingParser, values: Sequence[str | None]) -> dict[str, LocusTyping | None]:
    loci: dict[str, LocusTyping | None] = {}
    for i, locus in enumerate(ALL_LOCI):
        try:
            loci[locus] = parser.locus_typing(locus, values[2 * i], values[2 * i + 1])
        except TypingError:
            loci[locus] = None  # typed under an older release/dictionary and no longer valid: treated untyped
    return loci


def _apply_changes(session: Session, ctx: Context, index: SearchIndex, changes: Sequence[int]) -> None:
    """Bring `index` up to date with these donor writes (REBUILD markers were handled by fresh_context)."""
    keys = sorted(set(changes) - {REBUILD})
    found: dict[int, Any] = {}
    for start in range(0, len(keys), 900):
        for row in session.execute(select(Donor.id, Donor.donor_type, Donor.cell_dose, *_TYPING_COLUMNS)
                                   .where(Donor.id.in_(keys[start: start + 900]))):
            found[row[0]] = row
    for key in keys:
        row = found.get(key)
        if row is None:
            index.remove(key)
        else:
            index.add_values(key, row[1], row[2], row[3:], ctx.position_of)


def _index(db: Database, ctx: Context) -> SearchIndex:
    """The context's index, built on first use and brought up to date with `hla_change`."""
    with ctx.lock:
        with db.session() as session:
            last = session.execute(select(func.max(Change.seq))).scalar_one() or 0
            if ctx.index is not None and last > ctx.seen_change:
                # Rows this process has not seen may have been pruned: then the oldest donor row is past them.
                oldest = session.execute(select(func.min(Change.seq)).where(Change.donor_key != REBUILD)
                                         ).scalar_one() or 0
                changes = session.execute(select(Change.donor_key).where(Change.seq > ctx.seen_change)
                                          .order_by(Change.seq)).scalars().all()
                if (oldest > ctx.seen_change + 1 or RELOAD in changes
                        or len(changes) > max(BULK_CHANGES, len(ctx.index) // 10)):
                    ctx.index = None  # cheaper (or, after pruning, only possible) to rebuild from the table
                else:
                    _apply_changes(session, ctx, ctx.index, changes)
                    ctx.seen_change = last
            if ctx.index is None:
                rows = session.execute(select(Donor.id, Donor.donor_type, Donor.cell_dose, *_TYPING_COLUMNS)
                                       .order_by(Donor.id).execution_options(yield_per=50_000))
                ctx.index = build_from_columns(rows, ctx.position_of)
                ctx.seen_change = last
        return ctx.index


def warm_up(db: Database) -> None:
    """Build the search index now (the server calls this at start) instead of on the first search, then impute
    every donor typing with the default frequency set so the first probability search does not."""
    _index(db, fresh_context(db))
    from lifebank.hla import prediction

    prediction.precompute(db)


def index_status(db: Database) -> dict[str, Any]:
    ctx = fresh_context(db)
    index = _index(db, ctx)
    return {"donors": len(index), "memory_bytes": index.memory_bytes(), "nomenclature": ctx.nom.version,
            "macs": len(ctx.macs)}


# -- search --------------------------------------------------------------------------------------------------------
def parse_loci(loci: str | Sequence[str] | None) -> tuple[str, ...]:
    if loci is None or loci == "":
        return tuple(sorted(SEARCH_LOCI, key=list(MATCH_LOCI).index))
    names = [x.strip().upper() for x in (loci.split(",") if isinstance(loci, str) else loci) if x.strip()]
    bad = [x for x in names if x not in SEARCH_LOCI]
    if bad:
        raise ValidationFailed("loci: {loci} cannot be matched (choose from A, B, C, DRB1, DQB1)",
                               loci=", ".join(bad))
    if not {"A", "B", "DRB1"} <= set(names):
        raise ValidationFailed("loci: A, B and DRB1 are always matched")
    return tuple(locus for locus in MATCH_LOCI if locus in names)


def search(db: Database, patient_gl: str, *, max_mismatches: int = 0, loci: str | Sequence[str] | None = None,
           donor_type: str | None = None, limit: int = 20, offset: int = 0,
           locus_caps: dict[str, int] | None = None, frequencies: str | None = None,
           min_probability: float | None = None, patient_population: str | None = None,
           probabilities: bool = True) -> dict[str, Any]:
    """Ranked donors within `max_mismatches` (0-4); each result explains every locus.

    With `probabilities` (the default) every candidate gets its match probabilities from haplotype frequencies
    (`prediction.search_probabilities`), and the ranking is P(10/10), then P(9/10), then the grades (a donor
    whose probabilities are unknown - no set explains its typing - comes after those with one, by grade);
    `min_probability` keeps donors with P(10/10) (P(8/8) for an 8/8 search) at least that.
    """
    if not 0 <= max_mismatches <= 4:
        raise ValidationFailed("max_mismatches: {value} is not between 0 and 4", value=max_mismatches)
    if donor_type is not None and donor_type not in {"adult", "cord"}:
        raise ValidationFailed("donor_type: {value!r} is not adult or cord", value=donor_type)
    if limit < 1 or limit > 1000 or offset < 0:
        raise ValidationFailed("limit must be 1-1000 and offset >= 0")
    match_loci = parse_loci(loci)
    caps = dict(locus_caps or {})
    for locus, cap in caps.items():
        if locus not in match_loci or not 0 <= cap <= 2:
            raise ValidationFailed("locus cap {locus}={cap}: locus must be matched and the cap 0-2", locus=locus,
                                   cap=cap)
    ctx = fresh_context(db)
    index = _index(db, ctx)
    patient = parse(db, patient_gl, "patient")
    missing = [locus for locus in ("A", "B", "DRB1") if patient.get(locus) is None]
    if missing:
        raise ValidationFailed("patient: {loci} must be typed to search", loci=", ".join(missing))

    def scorer(p: Any, d: Any) -> tuple[int, int]:
        g = ctx.grader.position(p, d)
        return GRADE_RANK[g.grade], CONFIDENCE_RANK[g.confidence]

    if min_probability is not None and not 0 <= min_probability <= 1:
        raise ValidationFailed("min_probability: {value} is not between 0 and 1", value=min_probability)
    if min_probability is not None and not probabilities:
        raise ValidationFailed("min_probability needs the match probabilities")
    chances: dict[str, Any] | None = None
    with ctx.lock:
        if not probabilities:
            outcome = index.search(dict(patient.loci), max_mismatches=max_mismatches, match_loci=match_loci,
                                   locus_caps=caps, donor_type=donor_type, offset=offset, limit=limit,
                                   scorer=scorer)
            page_rows, total = outcome.rows, outcome.total
        else:
            from lifebank.hla import prediction

            # Every candidate, in grade order; then the probabilities re-rank them. The ranked list is kept for
            # the next pages (and the export) until the registry or the sets change.
            memo_key = (id(index), ctx.seen_change, len(index), patient.gl_string(), max_mismatches, match_loci,
                        tuple(sorted(caps.items())), donor_type, frequencies, min_probability, patient_population,
                        prediction.sets_version(db))
            cached = _ranked_memo.get(memo_key)
            if cached is not None and cached[0] is not index:
                cached = None  # another index that happens to have the same id (a database closed since)
            if cached is None:
                outcome = index.search(dict(patient.loci), max_mismatches=max_mismatches, match_loci=match_loci,
                                       locus_caps=caps, donor_type=donor_type, offset=0, limit=2**31 - 1,
                                       scorer=scorer)
                rows = outcome.rows
                chances = prediction.search_probabilities(db, index, dict(patient.loci), rows,
                                                          frequencies=frequencies,
                                                          patient_population=patient_population)
                headline = "p10of10" if "DQB1" in match_loci else "p8of8"
                second = "p9of10" if "DQB1" in match_loci else "p7of8"
                p_top = np.nan_to_num(chances[headline], nan=-1.0)
                keep = np.ones(len(rows), dtype=bool) if min_probability is None else p_top >= min_probability
                order = np.flatnonzero(keep)
                order = order[np.lexsort((order, -np.nan_to_num(chances[second][order], nan=-1.0),
                                          -p_top[order]))]
                _ranked_memo[memo_key] = (index, rows, chances, order)
                while len(_ranked_memo) > 16:
                    _ranked_memo.pop(next(iter(_ranked_memo)))
            else:
                _, rows, chances, order = cached
            total = len(order)
            page = order[offset: offset + limit]
            page_rows = rows[page]
            chances = _page_chances(chances, page)
        keys = index.keys[page_rows].tolist()
    items = []
    with db.session() as session:
        donors = {d.id: d for d in session.execute(select(Donor).where(Donor.id.in_(keys))).scalars()} if keys else {}
    for i, key in enumerate(keys):
        donor = donors.get(key)
        if donor is None:
            continue
        typed = _loci_of(ctx.registry, [getattr(donor, c.lower()) for c in HLA_COLUMNS])
        result = ctx.grader.grade(patient, Genotype({k: v for k, v in typed.items() if v is not None}), match_loci)
        body = result.as_dict()
        shown = [locus for locus in FORM_ORDER if locus in match_loci]  # as the search form lists them
        compared = [locus for locus in shown if not body["loci"][locus]["untyped"]]
        untyped = [locus for locus in shown if body["loci"][locus]["untyped"]]
        item = {"donor_id": donor.donor_id, "donor_type": donor.donor_type, "registry": donor.registry_code,
                "cell_dose": donor.cell_dose, "abo": donor.abo, "cmv": donor.cmv, "sex": donor.sex,
                "mismatch_count": body["mismatch_count"], "match": f"{2 * len(compared) - body['mismatch_count']}/"
                f"{2 * len(compared)}", "compared": compared, "untyped": untyped,
                "incompletely_typed": any(typed.get(locus) is None for locus in MATCH_LOCI),
                "loci": body["loci"], "dpb1_tce": body["dpb1_tce"]}
        if chances is not None:
            for name in ("p10of10", "p9of10", "p8of8", "p7of8"):
                value = chances[name][i]
                item[name] = None if np.isnan(value) else float(value)
            for locus in match_loci:
                p = [chances["loci"][locus][k][i] for k in range(3)]
                item["loci"][locus].update({f"p{k}": None if np.isnan(v) else float(v) for k, v in enumerate(p)})
            item["frequencies"] = chances["set"][i]
        item["match_label"] = str(match_label(item, match_loci))
        items.append(item)
    answer = {"total": total, "limit": limit, "offset": offset, "loci": list(match_loci), "items": items}
    if chances is not None:
        answer["patient_frequencies"] = chances["patient_set"]
        answer["patient_unexplained"] = [{"locus": locus, "typing": text}
                                         for locus, text in chances["patient_unexplained"]]
    return answer


_ranked_memo: dict[tuple[Any, ...], tuple[SearchIndex, np.ndarray, dict[str, Any], np.ndarray]] = {}


def _page_chances(chances: dict[str, Any], page: np.ndarray) -> dict[str, Any]:
    out = {key: chances[key][page] for key in ("p10of10", "p9of10", "p8of8", "p7of8", "set")}
    out["loci"] = {locus: tuple(v[page] for v in values) for locus, values in chances["loci"].items()}
    out["patient_set"], out["patient_unexplained"] = chances["patient_set"], chances["patient_unexplained"]
    return out


def match_label(item: dict[str, Any], match_loci: Sequence[str]) -> Msg:
    """What a coordinator reads: the loci compared, those not typed, and P(10/10) (or P(8/8)) when known -
    never "10/10" for loci nobody compared ("6/6 on A, B, DRB1; C, DQB1 untyped - P(10/10) = 0.62")."""
    headline = ("P(10/10)", "p10of10") if "DQB1" in match_loci else ("P(8/8)", "p8of8")
    p = item.get(headline[1])
    compared = ", ".join(item["compared"])
    if item["untyped"]:
        base = Msg("{match} on {compared}; {untyped} untyped", match=item["match"], compared=compared,
                   untyped=", ".join(item["untyped"]))
    else:
        base = Msg("{match} on {compared}", match=item["match"], compared=compared)
    if p is None:
        return base
    return Msg("{base} - {name} = {p}", base=base, name=headline[0], p=f"{p:.2f}")


# -- reference data ------------------------------------------------------------------------------------------------
def load_macs(db: Database, path: Path, *, actor: str) -> dict[str, Any]:
    """Replace the MAC dictionary; every donor typing is re-resolved on the next search."""
    try:
        macs = load_mac_file(path)
    except MacError as exc:
        raise ValidationFailed(exc.message) from None
    except OSError as exc:
        raise ValidationFailed("cannot read {path}: {reason}", path=str(path),
                               reason=exc.strerror or str(exc)) from None
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    rows = [{"code": code, "expansion": expansion} for code, expansion in macs.codes.items()]
    with db.transaction() as session:
        session.execute(delete(MacCode))
        for start in range(0, len(rows), CHUNK):
            session.execute(insert(MacCode), rows[start: start + CHUNK])
        session.execute(insert(Change), [{"donor_key": REBUILD}])
        ledger.record(session, actor=actor, action="hla.macs.load", entity_type="hla_mac", entity_id=digest[:16],
                      change={"codes": len(rows), "sha256": digest})
    return {"codes": len(rows), "sha256": digest}


def load_nomenclature(db: Database, folder: Path, *, actor: str) -> dict[str, Any]:
    """Use another IPD-IMGT/HLA release folder (read in place: IMGT asks not to mirror its files)."""
    try:
        folder = Path(folder).expanduser().resolve()  # a path with a NUL byte is a ValueError here
        nom = parse_release(folder)
    except ReleaseError as exc:
        raise ValidationFailed(exc.message) from None
    except (OSError, ValueError) as exc:
        raise ValidationFailed("cannot read the IPD-IMGT/HLA release in {folder}: {reason}", folder=str(folder),
                               reason=str(exc)) from None
    with db.transaction() as session:
        release = session.get(NomenclatureRelease, 1)
        if release is None:
            session.add(NomenclatureRelease(id=1, version=nom.version, folder=str(folder), loaded_at=utcnow()))
        else:
            release.version, release.folder, release.loaded_at = nom.version, str(folder), utcnow()
        session.execute(insert(Change), [{"donor_key": REBUILD}])
        ledger.record(session, actor=actor, action="hla.nomenclature.load", entity_type="hla_release",
                      entity_id=nom.version, change={"folder": str(folder), "alleles": len(nom.alleles)})
    return {"version": nom.version, "alleles": len(nom.alleles), "folder": str(folder)}
