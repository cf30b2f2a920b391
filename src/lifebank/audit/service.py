"""Use cases of the ledger: append an event inside the caller's transaction, verify, list, show one, export."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import CTE, Executable, Select, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from lifebank.audit.chain import GENESIS_HASH, ChainBreak, EventFields, canonical_json, event_hash, first_break
from lifebank.audit.models import LedgerChange, LedgerEvent, LedgerHead
from lifebank.db.base import utcnow
from lifebank.db.engine import Database
from lifebank.errors import NotFound, SchemaOutdated, ValidationFailed

SYSTEM_ACTOR = "system"


_EVENT, _CHANGE, _HEAD = LedgerEvent.__table__, LedgerChange.__table__, LedgerHead.__table__
# Core statements, built once: an append is on every write path, and the ORM's bulk-update and unit-of-work
# machinery cost about as much CPU as the rest of a typical write (issue 15's profile of a chain step).
_MOVE_HEAD = (update(_HEAD).where(_HEAD.c.id == 1).values(seq=_HEAD.c.seq + 1)
              .returning(_HEAD.c.seq, _HEAD.c.hash))
_INSERT_EVENT = insert(_EVENT)
_INSERT_CHANGE = insert(_CHANGE)
_SET_HEAD_HASH = update(_HEAD).where(_HEAD.c.id == 1).values(hash=bindparam("head_hash"))


def _append_rows_cte() -> Executable:
    """PostgreSQL: both inserts and the head's new hash in one statement (data-modifying CTEs), one round trip."""
    return (update(_HEAD).where(_HEAD.c.id == 1).values(hash=bindparam("e_hash", type_=_HEAD.c.hash.type))
            .add_cte(*_appended_ctes()))


def _appended_ctes() -> tuple[CTE, CTE]:
    """The event's and its change's inserts as CTEs, their values bound as e_<column> and c_<column>."""
    event_values = {c.name: bindparam(f"e_{c.name}", type_=c.type) for c in _EVENT.c}
    change_values = {c.name: bindparam(f"c_{c.name}", type_=c.type) for c in _CHANGE.c}
    return (insert(_EVENT).values(event_values).cte("appended_event"),
            insert(_CHANGE).values(change_values).cte("appended_change"))


_APPEND_PG = _append_rows_cte()


def moved_head() -> CTE:
    """PostgreSQL: the ledger head moved on by one (returning its new `seq` and the previous event's `hash`), as a
    CTE a caller puts in its own first statement of the transaction, so the move costs no round trip of its own;
    pass the returned pair to `record(head=...)`. Built once by the caller."""
    return _MOVE_HEAD.cte("ledger_head_moved")


def append_with(*ctes: CTE) -> Executable:
    """PostgreSQL: the ledger's append carrying the caller's own data-modifying CTEs (its rows), so the rows and
    their ledger event are one round trip; pass it to `record(statement=...)` with the CTEs' parameters. Built
    once by the caller. The head's hash is set only where the head's seq is the event's: an append whose head
    moved meanwhile (another event recorded in between) matches no row and `record` refuses it."""
    update_head = (update(_HEAD).where(_HEAD.c.id == 1, _HEAD.c.seq == bindparam("e_seq", type_=_HEAD.c.seq.type))
                   .values(hash=bindparam("e_hash", type_=_HEAD.c.hash.type)))
    return update_head.add_cte(*ctes, *_appended_ctes())


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    entity_type: str,
    entity_id: str | int,
    change: Mapping[str, Any] | None = None,
    head: tuple[int, str] | None = None,
    statement: Executable | None = None,
    params: Mapping[str, Any] | None = None,
) -> LedgerEvent:
    """Append one event in the caller's transaction, so the change and its record commit or fail together.

    The head row is moved with an UPDATE first: on PostgreSQL that takes its row lock, on SQLite the
    write lock (already held by BEGIN IMMEDIATE), so concurrent writers line up and never fork the chain.
    The change itself is kept beside the chain (`ledger_change`), as the very bytes its digest covers.

    The caller's pending ORM changes are flushed first (as before: the ledger event is the transaction's last
    write). The rows are written with Core statements on the session's connection - two round trips on
    PostgreSQL (move the head; insert the event and its change and set the head's hash in one statement),
    four statements on SQLite. The returned event is a detached copy of the row written (not in the session).

    PostgreSQL only, to save round trips on a hot write path: `head` is the (seq, previous hash) a caller's own
    statement returned from `moved_head()` earlier in this transaction (no event recorded since), and
    `statement` an `append_with(...)` statement carrying the caller's rows, with their `params`.
    """
    session.flush()
    conn = session.connection()
    if head is None:
        moved = conn.execute(_MOVE_HEAD).one_or_none()
        if moved is None:
            raise SchemaOutdated("the ledger head row is missing; run `lifebank db upgrade`")
        head = (moved[0], moved[1])
    seq, prev_hash = head
    now = utcnow()
    encoded = canonical_json(change or {})
    fields = EventFields(
        seq=seq,
        occurred_at=now.isoformat(timespec="microseconds"),
        actor=actor,
        action=action,
        entity_type=entity_type,
        entity_id=str(entity_id),
        change_digest=hashlib.sha256(encoded).hexdigest(),
        prev_hash=prev_hash,
    )
    digest = event_hash(fields)
    row = {"seq": seq, "occurred_at": now, "occurred_at_text": fields.occurred_at, "actor": actor,
           "action": action, "entity_type": entity_type, "entity_id": fields.entity_id,
           "change_digest": fields.change_digest, "prev_hash": prev_hash, "hash": digest}
    change_row = {"seq": seq, "change_json": encoded.decode()}
    if statement is not None:
        appended = conn.execute(statement, {**(params or {}), **{f"e_{k}": v for k, v in row.items()},
                                            **{f"c_{k}": v for k, v in change_row.items()}})
        if appended.rowcount != 1:
            raise RuntimeError(f"ledger event {seq} was appended to a head that moved meanwhile")
    elif conn.dialect.name == "postgresql":
        conn.execute(_APPEND_PG, {**{f"e_{k}": v for k, v in row.items()},
                                  **{f"c_{k}": v for k, v in change_row.items()}})
    else:
        conn.execute(_INSERT_EVENT, row)
        conn.execute(_INSERT_CHANGE, change_row)
        conn.execute(_SET_HEAD_HASH, {"head_hash": digest})
    return LedgerEvent(**row)


def serialise_writers(session: Session) -> None:
    """Take the ledger head's lock now, at the start of a transaction that checks a rule across rows.

    "Never leave the platform without an active administrator" reads other users' rows; two admins
    demoting each other at once must not both see the other still in place. On SQLite BEGIN IMMEDIATE
    already serialises writers; on PostgreSQL the head row's lock does it (every ledgered write takes it).
    """
    session.execute(select(LedgerHead.seq).where(LedgerHead.id == 1).with_for_update())


@dataclass(frozen=True, slots=True)
class VerifyResult:
    checked: int
    broken: ChainBreak | None

    @property
    def ok(self) -> bool:
        return self.broken is None


def _stored_events(session: Session) -> Iterator[EventFields]:
    rows = session.execute(
        select(
            LedgerEvent.seq, LedgerEvent.occurred_at_text, LedgerEvent.actor, LedgerEvent.action,
            LedgerEvent.entity_type, LedgerEvent.entity_id, LedgerEvent.change_digest, LedgerEvent.prev_hash,
            LedgerEvent.hash,
        ).order_by(LedgerEvent.seq).execution_options(yield_per=5000)
    )
    for row in rows:
        yield EventFields(*row)


def verify(db: Database) -> VerifyResult:
    with db.session() as session:
        head = session.get(LedgerHead, 1)
        checked, broken = first_break(
            _stored_events(session), head.seq if head else None, head.hash if head else GENESIS_HASH
        )
    return VerifyResult(checked=checked, broken=broken)


@dataclass(frozen=True, slots=True)
class EventFilter:
    """What the audit page, the API and the export narrow the ledger to; every criterion is optional.

    `since`/`until` are UTC instants (the page turns the reader's local dates into them); `until` is
    exclusive, so "to 30 Nov" means up to the start of 1 Dec in the reader's zone.
    """

    entity_type: str | None = None
    entity_id: str | None = None
    actor: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    @classmethod
    def from_local_dates(cls, zone: ZoneInfo, *, start: date | None = None, end: date | None = None,
                         entity_type: str | None = None, entity_id: str | None = None, actor: str | None = None,
                         action: str | None = None) -> EventFilter:
        """A filter whose date range is whole days in the reader's zone (`end` included)."""
        if start and end and end < start:
            raise ValidationFailed("the date range ends ({end}) before it starts ({start})", start=start.isoformat(),
                                   end=end.isoformat())

        def midnight(day: date) -> datetime:
            return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)

        return cls(entity_type=(entity_type or "").strip() or None, entity_id=(entity_id or "").strip() or None,
                   actor=(actor or "").strip() or None, action=(action or "").strip() or None,
                   since=midnight(start) if start else None,
                   until=midnight(end + timedelta(days=1)) if end else None)

    def apply(self, query: Select[Any]) -> Select[Any]:
        if self.entity_type:
            query = query.where(LedgerEvent.entity_type == self.entity_type)
        if self.entity_id:
            query = query.where(LedgerEvent.entity_id == self.entity_id)
        if self.actor:
            query = query.where(LedgerEvent.actor == self.actor)
        if self.action:
            query = query.where(LedgerEvent.action == self.action)
        if self.since:
            query = query.where(LedgerEvent.occurred_at >= self.since)
        if self.until:
            query = query.where(LedgerEvent.occurred_at < self.until)
        return query


def list_events(
    db: Database,
    *,
    entity_type: str | None = None,
    entity_id: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    limit: int = 50,
    offset: int = 0,
    where: EventFilter | None = None,
) -> tuple[int, list[LedgerEvent]]:
    """Newest first; filters combine (`where`, or the keyword filters)."""
    where = where or EventFilter(entity_type=entity_type, entity_id=entity_id, actor=actor, action=action)
    query = where.apply(select(LedgerEvent))
    with db.session() as session:
        total = session.scalar(where.apply(select(func.count(LedgerEvent.seq)))) or 0
        events = list(session.scalars(query.order_by(LedgerEvent.seq.desc()).limit(limit).offset(offset)))
    return total, events


def iter_events(db: Database, where: EventFilter) -> Iterator[dict[str, Any]]:
    """Every matching event with its change, newest first, streamed in batches (exports of long ledgers)."""
    query = where.apply(select(LedgerEvent, LedgerChange.change_json)
                        .outerjoin(LedgerChange, LedgerChange.seq == LedgerEvent.seq))
    with db.session() as session:
        rows = session.execute(query.order_by(LedgerEvent.seq.desc()).execution_options(yield_per=2000))
        for event, change_json in rows:
            yield {**event_view(event), "occurred": event.occurred_at, "change": change_json or ""}


@dataclass(frozen=True, slots=True)
class EventDetail:
    """One event with what it changed; `change` is None when it was not kept (events before 0002)."""

    event: LedgerEvent
    change: dict[str, Any] | None
    change_matches_digest: bool | None


def event_detail(db: Database, seq: int) -> EventDetail:
    import json

    with db.session() as session:
        event = session.get(LedgerEvent, seq)
        if event is None:
            raise NotFound("ledger event #{seq} does not exist", seq=seq)
        stored = session.get(LedgerChange, seq)
    if stored is None:
        return EventDetail(event, None, None)
    matches = hashlib.sha256(stored.change_json.encode()).hexdigest() == event.change_digest
    return EventDetail(event, json.loads(stored.change_json), matches)


def event_view(event: LedgerEvent) -> dict[str, Any]:
    return {
        "seq": event.seq,
        "occurred_at": event.occurred_at_text,
        "actor": event.actor,
        "action": event.action,
        "entity_type": event.entity_type,
        "entity_id": event.entity_id,
        "change_digest": event.change_digest,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }


def recent_events(db: Database, *, entity_types: tuple[str, ...] = (), limit: int = 8) -> list[LedgerEvent]:
    """The newest events (optionally of these entity types), without counting the ledger.

    For the dashboard: newest first straight down the primary key, so the cost does not grow with a ledger of
    millions of events the way a filtered count would.
    """
    query = select(LedgerEvent).order_by(LedgerEvent.seq.desc()).limit(limit)
    if entity_types:
        query = query.where(LedgerEvent.entity_type.in_(entity_types))
    with db.session() as session:
        return list(session.scalars(query))
