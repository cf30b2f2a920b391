"""The life of an access request as a state machine, and the committee's verdict from its votes. Pure.

submitted → under_review → approved / approved_with_conditions / rejected / changes_requested;
changes_requested → submitted (the requester revises and resubmits);
approved(_with_conditions) → agreement_signed (the MTA/DTA document is uploaded) → in_fulfilment
(allocation reserves the tubes) → shipped → received → closed; a rejected request is closed; a request
may be withdrawn by its requester until it ships.

Who may move it is decided by the service (permissions, "one may not approve one's own request"); this
module only says which moves exist, so a page, the API and the CLI offer and refuse the same ones.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from lifebank.errors import Conflict
from lifebank.messages import N_, Msg, labels_of, register_labels


class State(StrEnum):
    SUBMITTED = "submitted"
    UNDER_REVIEW = "under_review"
    APPROVED = "approved"
    APPROVED_WITH_CONDITIONS = "approved_with_conditions"
    REJECTED = "rejected"
    CHANGES_REQUESTED = "changes_requested"
    AGREEMENT_SIGNED = "agreement_signed"
    IN_FULFILMENT = "in_fulfilment"
    SHIPPED = "shipped"
    RECEIVED = "received"
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"


register_labels("access_state", {
    State.SUBMITTED.value: N_("Submitted"),
    State.UNDER_REVIEW.value: N_("Under review"),
    State.APPROVED.value: N_("Approved"),
    State.APPROVED_WITH_CONDITIONS.value: N_("Approved with conditions"),
    State.REJECTED.value: N_("Rejected"),
    State.CHANGES_REQUESTED.value: N_("Changes requested"),
    State.AGREEMENT_SIGNED.value: N_("Agreement signed"),
    State.IN_FULFILMENT.value: N_("In fulfilment"),
    State.SHIPPED.value: N_("Shipped"),
    State.RECEIVED.value: N_("Received"),
    State.CLOSED.value: N_("Closed"),
    State.WITHDRAWN.value: N_("Withdrawn"),
})

_OPEN_UNTIL_SHIPPED = {State.SUBMITTED, State.UNDER_REVIEW, State.APPROVED, State.APPROVED_WITH_CONDITIONS,
                       State.CHANGES_REQUESTED, State.AGREEMENT_SIGNED, State.IN_FULFILMENT}

TRANSITIONS: dict[State, frozenset[State]] = {
    State.SUBMITTED: frozenset({State.UNDER_REVIEW}),
    State.UNDER_REVIEW: frozenset({State.APPROVED, State.APPROVED_WITH_CONDITIONS, State.REJECTED,
                                   State.CHANGES_REQUESTED}),
    State.CHANGES_REQUESTED: frozenset({State.SUBMITTED}),
    State.APPROVED: frozenset({State.AGREEMENT_SIGNED}),
    State.APPROVED_WITH_CONDITIONS: frozenset({State.AGREEMENT_SIGNED}),
    State.AGREEMENT_SIGNED: frozenset({State.IN_FULFILMENT}),
    State.IN_FULFILMENT: frozenset({State.SHIPPED}),
    State.SHIPPED: frozenset({State.RECEIVED}),
    State.RECEIVED: frozenset({State.CLOSED}),
    State.REJECTED: frozenset({State.CLOSED}),
}
TRANSITIONS = {state: TRANSITIONS.get(state, frozenset()) | ({State.WITHDRAWN} if state in _OPEN_UNTIL_SHIPPED
                                                              else frozenset()) for state in State}

# States in which a request still asks something of the bank (the dashboard's "open requests").
OPEN_STATES = frozenset(_OPEN_UNTIL_SHIPPED | {State.SHIPPED})
FINAL_STATES = frozenset({State.CLOSED, State.WITHDRAWN})


# The DUO permissions a request names, by their shorthand (the page shows "HMB (DUO:0000006)").
register_labels("duo_purpose", {"DUO:0000004": "NRES", "DUO:0000042": "GRU", "DUO:0000006": "HMB",
                                "DUO:0000007": "DS", "DUO:0000011": "POA"})


class Vote(StrEnum):
    APPROVE = "approve"
    APPROVE_WITH_CONDITIONS = "approve_with_conditions"
    REQUEST_CHANGES = "request_changes"
    REJECT = "reject"


register_labels("access_vote", {
    Vote.APPROVE.value: N_("Approve"),
    Vote.APPROVE_WITH_CONDITIONS.value: N_("Approve with conditions"),
    Vote.REQUEST_CHANGES.value: N_("Request changes"),
    Vote.REJECT.value: N_("Reject"),
})


def check_transition(current: str, target: str) -> State:
    """The target state, when the request may go there from `current`; otherwise a Conflict naming both."""
    try:
        before, after = State(current), State(target)
    except ValueError:
        raise Conflict("unknown request state {state}", state=target) from None
    if after not in TRANSITIONS[before]:
        raise Conflict(Msg("a request that is {before} cannot become {after}", before=state_text(before),
                           after=state_text(after)))
    return after


def state_text(state: str) -> Msg:
    """A state as its label, translated where the message is rendered."""
    return Msg(labels_of("access_state").get(str(state), str(state)))


def parse_vote(value: str) -> Vote:
    try:
        return Vote(value.strip().lower())
    except ValueError:
        raise Conflict("unknown vote {vote}; votes are {votes}", vote=value,
                       votes=", ".join(v.value for v in Vote)) from None


def verdict(votes: Iterable[Vote], committee_size: int) -> State | None:
    """The committee's decision once every member has voted (None before): any rejection rejects, else any
    request for changes asks for changes, else any condition approves with conditions, else approved.
    The strictest vote wins because one member's reservation is enough to hold material back."""
    cast = list(votes)
    if committee_size <= 0 or len(cast) < committee_size:
        return None
    if Vote.REJECT in cast:
        return State.REJECTED
    if Vote.REQUEST_CHANGES in cast:
        return State.CHANGES_REQUESTED
    if Vote.APPROVE_WITH_CONDITIONS in cast:
        return State.APPROVED_WITH_CONDITIONS
    return State.APPROVED
