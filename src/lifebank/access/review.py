"""The access committee: a manager appoints N reviewers, each votes with a comment, and the request moves
when the last vote is in (`workflow.verdict`: the strictest vote wins). Then the MTA/DTA is signed.

No one reviews their own request: the requester cannot sit on its committee, and a vote from them is refused
(PermissionDenied), whatever their roles. Every move is ledgered; reviewers and requester are told in the app.
"""

from __future__ import annotations

from sqlalchemy import select

from lifebank.access._common import Reader, move, notify, ref, visible_request
from lifebank.access.models import ReviewEntry, Reviewer
from lifebank.access.requests import has_document
from lifebank.access.workflow import State, Vote, parse_vote, state_text, verdict
from lifebank.audit import service as ledger
from lifebank.db.engine import Database
from lifebank.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from lifebank.messages import Msg


def _known_user(db: Database, username: str) -> None:
    from lifebank.auth import service as auth

    try:
        user = auth.get_user(db, username)
    except NotFound:
        raise ValidationFailed("reviewer {username!r} is not a user", username=username) from None
    if not auth.principal_of(user).can("access.review"):
        raise ValidationFailed("{username} may not review access requests (no access.review permission)",
                               username=username)


def appoint_committee(db: Database, request_id: int, reviewers: list[str], *, principal: Reader,
                      note: str = "") -> None:
    """Put a submitted request under review by these reviewers (at least one; never its requester)."""
    names = list(dict.fromkeys(r.strip() for r in reviewers if r.strip()))
    if not names:
        raise ValidationFailed("an access committee needs at least one reviewer")
    for name in names:
        _known_user(db, name)
    with db.transaction() as session:
        request = visible_request(session, request_id, principal, lock=True)
        if request.created_by in names:
            raise PermissionDenied("{username} made this request and may not review it", username=request.created_by)
        if request.state != State.SUBMITTED.value:
            raise Conflict(Msg("a committee is appointed to a submitted request; this one is {state}",
                               state=state_text(request.state)))
        known = set(session.scalars(select(Reviewer.username).where(Reviewer.request_id == request.id)))
        session.add_all([Reviewer(request_id=request.id, username=n) for n in names if n not in known])
        # A resubmitted request is reviewed afresh: earlier votes no longer count.
        session.execute(ReviewEntry.__table__.update().where(ReviewEntry.request_id == request.id,
                                                              ReviewEntry.vote.is_not(None)).values(vote=None))
        ledger.record(session, actor=principal.username, action="access.request.committee",
                      entity_type="access_request", entity_id=ref(request.id), change={"reviewers": names})
        move(session, request, State.UNDER_REVIEW.value, actor=principal.username, note=note)
        notify(session, names, request.id, Msg("you are asked to review request {ref}", ref=ref(request.id)))


def cast_vote(db: Database, request_id: int, vote: str, *, comment: str = "", principal: Reader) -> str:
    """A committee member's vote (a later vote replaces their earlier one); returns the request's state,
    which changes once every member has voted."""
    choice = parse_vote(vote)
    if choice in (Vote.APPROVE_WITH_CONDITIONS, Vote.REQUEST_CHANGES, Vote.REJECT) and not comment.strip():
        raise ValidationFailed("a vote to approve with conditions, ask for changes or reject says why (comment)")
    with db.transaction() as session:
        request = visible_request(session, request_id, principal, lock=True)
        if request.created_by == principal.username:
            raise PermissionDenied("you made request {ref} and may not approve or review it", ref=ref(request.id))
        committee = list(session.scalars(select(Reviewer.username).where(Reviewer.request_id == request.id)))
        if principal.username not in committee:
            raise PermissionDenied("only the request's committee votes on it")
        if request.state != State.UNDER_REVIEW.value:
            raise Conflict(Msg("votes are cast while a request is under review; this one is {state}",
                               state=state_text(request.state)))
        session.execute(ReviewEntry.__table__.update().where(ReviewEntry.request_id == request.id,
                                                              ReviewEntry.author == principal.username,
                                                              ReviewEntry.vote.is_not(None)).values(vote=None))
        session.add(ReviewEntry(request_id=request.id, author=principal.username, vote=choice.value,
                                comment=comment.strip()))
        session.flush()
        ledger.record(session, actor=principal.username, action="access.request.review",
                      entity_type="access_request", entity_id=ref(request.id),
                      change={"vote": choice.value, "comment": comment.strip()})
        entries = session.scalars(select(ReviewEntry).where(ReviewEntry.request_id == request.id,
                                                            ReviewEntry.vote.is_not(None))).all()
        outcome = verdict([Vote(e.vote) for e in entries if e.author in committee], len(committee))
        if outcome is not None:
            if outcome is State.APPROVED_WITH_CONDITIONS:
                request.conditions = "\n".join(e.comment for e in entries
                                               if e.vote == Vote.APPROVE_WITH_CONDITIONS.value and e.comment)
            move(session, request, outcome.value, actor=principal.username,
                 change={"votes": {e.author: e.vote for e in entries}})
        return request.state


def add_comment(db: Database, request_id: int, text: str, *, principal: Reader) -> None:
    """A comment on the request's review thread (committee, bank staff or the requester)."""
    if not text.strip():
        raise ValidationFailed("a comment needs some text")
    with db.transaction() as session:
        request = visible_request(session, request_id, principal)
        session.add(ReviewEntry(request_id=request.id, author=principal.username, vote=None, comment=text.strip()))
        ledger.record(session, actor=principal.username, action="access.request.review",
                      entity_type="access_request", entity_id=ref(request.id), change={"comment": text.strip()})
        committee = session.scalars(select(Reviewer.username).where(Reviewer.request_id == request.id))
        notify(session, [*committee, request.created_by], request.id,
               Msg("{author} commented on request {ref}", author=principal.username, ref=ref(request.id)))


def sign_agreement(db: Database, request_id: int, *, principal: Reader, note: str = "") -> None:
    """The signed MTA/DTA is on file (uploaded as an `agreement` document): the request may be fulfilled."""
    with db.transaction() as session:
        request = visible_request(session, request_id, principal, lock=True)
        if not has_document(session, request.id, "agreement"):
            raise ValidationFailed("upload the signed material/data transfer agreement (MTA/DTA) first")
        move(session, request, State.AGREEMENT_SIGNED.value, actor=principal.username, note=note)


def close_request(db: Database, request_id: int, *, principal: Reader, note: str = "") -> None:
    with db.transaction() as session:
        request = visible_request(session, request_id, principal, lock=True)
        move(session, request, State.CLOSED.value, actor=principal.username, note=note)
