"""Access requests: a researcher or partner asks for material and/or data; the request is recorded,
checked for completeness, and read back by those allowed to see it.

A request names its organisation, principal investigator, ethics approval (number, date, the document
uploaded separately), its purposes as GA4GH DUO permissions (plus a disease for DS), whether it is
commercial, what it wants (material, data) and its selection: a saved cohort (omics) or specimen types, with
tubes per participant, an optional total and a minimum volume per type.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import func, select

from lifebank.access import consent_rules
from lifebank.access._common import Reader, move, notify, ref, sees_all, visible_request
from lifebank.access.models import AccessRequest, Document, RequestItem, ReviewEntry, Reviewer, Transition
from lifebank.access.organisations import OrganisationRef, bank_country, organisation_named, organisation_of
from lifebank.access.workflow import OPEN_STATES, State
from lifebank.audit import service as ledger
from lifebank.biobank.specimen_types import SPECIMEN_TYPES
from lifebank.db.engine import Database
from lifebank.errors import PermissionDenied, ValidationFailed
from lifebank.messages import N_, Msg, register_labels

DOCUMENT_KINDS = {"ethics": N_("Ethics approval"), "agreement": N_("Material/data transfer agreement (MTA/DTA)"),
                  "hgr": N_("HGR approval"), "certificate": N_("Destruction or return certificate"),
                  "other": N_("Other document")}
register_labels("access_document", DOCUMENT_KINDS)
DECLARATIONS = {"publication": N_("The results will be published"),
                "collaboration": N_("We will collaborate with the study's investigators"),
                "return_data": N_("We will return derived data to the biobank"),
                "genetic_study": N_("This is a genetic study")}
register_labels("access_declaration", DECLARATIONS)
MAX_DOCUMENT_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Item:
    """Material of one specimen type: tubes per participant, an optional total, a minimum volume."""

    specimen_type: str
    per_participant: int = 1
    total: int | None = None
    min_volume: float | None = None

    @classmethod
    def parse(cls, text: str) -> Item:
        """`PL1`, `PL1:2` (2 tubes per participant) or `PL1:2:0.5` (… of at least 0.5 in the type's unit)."""
        parts = [p.strip() for p in text.split(":")]
        try:
            per = int(parts[1]) if len(parts) > 1 and parts[1] else 1
            volume = float(parts[2]) if len(parts) > 2 and parts[2] else None
        except ValueError:
            raise ValidationFailed("specimen type {value!r}: write TYPE, TYPE:TUBES or TYPE:TUBES:MIN_VOLUME",
                                   value=text) from None
        return cls(parts[0], per, None, volume)


@dataclass(slots=True)
class RequestDraft:
    """What a requester fills in (the form, the API body and the CLI options all build one)."""

    title: str
    organisation: str
    purposes: list[str]
    disease: str | None = None
    commercial: bool = False
    ethics_approval: str | None = None
    ethics_date: date | None = None
    principal_investigator: str = ""
    cohort: str | None = None
    items: list[Item] = field(default_factory=list)
    wants_material: bool = True
    wants_data: bool = False
    declarations: list[str] = field(default_factory=list)
    recipient_country: str | None = None
    max_freeze_thaw: int | None = None
    sprec_prefix: str | None = None


def requested_use(request: AccessRequest, on: date | None = None) -> consent_rules.RequestedUse:
    """The request as the consent rules read it (NPU reads the organisation's for-profit flag, IRB the
    ethics approval number, GS the recipient country, TS the day of the check)."""
    flags = set(json.loads(request.declarations or "{}").get("declared", []))
    return consent_rules.RequestedUse(
        frozenset(request.purposes.split(";")), diseases=frozenset({request.disease} if request.disease else ()),
        commercial=request.commercial, for_profit=request.for_profit, ethics_approval=request.ethics_number,
        publication_committed="publication" in flags, collaboration_agreed="collaboration" in flags,
        returns_derived_data="return_data" in flags, genetic_study="genetic_study" in flags,
        country=request.recipient_country, use_date=on or date.today(), institution=request.organisation_name)


def _checked_items(draft: RequestDraft) -> list[Item]:
    items = []
    for item in draft.items:
        code = item.specimen_type.strip().upper()
        if code not in SPECIMEN_TYPES:
            raise ValidationFailed("unknown specimen type {type}; known types: {allowed}", type=item.specimen_type,
                                   allowed=", ".join(SPECIMEN_TYPES))
        if item.per_participant < 1 or (item.total is not None and item.total < 1):
            raise ValidationFailed("specimen type {type}: ask for at least one tube", type=code)
        if item.min_volume is not None and item.min_volume < 0:
            raise ValidationFailed("specimen type {type}: the minimum volume must not be negative", type=code)
        items.append(Item(code, item.per_participant, item.total, item.min_volume))
    if len({i.specimen_type for i in items}) != len(items):
        raise ValidationFailed("each specimen type is named once in a request")
    return items


def check_draft(db: Database, draft: RequestDraft) -> tuple[list[Item], consent_rules.RequestedUse]:
    """Refuse an incomplete or impossible request before anything is written, naming the field."""
    if not draft.title.strip():
        raise ValidationFailed("a request needs a title")
    if not draft.purposes:
        raise ValidationFailed("a request needs at least one purpose (a DUO data use permission)")
    items = _checked_items(draft)
    if draft.cohort is None and not items:
        raise ValidationFailed("a request selects a saved cohort or at least one specimen type")
    if draft.wants_material and not items:
        raise ValidationFailed("a request for material names the specimen types it wants")
    if draft.cohort is not None:
        from lifebank.omics.cohorts import get_cohort

        get_cohort(db, draft.cohort)  # NotFound names the cohort
    use = consent_rules.RequestedUse(frozenset(draft.purposes),
                                     diseases=frozenset({draft.disease} if draft.disease else ()),
                                     commercial=draft.commercial, ethics_approval=draft.ethics_approval)
    return items, use


def create_request(db: Database, draft: RequestDraft, *, principal: Reader, actor: str | None = None) -> int:
    """Record a submitted request; returns its id. A user of an organisation requests for it alone."""
    items, use = check_draft(db, draft)
    org: OrganisationRef = organisation_named(db, draft.organisation)
    own = organisation_of(principal)
    if not sees_all(principal) and own is not None and own != org.id:
        raise PermissionDenied("you may request only for your own organisation")
    country = (draft.recipient_country or org.country or bank_country()).strip().upper()
    actor = actor or principal.username
    with db.transaction() as session:
        request = AccessRequest(
            title=draft.title.strip(), organisation_id=org.id, organisation_name=org.name, for_profit=org.for_profit,
            recipient_country=country, principal_investigator=draft.principal_investigator.strip(),
            ethics_number=use.ethics_approval, ethics_date=draft.ethics_date, purposes=";".join(sorted(use.purposes)),
            disease=next(iter(use.diseases), None), commercial=draft.commercial, wants_material=draft.wants_material,
            wants_data=draft.wants_data,
            declarations=json.dumps({"declared": sorted(set(draft.declarations) & set(DECLARATIONS))}),
            cohort=draft.cohort, max_freeze_thaw=draft.max_freeze_thaw,
            sprec_prefix=(draft.sprec_prefix or "").strip().upper() or None, state=State.SUBMITTED.value,
            created_by=principal.username)
        session.add(request)
        session.flush()
        session.add_all([RequestItem(request_id=request.id, specimen_type=i.specimen_type,
                                     per_participant=i.per_participant, total=i.total, min_volume=i.min_volume)
                         for i in items])
        session.add(Transition(request_id=request.id, from_state=None, to_state=State.SUBMITTED.value, actor=actor))
        ledger.record(session, actor=actor, action="access.request.create", entity_type="access_request",
                      entity_id=ref(request.id),
                      change={"title": request.title, "organisation": org.name, "purposes": request.purposes,
                              "disease": request.disease, "commercial": request.commercial,
                              "cohort": request.cohort, "items": [i.specimen_type for i in items],
                              "country": country})
        return request.id


def is_international(request: AccessRequest) -> bool:
    """HGR: material or data going to a recipient outside the bank's country is international cooperation."""
    return request.recipient_country != bank_country()


def request_view(db: Database, request_id: int, principal: Reader | None) -> dict[str, Any]:
    """Everything a reader of the request sees (documents by name and kind, never their bytes)."""
    with db.session() as session:
        request = visible_request(session, request_id, principal)
        items = session.scalars(select(RequestItem).where(RequestItem.request_id == request_id)
                                .order_by(RequestItem.id)).all()
        documents = session.execute(select(Document.id, Document.kind, Document.filename, Document.size,
                                           Document.uploaded_at, Document.uploaded_by)
                                    .where(Document.request_id == request_id).order_by(Document.id)).all()
        reviewers = list(session.scalars(select(Reviewer.username).where(Reviewer.request_id == request_id)
                                         .order_by(Reviewer.username)))
        entries = session.scalars(select(ReviewEntry).where(ReviewEntry.request_id == request_id)
                                  .order_by(ReviewEntry.id)).all()
        history = session.scalars(select(Transition).where(Transition.request_id == request_id)
                                  .order_by(Transition.id)).all()
        return {
            "id": request.id, "ref": ref(request.id), "title": request.title,
            "organisation": request.organisation_name, "organisation_id": request.organisation_id,
            "for_profit": request.for_profit, "recipient_country": request.recipient_country,
            "international": is_international(request), "principal_investigator": request.principal_investigator,
            "ethics_approval": request.ethics_number,
            "ethics_date": request.ethics_date.isoformat() if request.ethics_date else None,
            "purposes": request.purposes.split(";"), "disease": request.disease, "commercial": request.commercial,
            "material": request.wants_material, "data": request.wants_data,
            "declarations": json.loads(request.declarations or "{}").get("declared", []),
            "cohort": request.cohort, "max_freeze_thaw": request.max_freeze_thaw,
            "sprec_prefix": request.sprec_prefix, "allow_last_aliquot": request.allow_last_aliquot,
            "items": [{"specimen_type": i.specimen_type, "per_participant": i.per_participant, "total": i.total,
                       "min_volume": i.min_volume} for i in items],
            "state": request.state, "conditions": request.conditions, "hgr_approval": request.hgr_approval,
            "created_by": request.created_by, "created_at": request.created_at.isoformat(),
            "documents": [{"id": d.id, "kind": d.kind, "filename": d.filename, "size": d.size,
                           "uploaded_at": d.uploaded_at.isoformat(), "uploaded_by": d.uploaded_by}
                          for d in documents],
            "committee": reviewers,
            "reviews": [{"author": e.author, "vote": e.vote, "comment": e.comment,
                         "at": e.created_at.isoformat()} for e in entries],
            "history": [{"from": t.from_state, "to": t.to_state, "actor": t.actor, "note": t.note,
                         "at": t.at.isoformat()} for t in history],
        }


def list_requests(db: Database, principal: Reader, *, state: str | None = None, open_only: bool = False,
                  limit: int = 500) -> list[dict[str, Any]]:
    """The requests `principal` may see, newest first: all for bank staff; one's organisation's otherwise;
    for a committee member also the ones they review."""
    query = select(AccessRequest)
    if not sees_all(principal):
        own = organisation_of(principal)
        reviewing = select(Reviewer.request_id).where(Reviewer.username == principal.username)
        mine = AccessRequest.created_by == principal.username
        visible = mine | AccessRequest.id.in_(reviewing)
        if own is not None and principal.can("access.request"):
            visible = visible | (AccessRequest.organisation_id == own)
        query = query.where(visible)
    if state:
        query = query.where(AccessRequest.state == state)
    if open_only:
        query = query.where(AccessRequest.state.in_([s.value for s in OPEN_STATES]))
    with db.session() as session:
        rows = session.scalars(query.order_by(AccessRequest.id.desc()).limit(limit)).all()
        return [{"id": r.id, "ref": ref(r.id), "title": r.title, "organisation": r.organisation_name,
                 "state": r.state, "recipient_country": r.recipient_country,
                 "international": is_international(r), "purposes": r.purposes.split(";"),
                 "created_by": r.created_by, "created_at": r.created_at.isoformat(),
                 "updated_at": r.updated_at.isoformat()} for r in rows]


def count_open(db: Database, principal: Reader) -> dict[str, int]:
    """Open requests by state, as `principal` may see them (the dashboard panel)."""
    counts: dict[str, int] = {}
    for row in list_requests(db, principal, open_only=True, limit=100_000):
        counts[row["state"]] = counts.get(row["state"], 0) + 1
    return counts


def add_document(db: Database, request_id: int, *, kind: str, filename: str, content: bytes, content_type: str,
                 principal: Reader) -> int:
    """Attach a document (ethics approval, MTA/DTA, HGR approval, certificate) to a request."""
    if kind not in DOCUMENT_KINDS:
        raise ValidationFailed("unknown document kind {kind}; kinds are {kinds}", kind=kind,
                               kinds=", ".join(DOCUMENT_KINDS))
    if not content:
        raise ValidationFailed("the document {filename} is empty", filename=filename)
    if len(content) > MAX_DOCUMENT_BYTES:
        raise ValidationFailed("the document {filename} is larger than 20 MB", filename=filename)
    digest = hashlib.sha256(content).hexdigest()
    with db.transaction() as session:
        request = visible_request(session, request_id, principal)
        document = Document(request_id=request.id, kind=kind, filename=filename[-200:] or "document",
                            content_type=content_type or "application/octet-stream", sha256=digest,
                            size=len(content), content=content, uploaded_by=principal.username)
        session.add(document)
        session.flush()
        ledger.record(session, actor=principal.username, action="access.request.document",
                      entity_type="access_request", entity_id=ref(request.id),
                      change={"kind": kind, "filename": document.filename, "sha256": digest, "size": len(content)})
        return document.id


def document_content(db: Database, request_id: int, document_id: int, principal: Reader) -> tuple[str, str, bytes]:
    """(file name, content type, bytes) of a request's document."""
    from lifebank.errors import NotFound

    with db.session() as session:
        visible_request(session, request_id, principal)
        doc = session.scalar(select(Document).where(Document.id == document_id, Document.request_id == request_id))
        if doc is None:
            raise NotFound("document {id} does not exist", id=document_id)
        return doc.filename, doc.content_type, doc.content


def has_document(session: Any, request_id: int, kind: str) -> bool:
    return bool(session.scalar(select(func.count()).where(Document.request_id == request_id, Document.kind == kind)))


def withdraw_request(db: Database, request_id: int, *, principal: Reader, note: str = "") -> None:
    """The requester (or the bank) withdraws a request that has not shipped; reserved tubes are released."""
    from lifebank.access.fulfilment import release_allocations

    with db.transaction() as session:
        request = visible_request(session, request_id, principal, lock=True)
        release_allocations(session, request, reason="request withdrawn", actor=principal.username)
        move(session, request, State.WITHDRAWN.value, actor=principal.username, note=note)


def resubmit_request(db: Database, request_id: int, *, principal: Reader, ethics_approval: str | None = None,
                     note: str = "") -> None:
    """After changes were requested, the requester resubmits (optionally with a new ethics approval number)."""
    with db.transaction() as session:
        request = visible_request(session, request_id, principal, lock=True)
        if request.created_by != principal.username and not sees_all(principal):
            raise PermissionDenied("only the requester resubmits a request")
        if ethics_approval is not None and ethics_approval.strip():
            request.ethics_number = ethics_approval.strip()
        move(session, request, State.SUBMITTED.value, actor=principal.username, note=note)
        reviewers = session.scalars(select(Reviewer.username).where(Reviewer.request_id == request.id))
        notify(session, reviewers, request.id, Msg("request {ref} was resubmitted", ref=ref(request.id)))
