"""Consent matching of a request (issue 11, item 3) and its feasibility counts.

For every candidate participant — each member of the request's cohort, or each participant holding an
available specimen of a requested type — the consent in force is decided against the request with the DUO
rule table (`consent_rules`). The biobank hands back the candidates' consents grouped by pattern, so a
million candidates are a handful of rule evaluations plus one pass to sort them into eligible and excluded.

Feasibility tells how many participants and specimens would qualify. External users (anyone without
`access.read`) see a count only at or above a threshold (LIFEBANK_FEASIBILITY_THRESHOLD, default 5); below
it they read "fewer than 5", so a count never singles out a handful of donors.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select

import lifebank.biobank as biobank
from lifebank.access import consent_rules
from lifebank.access._common import Reader, sees_all, visible_request
from lifebank.access.consent_details import consent_of
from lifebank.access.models import AccessRequest, RequestItem, Reviewer
from lifebank.access.requests import requested_use
from lifebank.db.engine import Database
from lifebank.errors import PermissionDenied
from lifebank.messages import Msg, render


@dataclass(frozen=True, slots=True)
class CheckResult:
    """Eligible participant codes (sorted) and the excluded ones with every reason, plus the conditions the
    eligible participants' consents attach (what goes into the transfer agreement)."""

    eligible: list[str]
    excluded: list[tuple[str, tuple[Msg, ...]]]
    conditions: list[Msg]

    def as_dict(self, language: str | None = None) -> dict[str, Any]:
        rendered: dict[int, str] = {}  # excluded participants share a handful of decisions

        def reason(msgs: tuple[Msg, ...]) -> str:
            key = id(msgs)
            if key not in rendered:
                rendered[key] = "; ".join(render(m, language) for m in msgs)
            return rendered[key]

        return {"eligible": self.eligible,
                "excluded": [{"participant": code, "reason": reason(msgs)} for code, msgs in self.excluded],
                "conditions": [render(m, language) for m in self.conditions]}


def threshold() -> int:
    return int(os.environ.get("LIFEBANK_FEASIBILITY_THRESHOLD", "5"))


def _candidates(db: Database, request: AccessRequest, items: list[RequestItem]) -> dict[str, Any]:
    if request.cohort:
        from lifebank.omics.cohorts import get_cohort

        members = get_cohort(db, request.cohort)["members"]
        codes = [m["participant"] for m in members if m["participant"]]  # type: ignore[index,union-attr]
        return biobank.consents_in_force(db, participant_codes=codes)
    volumes = {i.min_volume for i in items}
    min_quantity = volumes.pop() if len(volumes) == 1 else None
    return biobank.consents_in_force(db, specimen_types=[i.specimen_type for i in items], min_quantity=min_quantity)


def evaluate_request(db: Database, request: AccessRequest, items: list[RequestItem], *,
                     on: date | None = None) -> CheckResult:
    """The consent decision for every candidate of `request` (no permission check: callers did it)."""
    use = requested_use(request, on)
    consents = _candidates(db, request, items)
    decide: dict[int, consent_rules.Decision] = {}  # by id(): the biobank shares one object per pattern
    eligible: list[str] = []
    excluded: list[tuple[str, tuple[Msg, ...]]] = []
    conditions: dict[str, Msg] = {}
    for code, stored in consents.items():
        decision = decide.get(id(stored))
        if decision is None:
            consent = None if stored is None else consent_of(stored.codes, stored.consent_date, stored.scope)
            decision = decide[id(stored)] = consent_rules.evaluate(consent, use)
            if decision.permitted:
                for condition in decision.conditions:
                    conditions.setdefault(condition.render(None), condition)
        if decision.permitted:
            eligible.append(code)
        else:
            excluded.append((code, decision.reasons))
    return CheckResult(eligible, excluded, list(conditions.values()))


def _load(db: Database, request_id: int, principal: Reader | None) -> tuple[AccessRequest, list[RequestItem]]:
    with db.session() as session:
        request = visible_request(session, request_id, principal)
        items = list(session.scalars(select(RequestItem).where(RequestItem.request_id == request_id)
                                     .order_by(RequestItem.id)))
        session.expunge_all()
    return request, items


def check_request(db: Database, request_id: int, principal: Reader | None) -> CheckResult:
    """`lifebank access check ID`: the consent of every candidate against the request, today.

    The answer names participants, so it is for bank staff and the request's committee only: a requester
    or partner reads the feasibility counts instead."""
    request, items = _load(db, request_id, principal)
    if principal is not None and not sees_all(principal):
        with db.session() as session:
            committee = set(session.scalars(select(Reviewer.username).where(Reviewer.request_id == request_id)))
        if principal.username not in committee:
            raise PermissionDenied("participant codes are shown to bank staff and the request's committee only; "
                                   "read the feasibility counts instead")
    return evaluate_request(db, request, items)


# Feasibility asks the same question again and again while a requester edits and a committee reads; the
# decision for a request is kept for a minute (any change of the request changes its `updated_at`).
_CACHE: dict[tuple[Any, ...], tuple[float, tuple[int, int, int]]] = {}
_CACHE_LOCK = threading.Lock()
_CACHE_SECONDS = 60.0


def _counts(db: Database, request: AccessRequest, items: list[RequestItem]) -> tuple[int, int, int]:
    """(eligible participants, excluded participants, specimens they hold that meet the criteria)."""
    key = (id(db), request.id, request.updated_at, date.today())
    now = time.monotonic()
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
    if hit is not None and now - hit[0] < _CACHE_SECONDS:
        return hit[1]
    result = evaluate_request(db, request, items)
    specimens = 0
    for item in items:
        held = biobank.allocatable_counts(
            db, specimen_type=item.specimen_type, min_quantity=item.min_volume,
            max_freeze_thaw=request.max_freeze_thaw, sprec_prefix=request.sprec_prefix,
            participant_codes=result.eligible if request.cohort else None)
        specimens += sum(held.get(code, 0) for code in result.eligible)
    counts = (len(result.eligible), len(result.excluded), specimens)
    with _CACHE_LOCK:  # kept from when the counts were ready (a count that took longer than a minute is kept too)
        if len(_CACHE) > 256:
            _CACHE.clear()
        _CACHE[key] = (time.monotonic(), counts)
    return counts


def feasibility(db: Database, request_id: int, principal: Reader) -> dict[str, Any]:
    """How many participants (and specimens) would qualify; below the threshold an external user reads
    only "fewer than N"."""
    request, items = _load(db, request_id, principal)
    participants, excluded, specimens = _counts(db, request, items)
    limit = threshold()
    external = not sees_all(principal)
    hidden = external and participants < limit
    return {"request": request_id, "threshold": limit,
            "participants": None if hidden else participants,
            "specimens": None if hidden or (external and specimens < limit) else specimens,
            "excluded": None if external else excluded,
            "shown_as": (Msg("fewer than {n}", n=limit) if hidden else None)}
