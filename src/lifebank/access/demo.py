"""Demo access requests: a partner organisation abroad (Pharma Partner GmbH, Germany, for-profit) with one
request in each state of the workflow, from submitted to closed, plus a withdrawn one.

The partner's user `pharma` (password: the demo password) sees them all; the committee is the demo
`manager` and `researcher`. Requests are driven through the real use cases (committee, votes, agreement,
allocation, scanning, HGR, shipment, receipt), so every step is in the ledger as it would be. Idempotent:
nothing happens when the demo requests exist. Takes a few seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

from sqlalchemy import func, select

from lifebank.access import service
from lifebank.access.models import AccessRequest
from lifebank.access.workflow import State
from lifebank.auth import service as auth
from lifebank.db.engine import Database
from lifebank.errors import NotFound

ProgressFactory = Callable[[str, int | None, str], AbstractContextManager[Callable[[int], None]]]
PARTNER_ORG = "Pharma Partner GmbH"
PARTNER_USER = "pharma"
# The order a request goes through; each demo request stops at one of them.
PATH = [State.SUBMITTED, State.UNDER_REVIEW, State.APPROVED, State.AGREEMENT_SIGNED, State.IN_FULFILMENT,
        State.SHIPPED, State.RECEIVED, State.CLOSED]


def _user(db: Database, username: str) -> auth.Principal | None:
    try:
        return auth.principal_of(auth.get_user(db, username))
    except NotFound:
        return None


def _ensure_partner(db: Database) -> auth.Principal:
    import lifebank.auth as auth_domain
    from lifebank.demo import DEMO_PASSWORD

    try:
        auth_domain.get_organisation(db, PARTNER_ORG)
    except NotFound:
        auth_domain.create_organisation(db, PARTNER_ORG, country="DE", kind="company", actor="demo")
    principal = _user(db, PARTNER_USER)
    if principal is None:
        auth.create_user(db, PARTNER_USER, DEMO_PASSWORD, ["partner"], display_name="Pharma Partner GmbH (partner)",
                         locale="en", actor="demo", organisation=PARTNER_ORG)
        principal = _user(db, PARTNER_USER)
    assert principal is not None
    return principal


def _drive(db: Database, request_id: int, target: State, staff: auth.Principal, reviewers: list[auth.Principal],
           partner: auth.Principal) -> None:
    """Take a submitted request along the path up to `target`."""
    for state in PATH[1:PATH.index(target) + 1]:
        if state is State.UNDER_REVIEW:
            service.appoint_committee(db, request_id, [r.username for r in reviewers], principal=staff)
        elif state is State.APPROVED:
            for reviewer in reviewers:
                service.cast_vote(db, request_id, "approve", comment="", principal=reviewer)
        elif state is State.AGREEMENT_SIGNED:
            service.add_document(db, request_id, kind="agreement", filename="mta-signed.pdf",
                                 content=b"%PDF-1.4 demo MTA", content_type="application/pdf", principal=partner)
            service.sign_agreement(db, request_id, principal=staff)
        elif state is State.IN_FULFILMENT:
            service.allocate(db, request_id, principal=staff)
        elif state is State.SHIPPED:
            for pick in service.pick_list(db, request_id, staff):
                service.scan(db, request_id, pick["barcode"], principal=staff)
            service.record_hgr_approval(db, request_id, f"[2026]HGR-DEMO-{request_id:03d}", principal=staff)
            service.add_document(db, request_id, kind="hgr", filename="hgr-approval.pdf",
                                 content=b"%PDF-1.4 demo HGR approval", content_type="application/pdf",
                                 principal=staff)
            service.ship(db, request_id, courier="World Courier", tracking_number=f"WC2026{request_id:05d}",
                         temperature="dry_ice", un3373=True, principal=staff)
        elif state is State.RECEIVED:
            service.receive(db, request_id, discrepancies="", principal=partner)
        elif state is State.CLOSED:
            service.close_request(db, request_id, principal=staff)


def load_demo(db: Database, progress_bar: ProgressFactory) -> None:
    with db.session() as session:
        if (session.scalar(select(func.count()).select_from(AccessRequest)) or 0) > 0:
            return
    staff = _user(db, "manager")
    reviewers = [p for p in (_user(db, "manager"), _user(db, "researcher")) if p is not None]
    if staff is None or not reviewers:
        return  # the demo users are made by `lifebank demo` before the domains load
    partner = _ensure_partner(db)
    plans: list[tuple[str, State | str]] = [(s.value, s) for s in PATH] + [
        ("approved_with_conditions", "conditions"), ("rejected", "reject"),
        ("changes_requested", "changes"), ("withdrawn", "withdraw")]
    with progress_bar("access requests", len(plans), "requests") as advance:
        for n, (name, plan) in enumerate(plans, 1):
            draft = service.RequestDraft(
                title=f"Demo: serum biomarkers ({name.replace('_', ' ')})", organisation=PARTNER_ORG,
                purposes=["HMB"], ethics_approval=f"EK-2026-{n:03d}", principal_investigator="Dr. Hanna Vogel",
                items=[service.Item("SER", 1, 6, None)], declarations=["publication"])
            request_id = service.create_request(db, draft, principal=partner)
            if isinstance(plan, State):
                _drive(db, request_id, plan, staff, reviewers, partner)
            elif plan == "withdraw":
                service.withdraw_request(db, request_id, principal=partner, note="study postponed")
            else:
                _drive(db, request_id, State.UNDER_REVIEW, staff, reviewers, partner)
                vote = {"conditions": "approve_with_conditions", "reject": "reject",
                        "changes": "request_changes"}[plan]
                for reviewer in reviewers:
                    service.cast_vote(db, request_id, vote, comment="see the committee's minutes",
                                      principal=reviewer)
            advance(1)
