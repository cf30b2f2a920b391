"""Bulk import of participants and specimens from CSV: validate everything, then write in one transaction.

The one import framework of the domain (formats in docs/import-formats.md):
1. read the file, digest it (SHA-256) and map the header;
2. check every row on its own (types, units, SPREC, barcodes, duplicates within the file);
3. check every row against the database in bulk (existing barcodes, participants and their consent,
   parents, boxes and occupied positions) - inside the write transaction, so nothing changes meanwhile;
4. if any row is bad, raise `ImportRejected` listing each (line, column, reason) and write nothing;
5. otherwise write in chunks (SQLite: one INSERT run as the driver's executemany; PostgreSQL: COPY), parents
   before children (so a row may name a parent that appears later in the file), and append one ledger event
   with the counts and the digest.
Being one transaction, an import killed half-way (even by SIGKILL) leaves the database as it was.

Where each step lives: this module reads the file, runs the steps and writes (the public entry points
`import_participants` and `import_specimens`, `ImportRejected`, `ImportResult`); `import_checks` checks each
row on its own (step 2); `import_db_checks` checks the rows against the database (step 3); `import_sql` holds
the lookups and bulk writes both rely on.

A specimen file first tries the column-wise lane (columnar_import): the same checks on whole columns for a
plainly valid file, ~3x faster; on anything else it steps aside and the row-by-row checks run, so every
rejection names its rows exactly as they do.
"""

from __future__ import annotations

import csv
import gc
import hashlib
import io
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from itertools import repeat
from typing import Any, Literal

import numpy as np
import pyarrow.compute as pc
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lifebank.biobank import columnar_import as columnar
from lifebank.biobank.consent_signatures import SignatureKey, signature_ids, signature_key
from lifebank.biobank.import_checks import (
    IMPORT_STATUSES,
    PARTICIPANT_COLUMNS,
    SPECIMEN_COLUMNS,
    ParsedParticipant,
    _parents_first,
    _parse_time,
    _Row,
    _sprec_check,
    _unit_for,
    check_participant_rows,
    check_specimen_rows,
)
from lifebank.biobank.import_db_checks import (
    SpecimenLookups,
    check_participants_against_db,
    check_specimens_against_db,
    people_with_consent,
)
from lifebank.biobank.import_sql import (
    LOOKUP_CHUNK,
    Advance,
    _bulk_write,
    _chunks,
    _finish,
    _lock_for_import,
    _refresh_statistics,
    _sqlite_timestamps,
    _sync_sequence,
)
from lifebank.biobank.models import Consent, ConsentCode, Container, ContainerType, Participant, PoolMember, Specimen
from lifebank.biobank.specimen_types import lineage_kind
from lifebank.biobank.storage import layout_of
from lifebank.biobank.storage_layout import GridLayout
from lifebank.db.base import utcnow
from lifebank.db.engine import Database
from lifebank.errors import RowError, RowsRejected
from lifebank.messages import Msg

SPECIMEN_INSERT_COLUMNS = ("id", "barcode", "participant_id", "type", "quantity", "unit", "collected_at", "status",
                           "distributable", "lineage", "parent_id", "sprec", "freeze_thaw", "container_id",
                           "position")

Lane = Literal["auto", "columns", "rows"]
ProgressFactory = Callable[[str, int | None, str], AbstractContextManager[Advance]]


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector during a bulk import: the rows make millions of small objects
    (no reference cycles), and each full collection would rescan them all - a large share of the time."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@contextmanager
def _no_progress(_description: str, _total: int | None, _unit: str = "rows") -> Iterator[Advance]:
    yield lambda _n: None


class ImportRejected(RowsRejected):
    """A participant or specimen import with bad rows: nothing was written. `errors` lists every bad row."""

    def __init__(self, kind: str, errors: Sequence[RowError], rows: int) -> None:
        self.kind = kind
        super().__init__(_IMPORT_OF[kind], errors, rows)


# What was rejected, as the summary names it ("participant import rejected, nothing written: ...").
_IMPORT_OF = {"file": Msg("file import"), "participant": Msg("participant import"),
              "specimen": Msg("specimen import")}


@dataclass(frozen=True, slots=True)
class ImportResult:
    kind: str
    rows: int
    sha256: str

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "rows": self.rows, "sha256": self.sha256}


def read_table(content: bytes, required: Sequence[str]) -> tuple[dict[str, int], list[list[str]]]:
    """Header -> column index, and the data rows (line n+1 of the file is rows[n-1])."""
    try:
        decoded = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportRejected("file", [RowError(1, "-", Msg("not UTF-8 text ({problem} at byte {byte})",
                                                           problem=exc.reason, byte=exc.start))], 0) from None
    reader = csv.reader(io.StringIO(decoded, newline=""))
    header = next(reader, None)
    if header is None:
        raise ImportRejected("file", [RowError(1, "-", Msg("the file is empty"))], 0)
    columns = {name.strip().lower(): i for i, name in enumerate(header)}
    missing = [c for c in required if c not in columns]
    if missing:
        raise ImportRejected("file", [RowError(1, c, Msg("required column is missing")) for c in missing], 0)
    return columns, list(reader)


# --- participants --------------------------------------------------------------------------------------

def import_participants(db: Database, content: bytes, *, actor: str,
                        progress: ProgressFactory = _no_progress) -> ImportResult:
    """Participants with their first consent version (DUO codes separated by ';')."""
    with _gc_paused():
        result = _import_participants(db, content, actor=actor, progress=progress)
    _refresh_statistics(db, result.rows, ("bb_participant", "bb_consent", "bb_consent_code"))
    return result


def _import_participants(db: Database, content: bytes, *, actor: str, progress: ProgressFactory) -> ImportResult:
    digest = hashlib.sha256(content).hexdigest()
    columns, rows = read_table(content, PARTICIPANT_COLUMNS)
    with progress("validating participants", len(rows), "rows") as advance:
        errors, seen, parsed = check_participant_rows(rows, columns, advance)
    with db.transaction() as session:
        _lock_for_import(session, "bb_participant")
        check_participants_against_db(session, seen, errors)
        if errors:
            errors.sort(key=lambda e: e.line)
            raise ImportRejected("participant", errors, len(rows))
        written = _write_participants(session, parsed, digest, actor=actor, progress=progress)
    return ImportResult("participants", written, digest)


def _write_participants(session: Session, parsed: list[ParsedParticipant], digest: str, *, actor: str,
                        progress: ProgressFactory) -> int:
    """Participants, their first consent and its DUO codes, with ids assigned up front; returns the count."""
    next_pid = (session.scalar(select(func.max(Participant.id))) or 0) + 1
    next_cid = (session.scalar(select(func.max(Consent.id))) or 0) + 1
    now = utcnow()
    stamp = _sqlite_timestamps() if session.get_bind().dialect.name == "sqlite" else None
    created = stamp(now) if stamp else now
    people: list[tuple[Any, ...]] = []
    consents: list[tuple[Any, ...]] = []
    codes_rows: list[tuple[Any, ...]] = []
    known: dict[tuple[Any, ...], SignatureKey] = {}  # a few distinct consents among many rows: each keyed once
    keys = []
    for _c, _s, _y, _site, duo, consent_date, scope in parsed:
        raw = (tuple(duo), consent_date, scope)
        key = known.get(raw)
        if key is None:
            key = known[raw] = signature_key(duo, consent_date, scope)
        keys.append(key)
    signatures = signature_ids(session, keys)  # each new participant's first consent is the one in force
    for i, (code, sex, year, site, duo, consent_date, scope) in enumerate(parsed):
        people.append((next_pid + i, code, sex, year, site, created, signatures[keys[i]]))
        consents.append((next_cid + i, next_pid + i, 1, consent_date, scope, None, None))
        codes_rows.extend((next_cid + i, d, next_pid + i, True) for d in duo)
    connection = session.connection()
    with progress("writing participants", len(people), "rows") as advance:
        _bulk_write(connection, Participant.__table__,
                    ("id", "code", "sex", "birth_year", "site", "created_at", "consent_signature_id"), people,
                    advance)
        _bulk_write(connection, Consent.__table__, ("id", "participant_id", "version", "consent_date", "scope",
                                                    "withdrawn_at", "withdrawal_reason"), consents)
        _bulk_write(connection, ConsentCode.__table__, ("consent_id", "duo_code", "participant_id", "in_force"),
                    codes_rows)
    _sync_sequence(session, "bb_participant")
    _sync_sequence(session, "bb_consent")
    _finish(session, "participants", len(people), digest, actor, {"consent_codes": len(codes_rows)})
    return len(people)


# --- specimens -----------------------------------------------------------------------------------------

def import_specimens(db: Database, content: bytes, *, actor: str, progress: ProgressFactory = _no_progress,
                     lane: Lane = "auto") -> ImportResult:
    """Specimens with lineage and storage location; see the module docstring for the rules.

    `lane`: "auto" tries the column-wise checks (columnar_import) and falls back to the row-wise ones;
    "rows" or "columns" force one (tests compare what the two write; "columns" raises NotPlain on a file
    that needs the row-wise import)."""
    with _gc_paused():
        result = _import_specimens(db, content, actor=actor, progress=progress, lane=lane)
    _refresh_statistics(db, result.rows, ("bb_specimen",))
    return result


def _import_specimens(db: Database, content: bytes, *, actor: str, progress: ProgressFactory,
                      lane: Lane) -> ImportResult:
    digest = hashlib.sha256(content).hexdigest()
    if lane != "rows":
        header = _header_of(content)
        try:
            if header is None or not all(c in header[0] for c in SPECIMEN_COLUMNS):
                raise columnar.NotPlain("header")
            return _import_plain_specimens(db, content, digest, header, actor=actor, progress=progress)
        except columnar.NotPlain:
            if lane == "columns":
                raise
            # the row-wise import below names whatever is wrong
    columns, raw = read_table(content, SPECIMEN_COLUMNS)
    with progress("validating specimens", len(raw), "rows") as advance:
        errors, rows, line_of = check_specimen_rows(raw, columns, advance)

    with db.transaction() as session:
        _lock_for_import(session, "bb_specimen")
        found = check_specimens_against_db(session, rows, line_of, errors)
        order = _parents_first(rows, found.in_file, errors)
        if errors:
            errors.sort(key=lambda e: (e.line, e.column))
            raise ImportRejected("specimen", errors, len(raw))
        result = _write_specimens(session, order, found, digest, actor=actor, progress=progress)
    return result


def _write_specimens(session: Session, order: list[_Row], found: SpecimenLookups, digest: str, *, actor: str,
                     progress: ProgressFactory) -> ImportResult:
    """Checked specimen rows, parents before children; ids assigned up front so children can point at parents
    from the same file."""
    people, in_file, stored_parents, boxes, index_cache = (found.people, found.in_file, found.stored_parents,
                                                            found.boxes, found.index_cache)
    first_id = (session.scalar(select(func.max(Specimen.id))) or 0) + 1
    on_sqlite = session.get_bind().dialect.name == "sqlite"
    stamp = _sqlite_timestamps() if on_sqlite else None
    ids = {row.barcode: first_id + i for i, row in enumerate(order)}
    # Tuples in the column order of SPECIMEN_INSERT_COLUMNS.
    records: list[tuple[Any, ...]] = []
    pools: list[tuple[int, int]] = []
    distributable: dict[str, bool] = {}
    owner: dict[str, int | None] = {}
    stored = 0
    for row in order:
        sid = ids[row.barcode]
        participant_id: int | None = people[row.participant][0] if row.participant else None
        parent_id: int | None = None
        lineage = "primary"
        dist = True
        if row.parents:
            parent_info = []
            for parent in row.parents:
                if parent in ids:
                    parent_info.append((ids[parent], in_file[parent].type, owner[parent], distributable[parent]))
                else:
                    parent_info.append(stored_parents[parent])
            lineage = lineage_kind([p[1] for p in parent_info], row.type).value
            dist = all(p[3] for p in parent_info)
            if len(parent_info) == 1:
                parent_id = parent_info[0][0]
            else:
                pools.extend((sid, p[0]) for p in parent_info)
            if participant_id is None:
                owners = {p[2] for p in parent_info}
                participant_id = owners.pop() if len(owners) == 1 else None
        distributable[row.barcode] = dist
        owner[row.barcode] = participant_id
        box = boxes[row.box_path] if row.box_path else None
        if box is not None:
            stored += 1
        records.append((
            sid, row.barcode, participant_id, row.type, row.quantity, row.unit,
            stamp(row.collected_at) if stamp else row.collected_at, row.status, dist, lineage, parent_id,
            row.sprec, 0, box.id if box else None, index_cache[(box.id, row.position)] if box else None,
        ))
    connection = session.connection()
    with progress("writing specimens", len(records), "rows") as advance:
        _bulk_write(connection, Specimen.__table__, SPECIMEN_INSERT_COLUMNS, records, advance)
        _bulk_write(connection, PoolMember.__table__, ("pool_id", "parent_id"), pools)
    _sync_sequence(session, "bb_specimen")
    _finish(session, "specimens", len(records), digest, actor, {"stored": stored, "pools": len(pools)})
    return ImportResult("specimens", len(records), digest)


def _header_of(content: bytes) -> tuple[dict[str, int], int] | None:
    """Header -> column index and the header's width, read as read_table reads it (None: not UTF-8)."""
    first = content.split(b"\n", 1)[0]
    try:
        header = next(csv.reader([first.decode("utf-8-sig")]), None)
    except UnicodeDecodeError:
        return None
    if not header:
        return None
    return {name.strip().lower(): i for i, name in enumerate(header)}, len(header)


def _import_plain_specimens(db: Database, content: bytes, digest: str, header: tuple[dict[str, int], int], *,
                            actor: str, progress: ProgressFactory) -> ImportResult:
    """The column-wise lane (see columnar_import): the same checks and the same rows written as the row-wise
    import below, for a file that is plainly valid; `NotPlain` (nothing written) otherwise."""
    columns, width = header
    if len(columns) != width:
        raise columnar.NotPlain("repeated column names")
    on_sqlite = db.dialect == "sqlite"
    stamp = _sqlite_timestamps() if on_sqlite else None
    with progress("validating specimens", None, "rows") as advance:
        checked = columnar.check_columns(content, columns, width, unit_for=_unit_for, sprec_check=_sprec_check,
                                         parse_time=_parse_time, stamp=stamp, statuses=IMPORT_STATUSES)
        advance(checked.rows)
    try:
        with db.transaction() as session:
            return _write_plain_specimens(session, checked, digest, actor=actor, progress=progress)
    except (IntegrityError, sqlite3.IntegrityError, *_driver_integrity_errors(db)):
        # A barcode stored already, or a position taken: the unique constraints said so while inserting,
        # cheaper than looking up every barcode and position first. The row-wise import names the rows.
        raise columnar.NotPlain("a unique constraint") from None


def _driver_integrity_errors(db: Database) -> tuple[type[Exception], ...]:
    """COPY runs on the driver's own cursor, so PostgreSQL's refusal arrives unwrapped."""
    if db.dialect != "postgresql":
        return ()
    import psycopg

    return (psycopg.IntegrityError,)


def _write_plain_specimens(session: Session, checked: columnar.CheckedColumns, digest: str, *, actor: str,
                           progress: ProgressFactory) -> ImportResult:
    _lock_for_import(session, "bb_specimen")
    codes = _distinct_nonempty(checked.participant)
    people = people_with_consent(session, codes)
    owner = columnar.inherit_owners(columnar.participant_ids(checked.participant, people), checked.parent_index)
    boxes: dict[str, tuple[int, GridLayout] | None] = {}
    for chunk in _chunks(_distinct_nonempty(checked.box_path), LOOKUP_CHUNK):
        for box, ctype in session.execute(select(Container, ContainerType)
                                          .join(ContainerType, Container.type_id == ContainerType.id)
                                          .where(Container.name_path.in_(chunk))):
            layout = layout_of(ctype)
            boxes[box.name_path] = (box.id, layout) if layout is not None else None
    box_ids, index = columnar.positions(checked, boxes)

    first_id = (session.scalar(select(func.max(Specimen.id))) or 0) + 1
    n = checked.rows
    parent_ids = np.where(checked.parent_index >= 0, checked.parent_index + first_id, 0)
    # Tuples in the column order of SPECIMEN_INSERT_COLUMNS, zipped column-wise (no object per row).
    records = list(zip(
        range(first_id, first_id + n), checked.barcode, [p or None for p in owner.tolist()], checked.type,
        checked.quantity, checked.unit, checked.collected_at, checked.status, repeat(True, n),
        checked.lineage, [p or None for p in parent_ids.tolist()], checked.sprec, repeat(0, n),
        [b or None for b in box_ids.tolist()], [None if i < 0 else i for i in index.tolist()], strict=True))
    with progress("writing specimens", n, "rows") as advance:
        _bulk_write(session.connection(), Specimen.__table__, SPECIMEN_INSERT_COLUMNS, records, advance)
    _sync_sequence(session, "bb_specimen")
    _finish(session, "specimens", n, digest, actor, {"stored": int((box_ids != 0).sum()), "pools": 0})
    return ImportResult("specimens", n, digest)


def _distinct_nonempty(column: Any) -> list[str]:
    return [v for v in pc.unique(column).to_pylist() if v]
