"""Consent matching of a request (issue 11, item 3) and its feasibility counts.

For every candidate participant — each member of the request's cohort, or each participant holding an
available specimen of a requested type — the consent in force is decided against the request with the DUO
rule table (`consent_rules`). The biobank groups the candidates by consent in force in the database
(`biobank.consent_groups`), so a million candidates are a few rows: one rule evaluation per group, and each
group goes to eligible or excluded as a whole (the excluded stay grouped by their decision).
Feasibility counts of a request chosen by specimen type alone come from what the biobank keeps per consent
(`biobank.consent_holdings`: participants per consent and set of types held, tubes per consent and type,
kept by database triggers), so a new question is answered in milliseconds, always current.

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
    """Eligible participant codes (sorted) and the excluded ones, grouped by the decision that excluded them
    (every reason; each group's codes sorted), plus the conditions the eligible participants' consents attach
    (what goes into the transfer agreement)."""

    eligible: list[str]
    excluded_groups: list[tuple[tuple[Msg, ...], list[str]]]
    conditions: list[Msg]

    @property
    def excluded_count(self) -> int:
        return sum(len(codes) for _reasons, codes in self.excluded_groups)

    @property
    def excluded(self) -> list[tuple[str, tuple[Msg, ...]]]:
        """(participant, reasons) in participant order."""
        if len(self.excluded_groups) == 1:
            reasons, codes = self.excluded_groups[0]
            return [(code, reasons) for code in codes]
        return sorted((code, reasons) for reasons, codes in self.excluded_groups for code in codes)

    def as_dict(self, language: str | None = None) -> dict[str, Any]:
        # excluded participants share a handful of decisions: each one's reasons are rendered once
        rendered = [("; ".join(render(m, language) for m in reasons), codes) for reasons, codes in
                    self.excluded_groups]
        if len(rendered) == 1:
            reason, codes = rendered[0]
            excluded = [{"participant": code, "reason": reason} for code in codes]
        else:
            excluded = [{"participant": code, "reason": reason} for code, reason in
                        sorted((code, reason) for reason, codes in rendered for code in codes)]
        return {"eligible": self.eligible, "excluded": excluded,
                "conditions": [render(m, language) for m in self.conditions]}


def threshold() -> int:
    return int(os.environ.get("LIFEBANK_FEASIBILITY_THRESHOLD", "5"))


def _groups(db: Database, request: AccessRequest, items: list[RequestItem], *, with_participants: bool,
            count_tubes: bool = False) -> list[biobank.ConsentGroup]:
    """The request's candidates grouped by consent in force (the biobank groups them in the database)."""
    tubes = [biobank.TubeCriteria(i.specimen_type, i.min_volume, request.max_freeze_thaw, request.sprec_prefix)
             for i in items] if count_tubes else []
    if request.cohort:
        from lifebank.omics.cohorts import get_cohort

        members = get_cohort(db, request.cohort)["members"]
        codes = [m["participant"] for m in members if m["participant"]]  # type: ignore[index,union-attr]
        return biobank.consent_groups(db, participant_codes=codes, with_participants=with_participants,
                                      count_tubes=tubes)
    volumes = {i.min_volume for i in items}
    min_quantity = volumes.pop() if len(volumes) == 1 else None
    return biobank.consent_groups(db, specimen_types=[i.specimen_type for i in items], min_quantity=min_quantity,
                                  with_participants=with_participants, count_tubes=tubes)


def decide(stored: biobank.ConsentInForce | None, use: consent_rules.RequestedUse) -> consent_rules.Decision:
    """The rule table's decision for one stored consent in force (None: no consent in force)."""
    consent = None if stored is None else consent_of(stored.codes, stored.consent_date, stored.scope)
    return consent_rules.evaluate(consent, use)


def evaluate_request(db: Database, request: AccessRequest, items: list[RequestItem], *,
                     on: date | None = None) -> CheckResult:
    """The consent decision for every candidate of `request` (no permission check: callers did it): one
    decision per distinct consent in force, its candidates taken over as a whole."""
    use = requested_use(request, on)
    eligible_lists: list[list[str]] = []
    excluded: list[tuple[tuple[Msg, ...], list[str]]] = []
    conditions: dict[str, Msg] = {}
    for group in _groups(db, request, items, with_participants=True):
        decision = decide(group.consent, use)
        if decision.permitted:
            eligible_lists.append(group.participants)
            for condition in decision.conditions:
                conditions.setdefault(condition.render(None), condition)
        else:
            excluded.append((decision.reasons, group.participants))
    return CheckResult(_merge(eligible_lists), _merge_groups(excluded), list(conditions.values()))


def _merge(lists: list[list[str]]) -> list[str]:
    """Sorted lists -> one sorted list (a sort of concatenated sorted runs is a merge)."""
    if len(lists) == 1:
        return lists[0]
    merged = [code for codes in lists for code in codes]
    merged.sort()
    return merged


def _merge_groups(groups: list[tuple[tuple[Msg, ...], list[str]]]) -> list[tuple[tuple[Msg, ...], list[str]]]:
    """Excluded groups with the same reasons (different consents refused alike) become one."""
    by_reasons: dict[tuple[str, ...], tuple[tuple[Msg, ...], list[list[str]]]] = {}
    for reasons, codes in groups:
        key = tuple(m.render(None) for m in reasons)
        by_reasons.setdefault(key, (reasons, []))[1].append(codes)
    return [(reasons, _merge(lists)) for reasons, lists in by_reasons.values()]


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


def _held(request: AccessRequest, items: list[RequestItem]) -> bool:
    """Whether the biobank's consent holdings answer this request's counts: candidates chosen by specimen
    type alone, tubes counted without a volume, freeze-thaw or SPREC limit."""
    return (not request.cohort and request.max_freeze_thaw is None and not request.sprec_prefix
            and all(i.min_volume is None for i in items))


def _counts(db: Database, request: AccessRequest, items: list[RequestItem]) -> tuple[int, int, int]:
    """(eligible participants, excluded participants, specimens they hold that meet the criteria), one
    decision per distinct consent in force, no participant code read. A request by specimen type alone is
    counted from the holdings the biobank keeps per consent (milliseconds, always current); any other reads
    the candidates (one grouped count in the database) and is kept for a minute."""
    if _held(request, items):
        return _tally(biobank.consent_holdings(db, [i.specimen_type for i in items]), requested_use(request))
    key = (id(db), request.id, request.updated_at, date.today())
    now = time.monotonic()
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
    if hit is not None and now - hit[0] < _CACHE_SECONDS:
        return hit[1]
    counts = _tally(_groups(db, request, items, with_participants=False, count_tubes=True), requested_use(request))
    with _CACHE_LOCK:  # kept from when the counts were ready (a count that took longer than a minute is kept too)
        if len(_CACHE) > 256:
            _CACHE.clear()
        _CACHE[key] = (time.monotonic(), counts)
    return counts


def _tally(groups: list[biobank.ConsentGroup], use: consent_rules.RequestedUse) -> tuple[int, int, int]:
    eligible = excluded = specimens = 0
    for group in groups:
        if decide(group.consent, use).permitted:
            eligible += group.count
            specimens += group.specimens
        else:
            excluded += group.count
    return eligible, excluded, specimens


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
