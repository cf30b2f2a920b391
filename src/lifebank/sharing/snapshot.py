"""What Beacon answers rest on, kept in the process until the bank changes.

Settings, security levels, the dataset list, record grants and the participant sets of each filter are read
once and kept; every Beacon request first asks the ledger whether anything changed since (one indexed range
read over the events appended since the last look). Every write of LifeBank appends a ledger event in its own
transaction, and the ledger's head row is locked until that transaction commits, so sequence numbers become
visible in order: an event other than a Beacon query numbered above the last one seen means the bank
changed (a consent withdrawn, a tube used up, a level or a grant changed, a batch imported), and the
kept values are dropped. A withdrawn consent thus still leaves a DUO filter's answer at once, in every
worker. Beacon query events (`beacon.query`, written in batches by `query_log`) do not change any answer and
do not drop anything.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from lifebank.db.engine import Database

QUERY_ACTION = "beacon.query"
MAX_ENTRIES = 4096  # kept values per generation (filter combinations are few; a flood of distinct ones is cut)
T = TypeVar("T")


@dataclass(slots=True)
class _Snapshot:
    seen: int = -1        # highest ledger sequence number looked at
    generation: int = -1  # highest sequence number of an event that changes answers
    values: dict[Hashable, Any] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # PostgreSQL: this process's own autocommit connection for the change check (`_ledger_marks`)
    conn: Any = None
    conn_pid: int = 0  # the process that opened `conn` (a forked child opens its own)
    conn_lock: threading.Lock = field(default_factory=threading.Lock)


_snapshots: weakref.WeakKeyDictionary[Database, _Snapshot] = weakref.WeakKeyDictionary()
_snapshots_lock = threading.Lock()


def _snapshot(db: Database) -> _Snapshot:
    with _snapshots_lock:
        snap = _snapshots.get(db)
        if snap is None:
            snap = _snapshots[db] = _Snapshot()
        return snap


# Plain SQL, prepared once: building and compiling the statement cost more CPU than running it (ledger_event.seq
# is the primary key, so this is a range read of the events appended since the last look, usually none).
_LAST_SQL = "SELECT max(seq) FROM ledger_event"
_SINCE_SQL = ("SELECT max(seq), max(CASE WHEN action <> '" + QUERY_ACTION + "' THEN seq END) FROM ledger_event "
              "WHERE seq > {mark}")


def _ledger_marks(db: Database, snap: _Snapshot, sql: str) -> tuple[Any, Any]:
    """The check's one row. Every Beacon request runs it, so on PostgreSQL it goes over one autocommit connection
    kept by this process for it, one statement and one round trip, where a pooled connection cost four (the
    pool's pre-ping, BEGIN, the SELECT, the ROLLBACK at close) and the database's CPU for them was more than the
    answer's. A dropped connection is replaced once; if that fails too, the pool's path raises as every read does."""
    if db.dialect == "postgresql":
        import psycopg

        with snap.conn_lock:
            for _ in range(2):
                try:
                    if snap.conn is None or snap.conn.closed or snap.conn_pid != os.getpid():
                        url = db.engine.url.set(drivername="postgresql")
                        snap.conn = psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)
                        snap.conn_pid = os.getpid()
                    row = snap.conn.execute(sql).fetchone()
                    return (row[0], row[1] if len(row) > 1 else row[0]) if row else (None, None)
                except psycopg.Error:
                    if snap.conn is not None:
                        snap.conn.close()
                    snap.conn = None
    with db.engine.connect() as conn:
        row = conn.exec_driver_sql(sql).one()
        return row[0], row[1] if len(row) > 1 else row[0]


def refresh(db: Database) -> None:
    """Look at the ledger events appended since the last look; drop the kept values if the bank changed."""
    snap = _snapshot(db)
    if snap.seen < 0:
        last = _ledger_marks(db, snap, _LAST_SQL)[0]
        newest, changed = last or 0, last or 0
    else:  # the mark is an int of ours, never caller text
        newest, changed = _ledger_marks(db, snap, _SINCE_SQL.format(mark=int(snap.seen)))
    with snap.lock:
        if newest is not None and newest > snap.seen:
            snap.seen = newest
        if changed is not None and changed > snap.generation:
            snap.generation = changed
            snap.values = {}


def forget(db: Database) -> None:
    """Drop what is kept for this database (a write of this process that answers must see at once)."""
    snap = _snapshot(db)
    with snap.lock:
        snap.values = {}


def peek(db: Database, key: Hashable) -> Any:
    """The value kept under `key`, or None."""
    return _snapshot(db).values.get(key)


def keep(db: Database, key: Hashable, value: object) -> None:
    """Keep `value` under `key` until the bank changes."""
    snap = _snapshot(db)
    with snap.lock:
        if len(snap.values) >= MAX_ENTRIES:
            snap.values.clear()
        snap.values[key] = value


def kept(db: Database, key: Hashable, compute: Callable[[], T]) -> T:
    """The value kept under `key` for the bank as it is now (computed once per change of the bank).

    Callers must treat the value as read-only: it is shared by every request of the process."""
    snap = _snapshot(db)
    values = snap.values
    if key in values:
        return values[key]  # type: ignore[no-any-return]
    value = compute()
    with snap.lock:
        if snap.values is values:  # the bank did not change while computing
            if len(values) >= MAX_ENTRIES:
                values.clear()
            values[key] = value
    return value
