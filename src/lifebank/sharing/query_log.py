"""Every Beacon query ledgered, without a write in the request's path: an append queue flushed in batches.

A query is answered once it is in this process's queue (and, for a variant query, once the caller's budget
allowed it). A background thread writes the queue every `FLUSH_SECONDS` (sooner when `BATCH_MAX` queries
wait) in one transaction: one `sh_beacon_query` row per query and one `beacon.query` ledger event for the
batch that lists every query (its row id, caller, endpoint, granularity, refusal and request). The server's
shutdown flushes what is left; a crash loses at most the last `FLUSH_SECONDS` of the log. When the database
cannot take the writes and `MAX_PENDING` queries wait, new queries are refused (503): no query is answered
that could not be ledgered.

The budget (variant queries per caller per window) is counted in memory and reconciled from the database:
a caller's count is read (`sh_beacon_query`, every worker's flushed queries) when first seen, every
`RECONCILE_SECONDS`, and again before a refusal; this process's queries since that read are added. Two
requests of one process cannot both take the last unit (one lock). Workers learn of each other's queries
only through the database, so a client spreading its queries over N workers can get past the budget by
what the other workers accepted in the last `FLUSH_SECONDS + RECONCILE_SECONDS` (at most N x the budget in
the limit of an instantaneous burst; ~1 s of queries in practice). The budget is a rate limit against a
genome's worth of questions (hundreds to thousands); that slack does not open the attack.
"""

from __future__ import annotations

import atexit
import json
import logging
import threading
import time
import weakref
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select

from lifebank.audit.service import SYSTEM_ACTOR, record
from lifebank.db.base import utcnow
from lifebank.db.engine import Database
from lifebank.messages import Msg
from lifebank.sharing import privacy
from lifebank.sharing.models import BeaconQuery
from lifebank.sharing.privacy import BeaconSettings, Caller
from lifebank.sharing.request import BeaconRequest, BeaconRequestError

FLUSH_SECONDS = 0.25
BATCH_MAX = 2000
MAX_PENDING = 50_000
RECONCILE_SECONDS = 2.0
log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Query:
    at: datetime
    caller: str
    actor: str
    endpoint: str
    variant: bool
    granularity: str
    refused: bool
    query: dict[str, Any]


@dataclass(slots=True)
class _Budget:
    """A caller's variant queries in the window: `base` read from the database at `read_at` (the oldest at
    `oldest`), and this process's accepted ones not in that read (`since`)."""

    base: int
    oldest: datetime | None
    read_at: float
    since: list[datetime] = field(default_factory=list)

    def used(self, window_start: datetime) -> tuple[int, datetime | None]:
        while self.since and self.since[0] <= window_start:
            self.since.pop(0)
        oldest = min([t for t in (self.oldest, *self.since[:1]) if t is not None], default=None)
        return self.base + len(self.since), oldest


class QueryLog:
    """One database's queue of unwritten queries and its callers' budgets."""

    def __init__(self, db: Database) -> None:
        self._db = weakref.ref(db)
        self.pending: list[_Query] = []
        self.lock = threading.Lock()          # the queue
        self.budget_lock = threading.Lock()   # budget check and take, one request at a time
        self.write_lock = threading.Lock()    # one flush at a time; a reconcile waits for it
        self.budgets: dict[str, _Budget] = {}

    # --- the budget -------------------------------------------------------------------------------------

    def _read_budget(self, db: Database, key: str, window_start: datetime) -> _Budget:
        """The caller's count from the database plus this process's queries not yet written: read while no
        flush runs, so each accepted query is counted exactly once."""
        with self.write_lock:
            with db.engine.connect() as conn:
                used, oldest = conn.execute(
                    select(func.count(), func.min(BeaconQuery.occurred_at)).where(
                        BeaconQuery.caller == key, BeaconQuery.variant.is_(True),
                        BeaconQuery.refused.is_(False), BeaconQuery.occurred_at > window_start)).one()
            with self.lock:
                waiting = [q.at for q in self.pending if q.caller == key and q.variant and not q.refused]
        return _Budget(int(used), oldest, time.monotonic(), waiting)

    def take(self, key: str, conf: BeaconSettings, now: datetime) -> Msg | None:
        """Take one unit of the caller's budget; the refusal's reason when it is spent."""
        window_start = now - timedelta(hours=conf.window_hours)
        with self.budget_lock:
            state = self.budgets.get(key)
            db = self._database()
            if state is None or time.monotonic() - state.read_at > RECONCILE_SECONDS:
                state = self.budgets[key] = self._read_budget(db, key, window_start)
            used, oldest = state.used(window_start)
            if used >= conf.budget and time.monotonic() - state.read_at > FLUSH_SECONDS:
                state = self.budgets[key] = self._read_budget(db, key, window_start)  # refuse on fresh figures
                used, oldest = state.used(window_start)
            decision = privacy.budget_decision(used, conf, oldest, now)
            if decision.allowed:
                state.since.append(now)
            if len(self.budgets) > 100_000:  # many anonymous addresses: forget the idle ones (re-read later)
                self.budgets = {k: v for k, v in self.budgets.items() if v.since}
            return decision.reason

    # --- the queue --------------------------------------------------------------------------------------

    def _database(self) -> Database:
        db = self._db()
        if db is None:
            raise RuntimeError("the database of this query log is gone")
        return db

    def submit(self, query: _Query) -> None:
        with self.lock:
            if len(self.pending) >= MAX_PENDING:
                raise BeaconRequestError(Msg("the Beacon cannot record queries right now (the query log is "
                                             "not being written); try again in a minute"), code=503)
            self.pending.append(query)
            waiting = len(self.pending)
        _flusher.wake(urgent=waiting >= BATCH_MAX)

    def flush(self) -> int:
        """Write what waits, in batches of at most BATCH_MAX (one transaction each); returns how many."""
        written = 0
        with self.write_lock:
            while True:
                with self.lock:
                    batch = self.pending[:BATCH_MAX]
                if not batch:
                    return written
                db = self._db()
                if db is None:
                    return written
                _write(db, batch)
                with self.lock:
                    del self.pending[:len(batch)]
                written += len(batch)


def _write(db: Database, batch: list[_Query]) -> None:
    rows = [{"occurred_at": q.at, "caller": q.caller, "endpoint": q.endpoint, "variant": q.variant,
             "granularity": q.granularity, "refused": q.refused, "query": json.dumps(q.query, sort_keys=True)}
            for q in batch]
    with db.transaction() as session:
        ids = list(session.scalars(insert(BeaconQuery).returning(BeaconQuery.id, sort_by_parameter_order=True),
                                   rows))
        listed = [{"id": i, "at": q.at.isoformat(timespec="microseconds"), "caller": q.caller, "actor": q.actor,
                   "endpoint": q.endpoint, "granularity": q.granularity, "refused": q.refused, "query": q.query}
                  for i, q in zip(ids, batch, strict=True)]
        record(session, actor=batch[0].actor if len({q.actor for q in batch}) == 1 else SYSTEM_ACTOR,
               action="beacon.query", entity_type="beacon_query",
               entity_id=str(ids[0]) if len(ids) == 1 else f"{ids[0]}-{ids[-1]}", change={"queries": listed})


class _Flusher:
    """The process's one background writer of every database's query log."""

    def __init__(self) -> None:
        self.logs: weakref.WeakValueDictionary[int, QueryLog] = weakref.WeakValueDictionary()
        self.wakeup = threading.Event()
        self.thread: threading.Thread | None = None
        self.lock = threading.Lock()

    def wake(self, *, urgent: bool = False) -> None:
        with self.lock:
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._run, name="beacon-query-log", daemon=True)
                self.thread.start()
        if urgent:
            self.wakeup.set()

    def _run(self) -> None:
        while True:
            self.wakeup.wait(FLUSH_SECONDS)
            self.wakeup.clear()
            self.flush_all()

    def flush_all(self) -> int:
        written = 0
        for query_log in list(self.logs.values()):
            try:
                written += query_log.flush()
            except Exception:  # kept in the queue and retried; MAX_PENDING bounds what is answered meanwhile
                log.exception("writing the Beacon query log failed; retrying")
        return written


_flusher = _Flusher()
_logs: weakref.WeakKeyDictionary[Database, QueryLog] = weakref.WeakKeyDictionary()
_logs_lock = threading.Lock()


def query_log_of(db: Database) -> QueryLog:
    with _logs_lock:
        found = _logs.get(db)
        if found is None:
            found = _logs[db] = QueryLog(db)
            _flusher.logs[id(found)] = found
        return found


def log_query(db: Database, caller: Caller, endpoint: str, request: BeaconRequest, granularity: str,
              conf: BeaconSettings, *, budgeted: bool) -> None:
    """Queue the query for the log and the ledger; refuse it (429, logged too) when the caller's budget is
    spent: a budget exhausted by an attack is itself evidence."""
    now = utcnow()
    queue = query_log_of(db)
    refusal = queue.take(caller.key, conf, now) if budgeted else None
    queue.submit(_Query(now, caller.key, caller.username or f"anonymous@{caller.address}", endpoint, budgeted,
                        granularity, refusal is not None, request.canonical()))
    if refusal is not None:
        raise BeaconRequestError(refusal, code=429)


def flush(db: Database) -> int:
    """Write this process's queued queries of `db` now (before reading the log, and at shutdown)."""
    with _logs_lock:
        found = _logs.get(db)
    return found.flush() if found is not None else 0


def flush_all() -> int:
    return _flusher.flush_all()


atexit.register(flush_all)
