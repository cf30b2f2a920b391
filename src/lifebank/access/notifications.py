"""In-app notices (the platform sends no e-mail): what a user is told about the requests they make,
review or fulfil, rendered in their language when read."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select, update

from lifebank.access.models import Notification
from lifebank.access.workflow import state_text
from lifebank.db.base import utcnow
from lifebank.db.engine import Database
from lifebank.messages import Msg


def _message(template: str, params: str) -> Msg:
    values: dict[str, Any] = json.loads(params or "{}")
    if "state" in values:
        values["state"] = state_text(values["state"])
    return Msg(template, **values)


def notices(db: Database, username: str, *, unread_only: bool = False, limit: int = 50) -> list[dict[str, Any]]:
    """The user's latest notices, newest first: `message` is a Msg (the edge renders it)."""
    query = select(Notification).where(Notification.username == username)
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    with db.session() as session:
        rows = session.scalars(query.order_by(Notification.id.desc()).limit(limit)).all()
        return [{"id": n.id, "request": n.request_id, "message": _message(n.template, n.params),
                 "created_at": n.created_at, "read": n.read_at is not None} for n in rows]


def unread_count(db: Database, username: str) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).where(Notification.username == username,
                                                         Notification.read_at.is_(None))) or 0


def mark_read(db: Database, username: str) -> int:
    """Mark every notice of the user read (reading one's notices is not a state change of a request, so it
    is not ledgered)."""
    with db.transaction() as session:
        return session.execute(update(Notification).where(Notification.username == username,
                                                          Notification.read_at.is_(None))
                               .values(read_at=utcnow())).rowcount or 0
