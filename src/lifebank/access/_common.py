"""What the access use-case modules share: who may see a request, moving it through its states (with its
ledger event, its own history row and the in-app notices), and notices themselves.

A request another organisation owns is answered exactly like a request that does not exist (404, same
words), so a partner learns nothing of other organisations' requests, not even that they exist.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from lifebank.access.models import AccessRequest, Notification, Reviewer, Transition
from lifebank.access.organisations import organisation_of
from lifebank.access.workflow import check_transition
from lifebank.audit import service as ledger
from lifebank.db.base import utcnow
from lifebank.errors import NotFound
from lifebank.messages import N_, Msg, register_labels

register_labels("entity_type", {"access_request": N_("Access request")})
register_labels("ledger_action", {
    "access.request.create": N_("Access request submitted"),
    "access.request.transition": N_("Access request changed state"),
    "access.request.document": N_("Document added to an access request"),
    "access.request.review": N_("Access request reviewed"),
    "access.request.committee": N_("Access committee appointed"),
    "access.request.hgr": N_("HGR approval recorded"),
    "access.allocation": N_("Specimens allocated to a request"),
    "access.allocation.drop": N_("Allocated specimens dropped"),
    "access.pick": N_("Tube picked and scanned"),
    "access.shipment": N_("Shipment dispatched"),
    "access.receipt": N_("Shipment received"),
    "access.return": N_("Material returned or destroyed"),
})


class Reader(Protocol):
    """What a use case needs of the acting user (lifebank.auth.service.Principal fits)."""

    username: str

    def can(self, permission: str) -> bool: ...


def ref(request_id: int) -> str:
    """A request as people and the ledger name it: AR-000042."""
    return f"AR-{request_id:06d}"


def sees_all(principal: Reader) -> bool:
    return principal.can("access.read")


def may_see(principal: Reader, request: AccessRequest, reviewers: Iterable[str] = ()) -> bool:
    """Bank staff with access.read see every request; a committee member the requests they review; anyone
    else the requests of their own organisation (or the ones they made themselves)."""
    if sees_all(principal) or principal.username in set(reviewers):
        return True
    if not principal.can("access.request"):
        return False
    org = organisation_of(principal)
    return request.created_by == principal.username or (org is not None and org == request.organisation_id)


def visible_request(session: Session, request_id: int, principal: Reader | None, *,
                    lock: bool = False) -> AccessRequest:
    """The request, when it exists and `principal` (None: the system) may see it; otherwise NotFound."""
    query = select(AccessRequest).where(AccessRequest.id == request_id)
    if lock:
        query = query.with_for_update()
    request = session.scalar(query)
    if request is not None and principal is not None:
        reviewers = session.scalars(select(Reviewer.username).where(Reviewer.request_id == request_id))
        if not may_see(principal, request, reviewers):
            request = None
    if request is None:
        raise NotFound("access request {id} does not exist", id=request_id)
    return request


def notify(session: Session, usernames: Iterable[str], request_id: int, message: Msg) -> None:
    """An in-app notice for each user (the platform sends no e-mail); params are kept as their text."""
    params = json.dumps({k: _plain(v) for k, v in message.params.items()})
    for name in dict.fromkeys(u for u in usernames if u):
        session.add(Notification(username=name, request_id=request_id, template=message.template, params=params))


def _plain(value: Any) -> Any:
    return value if isinstance(value, (int, float, str, bool)) or value is None else str(value)


def move(session: Session, request: AccessRequest, target: str, *, actor: str, note: str = "",
         change: dict[str, Any] | None = None) -> None:
    """One state change: checked against the workflow, kept in the request's history, ledgered in the same
    transaction, and the requester told in the app."""
    after = check_transition(request.state, target)
    before = request.state
    request.state = after.value
    request.updated_at = utcnow()
    session.add(Transition(request_id=request.id, from_state=before, to_state=after.value, actor=actor, note=note))
    ledger.record(session, actor=actor, action="access.request.transition", entity_type="access_request",
                  entity_id=ref(request.id), change={"from": before, "to": after.value, "note": note,
                                                     **(change or {})})
    notify(session, [request.created_by], request.id,
           Msg("request {ref} is now {state}", ref=ref(request.id), state=after.value))
