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

A specimen file first tries the column-wise lane (columnar_import): the same checks on whole columns for a
plainly valid file, ~3x faster; on anything else it steps aside and the row-by-row checks below run, so
every rejection names its rows exactly as they do.
"""

from __future__ import annotations

import csv
import gc
import hashlib
import io
import operator
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from itertools import repeat
from typing import Any, Literal

import numpy as np
import pyarrow.compute as pc
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lifebank.audit import service as ledger
from lifebank.biobank import columnar_import as columnar
from lifebank.biobank.barcode import BARCODE_PATTERN
from lifebank.biobank.duo import parse_duo_codes
from lifebank.biobank.models import (
    Consent,
    ConsentCode,
    Container,
    ContainerType,
    ImportRun,
    Participant,
    PoolMember,
    Specimen,
)
from lifebank.biobank.service import SEXES, layout_of
from lifebank.biobank.specimen_types import (
    FINAL_STATUSES,
    MAX_QUANTITY,
    SPECIMEN_TYPES,
    LineageError,
    LineageKind,
    lineage_kind,
    normalise_unit,
    quantity_too_large,
)
from lifebank.biobank.sprec import SprecError, parse_sprec
from lifebank.biobank.storage_layout import GridLayout, LayoutError
from lifebank.db.base import utcnow
from lifebank.db.engine import Database
from lifebank.errors import RowError, RowsRejected

PARTICIPANT_COLUMNS = ("participant", "sex", "birth_year", "site", "consent_codes", "consent_date")
SPECIMEN_COLUMNS = ("barcode", "participant", "type", "quantity", "unit", "collected_at", "parent_barcode", "sprec",
                    "location")
# Optional column `status`: a historic specimen may arrive already used up (reserved/in_use need the service).
IMPORT_STATUSES = ("available", "consumed", "destroyed", "distributed")
SPECIMEN_INSERT_COLUMNS = ("id", "barcode", "participant_id", "type", "quantity", "unit", "collected_at", "status",
                           "distributable", "lineage", "parent_id", "sprec", "freeze_thaw", "container_id",
                           "position")
CHUNK = 5000
LOOKUP_CHUNK = 5000  # bound parameters per IN (...) lookup (SQLite allows 32766, PostgreSQL 65535)

Advance = Callable[[int], None]
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
        super().__init__(f"{kind} import", errors, rows)


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
        raise ImportRejected("file", [RowError(1, "-", f"not UTF-8 text ({exc.reason} at byte {exc.start})")], 0) \
            from None
    reader = csv.reader(io.StringIO(decoded, newline=""))
    header = next(reader, None)
    if header is None:
        raise ImportRejected("file", [RowError(1, "-", "the file is empty")], 0)
    columns = {name.strip().lower(): i for i, name in enumerate(header)}
    missing = [c for c in required if c not in columns]
    if missing:
        raise ImportRejected("file", [RowError(1, c, "required column is missing") for c in missing], 0)
    return columns, list(reader)


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _insert_sql(table: Any, columns: Sequence[str], paramstyle: str) -> str:
    """A positional INSERT for the driver's executemany, checked against the table's metadata."""
    unknown = [c for c in columns if c not in table.c]
    if unknown:
        raise RuntimeError(f"{table.name} has no column(s) {unknown}")
    marker = "?" if paramstyle == "qmark" else "%s"
    return f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join([marker] * len(columns))})"


def _bulk_write(connection: Any, table: Any, columns: Sequence[str], rows: Sequence[tuple[Any, ...]],
                advance: Advance | None = None) -> None:
    """Write checked, converted rows in the caller's transaction, the fastest way each database offers:
    SQLite - one INSERT run as the driver's executemany in chunks; PostgreSQL - COPY FROM STDIN.
    The values are final already, so SQLAlchemy's per-row bind processing would only cost time."""
    if not rows:
        return
    if connection.dialect.name == "postgresql":
        driver = connection.connection.driver_connection
        with driver.cursor() as cursor, cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
            for start in range(0, len(rows), CHUNK):
                for row in rows[start:start + CHUNK]:
                    copy.write_row(row)
                if advance:
                    advance(min(CHUNK, len(rows) - start))
        return
    sql = _insert_sql(table, columns, connection.dialect.paramstyle)
    for chunk in _chunks(rows, CHUNK):
        connection.exec_driver_sql(sql, list(chunk))
        if advance:
            advance(len(chunk))


def _lookup(session: Session, sql: str, keys: Sequence[Any]) -> Iterator[Any]:
    """Rows of `sql` (ending in 'IN ({})') for the keys, chunked, sent straight to the driver: compiling an
    expanding IN of thousands of parameters per chunk costs more than the query itself."""
    marker = "?" if session.get_bind().dialect.paramstyle == "qmark" else "%s"
    connection = session.connection()
    for chunk in _chunks(keys, LOOKUP_CHUNK):
        yield from connection.exec_driver_sql(sql.format(", ".join([marker] * len(chunk))), tuple(chunk)).fetchall()


def _lock_for_import(session: Session, table: str) -> None:
    """Serialise imports that pre-assign ids (SQLite's BEGIN IMMEDIATE already holds the write lock)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE"))


def _sync_sequence(session: Session, table: str) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                             f"GREATEST((SELECT COALESCE(MAX(id), 0) FROM {table}), 1))"))


def _finish(session: Session, kind: str, rows: int, digest: str, actor: str, change: dict[str, Any]) -> None:
    session.add(ImportRun(kind=kind, rows=rows, sha256=digest, actor=actor))
    ledger.record(session, actor=actor, action=f"import.{kind}", entity_type="import", entity_id=digest[:16],
                  change={"rows": rows, "sha256": digest, **change})


# --- participants --------------------------------------------------------------------------------------

def _parse_date(value: str) -> date:
    return date.fromisoformat(value.strip())


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
    c_code, c_sex, c_year, c_site = (columns[c] for c in ("participant", "sex", "birth_year", "site"))
    c_codes, c_date = columns["consent_codes"], columns["consent_date"]
    c_scope = columns.get("consent_scope")
    width = max(columns.values()) + 1
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    parsed: list[tuple[str, str, int | None, str, list[str], date, str]] = []
    duo_cache: dict[str, list[str] | str] = {}
    this_year = utcnow().year
    with progress("validating participants", len(rows), "rows") as advance:
        for n, row in enumerate(rows):
            line = n + 2
            if len(row) < width:
                if not any(cell.strip() for cell in row):
                    continue
                errors.append(RowError(line, "-", f"has {len(row)} fields, the header has {width}"))
                continue
            code = row[c_code].strip()
            bad = len(errors)
            if not code or len(code) > 32 or not code.replace("-", "").replace("_", "").isalnum():
                errors.append(RowError(line, "participant", f"code {code!r} must be 1-32 letters, digits, - or _"))
            elif code in seen:
                errors.append(RowError(line, "participant", f"{code} is already on line {seen[code]}"))
            else:
                seen[code] = line
            sex = row[c_sex].strip().upper()
            if sex not in SEXES:
                errors.append(RowError(line, "sex", f"{row[c_sex]!r} must be F, M, O or U"))
            year_text = row[c_year].strip()
            year: int | None = None
            if year_text:
                if not year_text.isdigit() or not 1900 <= int(year_text) <= this_year:
                    errors.append(RowError(line, "birth_year", f"{year_text!r} is not a year 1900..{this_year}"))
                else:
                    year = int(year_text)
            site = row[c_site].strip()
            if not site or len(site) > 64:
                errors.append(RowError(line, "site", "site is required (at most 64 characters)"))
            codes_text = row[c_codes]
            codes = duo_cache.get(codes_text)
            if codes is None:
                try:
                    codes = parse_duo_codes(codes_text) or "at least one DUO code is required"
                except ValueError as exc:
                    codes = str(exc)
                duo_cache[codes_text] = codes
            if isinstance(codes, str):
                errors.append(RowError(line, "consent_codes", codes))
            try:
                consent_date = _parse_date(row[c_date])
            except ValueError:
                errors.append(RowError(line, "consent_date", f"{row[c_date]!r} is not a date (YYYY-MM-DD)"))
            if len(errors) == bad:
                assert not isinstance(codes, str)
                parsed.append((code, sex, year, site, codes, consent_date,
                               row[c_scope].strip() if c_scope is not None and c_scope < len(row) else ""))
            if n % 10000 == 9999:
                advance(10000)
        advance(len(rows) % 10000)
    with db.transaction() as session:
        _lock_for_import(session, "bb_participant")
        for chunk in _chunks(list(seen), LOOKUP_CHUNK):
            for code in session.scalars(select(Participant.code).where(Participant.code.in_(chunk))):
                errors.append(RowError(seen[code], "participant", f"{code} already exists"))
        if errors:
            errors.sort(key=lambda e: e.line)
            raise ImportRejected("participant", errors, len(rows))
        next_pid = (session.scalar(select(func.max(Participant.id))) or 0) + 1
        next_cid = (session.scalar(select(func.max(Consent.id))) or 0) + 1
        now = utcnow()
        stamp = _sqlite_timestamps() if session.get_bind().dialect.name == "sqlite" else None
        created = stamp(now) if stamp else now
        people: list[tuple[Any, ...]] = []
        consents: list[tuple[Any, ...]] = []
        codes_rows: list[tuple[Any, ...]] = []
        for i, (code, sex, year, site, duo, consent_date, scope) in enumerate(parsed):
            people.append((next_pid + i, code, sex, year, site, created))
            consents.append((next_cid + i, next_pid + i, 1, consent_date, scope, None, None))
            codes_rows.extend((next_cid + i, d, next_pid + i, True) for d in duo)
        connection = session.connection()
        with progress("writing participants", len(people), "rows") as advance:
            _bulk_write(connection, Participant.__table__,
                        ("id", "code", "sex", "birth_year", "site", "created_at"), people, advance)
            _bulk_write(connection, Consent.__table__, ("id", "participant_id", "version", "consent_date", "scope",
                                                        "withdrawn_at", "withdrawal_reason"), consents)
            _bulk_write(connection, ConsentCode.__table__, ("consent_id", "duo_code", "participant_id", "in_force"),
                        codes_rows)
        _sync_sequence(session, "bb_participant")
        _sync_sequence(session, "bb_consent")
        _finish(session, "participants", len(people), digest, actor, {"consent_codes": len(codes_rows)})
    return ImportResult("participants", len(people), digest)


# --- specimens -----------------------------------------------------------------------------------------

@lru_cache(maxsize=4096)
def _sprec_check(code: str) -> str:
    """Normalised SPREC, or '!reason' when invalid (cached: imports repeat a few codes many times)."""
    try:
        return str(parse_sprec(code))
    except SprecError as exc:
        return "!" + exc.reason


@lru_cache(maxsize=256)
def _unit_for(type_code: str, unit: str) -> str:
    """The normalised unit, or '!reason' when wrong for the type."""
    expected = SPECIMEN_TYPES[type_code].unit
    normal = normalise_unit(unit) if unit else expected
    return normal if normal == expected else f"!unit {unit!r} is wrong for {type_code}: use {expected}"


def _parse_time(value: str) -> datetime:
    """ISO 8601; a time without an offset is taken as UTC (documented in import-formats.md)."""
    text_ = value.strip()
    if text_.endswith(("Z", "z")):
        text_ = text_[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text_)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _sqlite_timestamps() -> Callable[[datetime | None], str | None]:
    """Format UTC timestamps exactly as SQLAlchemy's SQLite DateTime stores them, once per distinct value."""
    cache: dict[datetime, str] = {}

    def stamp(value: datetime | None) -> str | None:
        if value is None:
            return None
        text_ = cache.get(value)
        if text_ is None:
            text_ = value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
            if len(cache) < 100_000:
                cache[value] = text_
        return text_

    return stamp


@dataclass(slots=True)
class _Row:
    line: int
    barcode: str
    participant: str
    type: str
    quantity: float | None
    unit: str
    collected_at: datetime | None
    parents: list[str]
    sprec: str | None
    box_path: str
    position: str
    status: str


@dataclass(frozen=True, slots=True)
class _Box:
    id: int
    layout: GridLayout


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


def _refresh_statistics(db: Database, rows: int, tables: Sequence[str]) -> None:
    """After a large load, let PostgreSQL's planner see the new rows at once (ANALYZE samples a fixed number
    of rows, so it stays cheap); with stale statistics it takes `type = 'PL1'` for a handful of rows and
    plans a freezer search around it. SQLite's searches are shaped not to depend on statistics.
    VACUUM, which visits only the pages not yet marked all-visible (the new ones), marks them so: a freezer
    search then counts from its covering indexes alone instead of visiting each row (74 -> 36 ms at 1 M)."""
    if rows >= 10_000 and db.dialect == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for table in tables:
                conn.exec_driver_sql(f"VACUUM (ANALYZE) {table}")


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
    idx = [columns[c] for c in SPECIMEN_COLUMNS]
    c_status = columns.get("status")
    pick = operator.itemgetter(*idx)
    times: dict[str, datetime | None] = {}
    width = max(columns.values()) + 1
    errors: list[RowError] = []
    rows: list[_Row] = []
    line_of: dict[str, int] = {}
    match_barcode = BARCODE_PATTERN.match
    types = SPECIMEN_TYPES
    with progress("validating specimens", len(raw), "rows") as advance:
        for n, fields in enumerate(raw):
            line = n + 2
            if len(fields) < width:
                if not any(cell.strip() for cell in fields):
                    continue
                errors.append(RowError(line, "-", f"has {len(fields)} fields, the header has {width}"))
                continue
            barcode, participant, type_code, quantity_text, unit, collected, parent, sprec, location = \
                pick(fields)
            barcode, participant, location, collected = barcode.strip(), participant.strip(), location.strip(), \
                collected.strip()
            parent, sprec, quantity_text = parent.strip(), sprec.strip(), quantity_text.strip()
            bad = len(errors)
            if not match_barcode(barcode):
                errors.append(RowError(line, "barcode", f"{barcode!r} is not a barcode (letters, digits, . _ -)"))
            elif barcode in line_of:
                errors.append(RowError(line, "barcode",
                                       f"duplicate barcode {barcode}: also on line {line_of[barcode]}"))
            else:
                line_of[barcode] = line
            type_code = type_code.strip().upper()
            if type_code not in types:
                errors.append(RowError(line, "type", f"unknown specimen type {type_code!r}"))
            else:
                unit = _unit_for(type_code, unit)
                if unit[0] == "!":
                    errors.append(RowError(line, "unit", unit[1:]))
            quantity: float | None = None
            if quantity_text:
                try:
                    quantity = float(quantity_text)
                    if quantity < 0 or quantity != quantity:
                        raise ValueError
                    if quantity_too_large(quantity):
                        errors.append(RowError(line, "quantity", f"{quantity_text!r} is more than any one specimen "
                                                                 f"holds (at most {MAX_QUANTITY:,.0f} in its unit)"))
                except ValueError:
                    errors.append(RowError(line, "quantity", f"{quantity_text!r} is not a non-negative number"))
            collected_at: datetime | None = None
            if collected:
                collected_at = times.get(collected, times)  # type: ignore[arg-type]
                if collected_at is times:
                    try:
                        collected_at = _parse_time(collected)
                    except ValueError:
                        collected_at = None
                    if len(times) < 100_000:
                        times[collected] = collected_at
                if collected_at is None:
                    errors.append(RowError(line, "collected_at", f"{collected!r} is not an ISO 8601 time"))
            parents = [p.strip() for p in parent.split(";") if p.strip()] if parent else []
            if barcode in parents:
                errors.append(RowError(line, "parent_barcode", "a specimen cannot be its own parent"))
            if not participant and not parents:
                errors.append(RowError(line, "participant", "required for a specimen without a parent"))
            if sprec:
                sprec = _sprec_check(sprec)
                if sprec[0] == "!":
                    errors.append(RowError(line, "sprec", sprec[1:]))
            status = "available"
            if c_status is not None and c_status < len(fields) and fields[c_status].strip():
                status = fields[c_status].strip().lower()
                if status not in IMPORT_STATUSES:
                    errors.append(RowError(line, "status", f"{status!r} must be one of {', '.join(IMPORT_STATUSES)}"))
                elif status in FINAL_STATUSES and location:
                    errors.append(RowError(line, "location", f"a {status} specimen cannot have a location"))
            box_path, position = "", ""
            if location:
                box_path, _, position = location.strip("/").rpartition("/")
                if not box_path or not position:
                    errors.append(RowError(line, "location", f"{location!r} must be a box path and a position"))
            if len(errors) == bad:
                rows.append(_Row(line, barcode, participant, type_code, quantity, unit, collected_at, parents,
                                 sprec or None, box_path, position, status))
            if n % 10000 == 9999:
                advance(10000)
        advance(len(raw) % 10000)

    with db.transaction() as session:
        _lock_for_import(session, "bb_specimen")
        # barcodes already stored
        for (barcode,) in _lookup(session, "SELECT barcode FROM bb_specimen WHERE barcode IN ({})", list(line_of)):
            errors.append(RowError(line_of[barcode], "barcode", f"barcode {barcode} is already stored"))
        # participants and whether a consent is in force
        codes = list({r.participant for r in rows if r.participant})
        people: dict[str, tuple[int, bool]] = {}
        for pid, code, ok in _lookup(session, "SELECT p.id, p.code, EXISTS (SELECT 1 FROM bb_consent c WHERE "
                                     "c.participant_id = p.id AND c.withdrawn_at IS NULL) FROM bb_participant p "
                                     "WHERE p.code IN ({})", codes):
            people[code] = (pid, bool(ok))
        # parents stored before
        in_file = {r.barcode: r for r in rows}
        outside = list({p for r in rows for p in r.parents if p not in in_file and p not in line_of})
        stored_parents: dict[str, tuple[int, str, int | None, bool]] = {}
        for sid, bc, t_, pid, dist in _lookup(session, "SELECT id, barcode, type, participant_id, distributable "
                                              "FROM bb_specimen WHERE barcode IN ({})", outside):
            stored_parents[bc] = (sid, t_, pid, bool(dist))
        # boxes and their occupied positions
        box_paths = list({r.box_path for r in rows if r.box_path})
        boxes: dict[str, _Box | None] = {path: None for path in box_paths}
        for chunk in _chunks(box_paths, LOOKUP_CHUNK):
            for box, ctype in session.execute(select(Container, ContainerType)
                                              .join(ContainerType, Container.type_id == ContainerType.id)
                                              .where(Container.name_path.in_(chunk))):
                layout = layout_of(ctype)
                if layout is not None:
                    boxes[box.name_path] = _Box(box.id, layout)
        taken: dict[tuple[int, int], int] = {}
        box_ids = [b.id for b in boxes.values() if b is not None]
        for cid, pos in _lookup(session, "SELECT container_id, position FROM bb_specimen WHERE container_id IN ({})",
                                box_ids):
            taken[(cid, pos)] = 0
        label_tables: dict[GridLayout, dict[str, int]] = {}
        index_cache: dict[tuple[int, str], int] = {}
        for row in rows:
            if row.participant:
                person = people.get(row.participant)
                if person is None:
                    errors.append(RowError(row.line, "participant", f"unknown participant {row.participant}"))
                elif not person[1]:
                    errors.append(RowError(row.line, "participant",
                                           f"participant {row.participant} has withdrawn consent"))
            if row.parents:
                parent_types = []
                for parent in row.parents:
                    if parent in in_file:
                        parent_types.append(in_file[parent].type)
                    elif parent in stored_parents:
                        parent_types.append(stored_parents[parent][1])
                    else:
                        errors.append(RowError(row.line, "parent_barcode", f"unknown parent {parent}"))
                if len(parent_types) == len(row.parents):
                    try:
                        kind = lineage_kind(parent_types, row.type)
                    except LineageError as exc:
                        errors.append(RowError(row.line, "type", str(exc)))
                    else:
                        if row.participant and kind is not LineageKind.POOL and row.participant in people:
                            parent = row.parents[0]
                            parent_owner = (people.get(in_file[parent].participant, (None,))[0]
                                            if parent in in_file and in_file[parent].participant
                                            else stored_parents[parent][2] if parent in stored_parents else None)
                            if parent_owner is not None and parent_owner != people[row.participant][0]:
                                errors.append(RowError(row.line, "participant", f"parent {parent} belongs to "
                                                                                 "another participant"))
            if row.box_path:
                box = boxes[row.box_path]
                if box is None:
                    errors.append(RowError(row.line, "location", f"no box {row.box_path!r}"))
                    continue
                labels = label_tables.get(box.layout)
                if labels is None:
                    labels = label_tables[box.layout] = {label: i for i, label in enumerate(box.layout.labels())}
                index = labels.get(row.position)
                if index is None:
                    try:
                        index = box.layout.index_of(row.position)  # lower case, '03', ... or the reason why not
                    except LayoutError as exc:
                        errors.append(RowError(row.line, "location", str(exc)))
                        continue
                index_cache[(box.id, row.position)] = index
                occupant = taken.get((box.id, index))
                if occupant is not None:
                    where = f"by line {occupant}" if occupant else "already"
                    errors.append(RowError(row.line, "location",
                                           f"position {row.box_path}/{row.position} is occupied {where}"))
                else:
                    taken[(box.id, index)] = row.line
        order = _parents_first(rows, in_file, errors)
        if errors:
            errors.sort(key=lambda e: (e.line, e.column))
            raise ImportRejected("specimen", errors, len(raw))

        # write: ids assigned up front so children can point at parents from the same file
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
    people: dict[str, tuple[int, bool]] = {}
    for pid, code, ok in _lookup(session, "SELECT p.id, p.code, EXISTS (SELECT 1 FROM bb_consent c WHERE "
                                 "c.participant_id = p.id AND c.withdrawn_at IS NULL) FROM bb_participant p "
                                 "WHERE p.code IN ({})", codes):
        people[code] = (pid, bool(ok))
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


def _parents_first(rows: list[_Row], in_file: dict[str, _Row], errors: list[RowError]) -> list[_Row]:
    """Order rows so every parent from the file precedes its children (a stable sort by lineage depth);
    report lineage cycles. Iterative depth-first search: deep chains must not hit the recursion limit."""
    seen: set[str] = set()
    for row in rows:  # usually a parent comes before its children already: keep the file's order then
        if any(p in in_file and p not in seen for p in row.parents):
            break
        seen.add(row.barcode)
    else:
        return rows
    depth: dict[str, int] = {}
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    for root in rows:
        if not root.parents:
            depth[root.barcode] = 1
            state[root.barcode] = 2
            continue
        if root.barcode in state:
            continue
        state[root.barcode] = 1
        stack = [(root, iter([p for p in root.parents if p in in_file]))]
        while stack:
            node, pending = stack[-1]
            descended = False
            for parent in pending:
                seen = state.get(parent)
                if seen is None:
                    state[parent] = 1
                    stack.append((in_file[parent], iter([p for p in in_file[parent].parents if p in in_file])))
                    descended = True
                    break
                if seen == 1:
                    errors.append(RowError(node.line, "parent_barcode",
                                           f"lineage cycle: {parent} descends from {node.barcode}"))
            if descended:
                continue
            depth[node.barcode] = 1 + max((depth.get(p, 0) for p in node.parents if p in in_file), default=0)
            state[node.barcode] = 2
            stack.pop()
    return sorted(rows, key=lambda r: depth[r.barcode])
