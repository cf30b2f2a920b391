"""The SQL the biobank importers run: chunked IN (...) lookups, bulk writes, table locks, id sequences, the
import run record and, after a large load, fresh planner statistics.

Step 5 of the import framework (see `imports`): writing checked, converted rows in the caller's transaction the
fastest way each database offers (SQLite: one INSERT run as the driver's executemany; PostgreSQL: COPY). The
lookups serve step 3 (`import_db_checks`); nothing here decides whether a row is valid.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from lifebank.audit import service as ledger
from lifebank.biobank.models import ImportRun
from lifebank.biobank.tally import bulk_specimen_tallies
from lifebank.db.engine import Database

CHUNK = 5000
LOOKUP_CHUNK = 5000  # bound parameters per IN (...) lookup (SQLite allows 32766, PostgreSQL 65535)

Advance = Callable[[int], None]


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
    with bulk_specimen_tallies(connection, table.name, columns, rows):  # search totals, grouped (biobank.tally)
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
