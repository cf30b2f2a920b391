"""Engines and sessions for SQLite (embedded default) and PostgreSQL (production).

Writes go through `Database.transaction()`. On SQLite that transaction starts with
`BEGIN IMMEDIATE`, so the write lock is taken up front: two writers queue instead of one failing
half-way with "database is locked" after it has already read stale data (which would fork the ledger).
Reads use `Database.session()` and a plain deferred transaction, which WAL lets run beside a writer.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, OperationalError
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

from lifebank.errors import ConfigError, DatabaseUnavailable


def is_postgresql(engine_or_session: Engine | Session) -> bool:
    bind = engine_or_session.get_bind() if isinstance(engine_or_session, Session) else engine_or_session
    return bind.dialect.name == "postgresql"


def _sqlite_engine(url: str, begin: str) -> Engine:
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 60})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # noqa: ANN001 - DB-API objects are untyped
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.execute("PRAGMA cache_size=-65536")
        cursor.execute("PRAGMA temp_store=MEMORY")
        if begin == "BEGIN":
            # Readers map the file (up to SQLite's 2 GiB cap) instead of copying pages into each pooled
            # connection's own cache: a search over a freezer seldom visited costs ~20 ms, not ~60 ms.
            cursor.execute("PRAGMA mmap_size=2147418112")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:  # noqa: ANN001
        connection.exec_driver_sql(begin)

    return engine


def build_engine(url: str, *, immediate: bool = False) -> Engine:
    """Create an engine, turning a malformed URL or a missing driver into one clear message."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(
            "LIFEBANK_DATABASE_URL {url!r} is not a database URL "
            "(expected e.g. sqlite:///data/lifebank.db or postgresql+psycopg://user@host/db)", url=url,
        ) from None
    backend = parsed.get_backend_name()
    if backend not in {"sqlite", "postgresql"}:
        raise ConfigError("database {backend!r} is not supported: use SQLite or PostgreSQL", backend=backend)
    if backend == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            folder = Path(parsed.database).expanduser().resolve().parent
            if not folder.is_dir():
                raise ConfigError("folder {folder} of the SQLite database does not exist", folder=str(folder))
        return _sqlite_engine(url, "BEGIN IMMEDIATE" if immediate else "BEGIN")
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    try:
        engine = create_engine(parsed, pool_pre_ping=True, pool_size=5, max_overflow=10)
    except NoSuchModuleError:
        raise ConfigError("no database driver for {driver!r}; use postgresql+psycopg",
                              driver=parsed.drivername) from None
    _ping_unless_taking_the_turn(engine)
    return engine


# Set while a writer's transaction takes its turn: its first statement is the ping (see Database.transaction).
_TAKING_TURN: ContextVar[bool] = ContextVar("lifebank_taking_turn", default=False)


def _ping_unless_taking_the_turn(engine: Engine) -> None:
    """Pre-ping (a `SELECT 1` round trip at every checkout, so a connection the server dropped is replaced before
    use) for every checkout except a writer's: its first statement, the advisory lock, fails at once on a dropped
    connection and `Database.transaction` then retries on a fresh one - the same recovery, one round trip less."""
    ping = engine.dialect.do_ping

    def do_ping(dbapi_connection) -> bool:  # noqa: ANN001 - DB-API objects are untyped
        return True if _TAKING_TURN.get() else ping(dbapi_connection)

    engine.dialect.do_ping = do_ping  # type: ignore[method-assign]


# pg_advisory_xact_lock key of LifeBank's writer turn ("LifeBank" in ASCII, as a signed 64-bit integer).
WRITER_LOCK_KEY = int.from_bytes(b"LifeBank", "big", signed=True)


class Database:
    """The process's handle on one database: a read engine, a write engine and their sessions."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = build_engine(url)
        self.write_engine = build_engine(url, immediate=True) if self.engine.dialect.name == "sqlite" else self.engine
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        self._write = sessionmaker(self.write_engine, expire_on_commit=False)
        self._is_postgresql = self.engine.dialect.name == "postgresql"

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def check_connection(self) -> None:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except OperationalError as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            raise DatabaseUnavailable("cannot connect to the database at {url}: {reason}",
                                      url=make_url(self.url).render_as_string(hide_password=True),
                                      reason=reason) from None

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A read session; closing it rolls back anything written, and loaded objects stay usable."""
        with self._read() as session:
            yield session

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A write unit of work: commits when the block ends, rolls everything back on any error.

        Writers take turns, on both engines. SQLite's BEGIN IMMEDIATE gives that for free; on PostgreSQL the
        transaction first takes one advisory lock shared by every LifeBank writer. Every write ends by
        appending to the ledger, whose one head row all writers lock until they commit, so writes never ran
        in parallel to the end anyway; taking the turn at the start instead means no two writers can ever
        hold row locks the other needs (two reservations of the same tubes in another order, or the tally
        rows the specimen triggers move): no deadlock, in any write path, by construction.
        """
        with self._write() as session:
            turn = self._take_turn(session) if self._is_postgresql else session.begin()
            with turn:
                yield session

    @staticmethod
    def _take_turn(session: Session) -> SessionTransaction:
        """PostgreSQL: begin and take the writers' advisory lock. The pool does not ping the connection first;
        the lock is the ping: if the server dropped the pooled connection (restart, fail-over, an administrator's
        pg_terminate_backend), the lock fails before anything is written, SQLAlchemy invalidates the pool's
        connections, and the turn is taken once more on a fresh connection."""
        for attempt in (1, 2):
            turn = session.begin()
            token = _TAKING_TURN.set(True)
            try:
                session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": WRITER_LOCK_KEY})
                return turn
            except DBAPIError as exc:
                turn.rollback()
                if attempt == 2 or not exc.connection_invalidated:
                    raise
            finally:
                _TAKING_TURN.reset(token)
        raise AssertionError("unreachable")

    def dispose(self) -> None:
        self.engine.dispose()
        if self.write_engine is not self.engine:
            self.write_engine.dispose()
