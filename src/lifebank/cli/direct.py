"""The configured database through its own driver, for one-shot read commands that need no ORM.

Why: a fresh `lifebank` process that imports SQLAlchemy's ORM, pydantic-settings and a domain's models pays
0.3 s (quiet 2-core machine) to 0.75 s (loaded) before any work, more than the 300 ms a one-shot query may
cost in all (issue 10). A read needs none of it: the two settings it uses are environment variables, SQLite
is Python's `sqlite3`, PostgreSQL is psycopg (the driver SQLAlchemy uses anyway), and the schema check is the
literal-revision check of `lifebank.cli.schema` over one SELECT.

`connect()` answers "here is a read connection" or None ("not sure": an unusual URL or setting, a data folder
that is missing, a schema that is not certainly current, a connection that fails). On None the command runs
its service path, which decides and words any refusal exactly as before; a driver error during a direct read
also sends the command there (`DirectReadFailed`). So the direct path can cost time, never change an answer
or an error message. Nothing here writes: the SQLite file is opened with `mode=rw` so a missing file is not
created, and no statement but SELECT is sent.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

from lifebank.cli import schema

T = TypeVar("T")

# The settings a read uses; any other LIFEBANK_* variable only matters to the settings object when invalid,
# and the ones that can be (e.g. a time zone) are checked below before the direct path is trusted.
_PREFIX = "lifebank_"


class DirectReadFailed(Exception):
    """A driver error during a direct read: the command falls back to its service path, which reports it."""


@dataclass(frozen=True, slots=True)
class DirectSettings:
    """The two settings a read needs, resolved as `lifebank.config.Settings` resolves them."""

    data_dir: Path
    database_url: str | None

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'lifebank.db'}"


def read_settings(environ: dict[str, str] | None = None) -> DirectSettings | None:
    """`LIFEBANK_DATA_DIR` and `LIFEBANK_DATABASE_URL` as pydantic-settings reads them (names case-insensitive,
    the folder expanded and made absolute); None when the settings object could answer differently (the same
    name twice in different case, a time zone it would refuse)."""
    env = os.environ if environ is None else environ
    found: dict[str, str] = {}
    for key, value in env.items():
        lower = key.lower()
        if not lower.startswith(_PREFIX):
            continue
        if lower in found:
            return None
        found[lower] = value
    zone = found.get("lifebank_time_zone")
    if zone is not None and not _known_zone(zone):
        return None  # the settings object refuses it: let it say so
    raw_dir = found.get("lifebank_data_dir")
    data_dir = Path(raw_dir if raw_dir is not None else "data").expanduser().resolve()
    return DirectSettings(data_dir, found.get("lifebank_database_url"))


def _known_zone(name: str) -> bool:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


class DirectConnection:
    """A read-only DB-API connection with LifeBank's SQL parameter style (`?`) on both databases."""

    def __init__(self, dialect: str, raw: Any, settings: DirectSettings) -> None:
        self.dialect = dialect  # "sqlite" or "postgresql"
        self.raw = raw
        self.settings = settings

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Every row of a SELECT (`?` placeholders; the SQL text holds no other `?` and no `%`)."""
        if not self.is_sqlite:
            sql = sql.replace("?", "%s")
        cursor = self.raw.cursor()
        try:
            cursor.execute(sql, tuple(params))
            return list(cursor.fetchall())
        finally:
            cursor.close()

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        found = self.rows(sql, params)
        return found[0][0] if found else None

    def close(self) -> None:
        """Ends the read transaction (rolled back: nothing was written) and the connection."""
        self.raw.close()


def _driver_errors() -> tuple[type[BaseException], ...]:
    import sys

    errors: list[type[BaseException]] = []
    for module, name in (("sqlite3", "Error"), ("psycopg", "Error")):
        loaded = sys.modules.get(module)
        if loaded is not None:
            errors.append(getattr(loaded, name))
    return tuple(errors)


def _sqlite_path(url: str) -> Path | None:
    """The file of a plain `sqlite:///path` URL (SQLAlchemy's reading: relative to the working folder); None
    for anything else (memory databases, URL options, other drivers)."""
    for scheme in ("sqlite:///", "sqlite+pysqlite:///"):
        if url.startswith(scheme):
            database = url[len(scheme):]
            if not database or database == ":memory:" or "?" in database:
                return None
            return Path(database).expanduser().resolve()
    return None


def _postgres_conninfo(url: str) -> str | None:
    """The libpq URI of a `postgresql://` or `postgresql+psycopg://` URL (the same user, password, host,
    port, database and options); None for any other driver."""
    for scheme in ("postgresql+psycopg://", "postgresql://"):
        if url.startswith(scheme):
            return "postgresql://" + url[len(scheme):]
    return None


def _open(cfg: DirectSettings) -> DirectConnection | None:
    url = cfg.effective_database_url
    if url.startswith("sqlite"):
        # context.database() refuses a missing default folder and proves the folder writable: let it
        if not cfg.database_url and (not cfg.data_dir.is_dir() or not os.access(cfg.data_dir, os.W_OK | os.X_OK)):
            return None
        path = _sqlite_path(url)
        if path is None or not path.is_file():
            return None
        import sqlite3

        raw = sqlite3.connect(f"file:{quote(str(path))}?mode=rw", uri=True, timeout=60, isolation_level=None,
                              check_same_thread=False)
        # the read engine's settings (lifebank.db.engine): the same plans and page cache behaviour
        for pragma in ("busy_timeout=60000", "cache_size=-65536", "temp_store=MEMORY", "mmap_size=2147418112"):
            raw.execute(f"PRAGMA {pragma}")
        raw.execute("BEGIN")  # one read snapshot for the whole command, as a read session has; never committed
        return DirectConnection("sqlite", raw, cfg)
    conninfo = _postgres_conninfo(url)
    if conninfo is None:
        return None
    import psycopg

    return DirectConnection("postgresql", psycopg.connect(conninfo), cfg)


def connect(environ: dict[str, str] | None = None) -> DirectConnection | None:
    """A read connection to the configured database at the current schema, or None when not sure."""
    cfg = read_settings(environ)
    if cfg is None:
        return None
    try:
        conn = _open(cfg)
    except _driver_errors():
        return None
    if conn is None:
        return None
    try:
        current = {row[0] for row in conn.rows("SELECT version_num FROM alembic_version")}
    except _driver_errors():
        conn.close()
        return None
    if not schema.versions_current(current):
        conn.close()
        return None
    return conn


def read(work: Callable[[DirectConnection], T]) -> T | None:
    """`work(connection)` on a direct read connection; None when there is none or a driver error occurred
    (the caller then runs its service path). Domain errors (`LifeBankError`) pass through unchanged."""
    conn = connect()
    if conn is None:
        return None
    try:
        return work(conn)
    except DirectReadFailed:
        return None
    except _driver_errors():
        return None
    finally:
        conn.close()
