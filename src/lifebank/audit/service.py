"""Use cases of the ledger: append an event inside the caller's transaction, verify, list."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from lifebank.audit.chain import GENESIS_HASH, ChainBreak, EventFields, change_digest, event_hash, first_break
from lifebank.audit.models import LedgerEvent, LedgerHead
from lifebank.db.base import utcnow
from lifebank.db.engine import Database

SYSTEM_ACTOR = "system"


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    entity_type: str,
    entity_id: str | int,
    change: Mapping[str, Any] | None = None,
) -> LedgerEvent:
    """Append one event in the caller's transaction, so the change and its record commit or fail together.

    The head row is moved with an UPDATE first: on PostgreSQL that takes its row lock, on SQLite the
    write lock (already held by BEGIN IMMEDIATE), so concurrent writers line up and never fork the chain.
    """
    moved = session.execute(
        update(LedgerHead).where(LedgerHead.id == 1).values(seq=LedgerHead.seq + 1)
        .returning(LedgerHead.seq, LedgerHead.hash)
    ).one_or_none()
    if moved is None:
        raise RuntimeError("ledger head row is missing: run `lifebank db upgrade`")
    seq, prev_hash = moved
    now = utcnow()
    fields = EventFields(
        seq=seq,
        occurred_at=now.isoformat(timespec="microseconds"),
        actor=actor,
        action=action,
        entity_type=entity_type,
        entity_id=str(entity_id),
        change_digest=change_digest(change or {}),
        prev_hash=prev_hash,
    )
    digest = event_hash(fields)
    event = LedgerEvent(
        seq=seq, occurred_at=now, occurred_at_text=fields.occurred_at, actor=actor, action=action,
        entity_type=entity_type, entity_id=fields.entity_id, change_digest=fields.change_digest,
        prev_hash=prev_hash, hash=digest,
    )
    session.add(event)
    session.execute(update(LedgerHead).where(LedgerHead.id == 1).values(hash=digest))
    session.flush()
    return event


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


def list_events(
    db: Database,
    *,
    entity_type: str | None = None,
    entity_id: str | None = None,
    actor: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[int, list[LedgerEvent]]:
    """Newest first; filters combine."""
    query = select(LedgerEvent)
    if entity_type:
        query = query.where(LedgerEvent.entity_type == entity_type)
    if entity_id:
        query = query.where(LedgerEvent.entity_id == entity_id)
    if actor:
        query = query.where(LedgerEvent.actor == actor)
    with db.session() as session:
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        events = list(session.scalars(query.order_by(LedgerEvent.seq.desc()).limit(limit).offset(offset)))
    return total, events


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
