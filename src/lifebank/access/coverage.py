"""Which participant codes a reader may see in genome data: the access domain's published check (issue 11,
"a researcher outside an approved request sees counts only").

Omics pages and the API ask this before they show a cohort's members or a dataset's sample map:

- a reader holding `participant.read` everywhere (bank staff, a global clinician) sees every code;
- anyone else sees the codes an **approved data request** of theirs covers: a request made by them or their
  organisation, asking for data, on a saved cohort, in a state between approval and receipt (approved,
  approved with conditions, agreement signed, in fulfilment, shipped, received); of that cohort, only the
  members whose consent in force permits the request's use **today** (the consent check of
  `consent_check.evaluate_request`), so a donor who withdrew disappears from view at once;
- everyone else sees counts only (sizes, how many members have VCF samples, allele counts and frequencies);
  members linked to no participant (VCF samples a genotype criterion chose) name nobody and stay listed.

A closed, withdrawn or rejected request covers nothing; a request for material only covers no data.
"""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy import or_, select

from lifebank.access.models import AccessRequest, RequestItem
from lifebank.access.organisations import organisation_of
from lifebank.access.workflow import State
from lifebank.db.engine import Database

# The states in which an approved request's data access holds (after approval, until the request is closed).
COVERING_STATES = frozenset({State.APPROVED, State.APPROVED_WITH_CONDITIONS, State.AGREEMENT_SIGNED,
                             State.IN_FULFILMENT, State.SHIPPED, State.RECEIVED})


class Reader(Protocol):
    """What the check needs of the acting user (lifebank.auth.service.Principal fits)."""

    username: str
    organisation_id: int | None

    def can(self, permission: str) -> bool: ...


def sees_every_code(principal: Reader) -> bool:
    """A global `participant.read` grant: every participant code (a scoped grant does not reach genome data)."""
    return principal.can("participant.read")


def _covering_requests(db: Database, principal: Reader, cohort: str | None) -> list[tuple[AccessRequest,
                                                                                          list[RequestItem]]]:
    org = organisation_of(principal)
    mine = [AccessRequest.created_by == principal.username]
    if org is not None:
        mine.append(AccessRequest.organisation_id == org)
    query = select(AccessRequest).where(or_(*mine), AccessRequest.wants_data.is_(True),
                                        AccessRequest.cohort.is_not(None),
                                        AccessRequest.state.in_(sorted(s.value for s in COVERING_STATES)))
    if cohort is not None:
        query = query.where(AccessRequest.cohort == cohort)
    with db.session() as session:
        found = []
        for request in session.scalars(query.order_by(AccessRequest.id)):
            items = list(session.scalars(select(RequestItem).where(RequestItem.request_id == request.id)))
            found.append((request, items))
        session.expunge_all()
    return found


def covered_codes(db: Database, principal: Reader, *, cohort: str | None = None) -> frozenset[str] | None:
    """The participant codes `principal` may see: None means every code (`sees_every_code`); otherwise the
    eligible members of the cohorts their approved data requests name (of `cohort` only, when given)."""
    if sees_every_code(principal):
        return None
    from lifebank.access.consent_check import evaluate_request

    codes: set[str] = set()
    for request, items in _covering_requests(db, principal, cohort):
        codes.update(evaluate_request(db, request, items).eligible)
    return frozenset(codes)


def covers(db: Database, principal: Reader, *, cohort: str) -> bool:
    """Whether `principal` sees the participant codes of `cohort`: a global participant read, or an approved
    data request of theirs (or their organisation's) on that cohort."""
    return sees_every_code(principal) or bool(_covering_requests(db, principal, cohort))


def members_for(db: Database, principal: Reader, cohort: dict[str, Any]) -> dict[str, Any]:
    """A saved cohort (`omics.cohorts.get_cohort`'s answer) as `principal` may see it: every member for a
    global participant reader; otherwise the members linked to no participant (VCF samples a genotype
    criterion chose: they name nobody, and the reader can read their genotypes anyway) and the covered
    participants under an approved request, with counts of the rest. `members_hidden` says how many members
    are not listed."""
    members: list[dict[str, Any]] = list(cohort["members"])
    codes = None if sees_every_code(principal) else covered_codes(db, principal, cohort=str(cohort["name"]))
    return {**cohort, **member_counts(members), **visible_members(members, codes)}


def visible_members(members: list[dict[str, Any]], codes: frozenset[str] | None) -> dict[str, Any]:
    """`members` (participant, vcf_samples) limited to what `codes` (None: every code) lets the reader see:
    members linked to no participant are always listed; a linked member only when its code is visible."""
    shown = members if codes is None else [m for m in members if m["participant"] is None
                                           or m["participant"] in codes]
    return {"members": shown, "members_hidden": len(members) - len(shown)}


def member_counts(members: list[dict[str, Any]]) -> dict[str, int]:
    """Counts that never name anyone: members, members linked to a participant, members with VCF samples,
    VCF samples in all."""
    return {"members_total": len(members),
            "members_with_participant": sum(1 for m in members if m["participant"]),
            "members_with_samples": sum(1 for m in members if m["vcf_samples"]),
            "vcf_samples_total": sum(len(m["vcf_samples"]) for m in members)}


def sample_map_for(db: Database, principal: Reader, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A dataset's sample map (`omics.service.list_samples` rows) as `principal` may see it: the participant
    code and specimen barcode of a sample only when the participant's code is visible to them (`covered_codes`
    over all their approved data requests); the VCF sample name and batch always (the dataset's own ids), and
    `linked`, whether the sample is linked to a participant at all (a count, not a name)."""
    codes = covered_codes(db, principal)
    if codes is None:
        return [{**row, "linked": row["participant"] is not None} for row in rows]
    return [{**row, "linked": row["participant"] is not None} if row["participant"] in codes else
            {**row, "participant": None, "specimen_barcode": None, "linked": row["participant"] is not None}
            for row in rows]


__all__ = ["COVERING_STATES", "covered_codes", "covers", "member_counts", "members_for", "sample_map_for",
           "sees_every_code", "visible_members"]
