"""Fulfilment: allocate tubes to an approved request, print the pick list, scan each tube to confirm it.

Allocation takes the eligible participants (consent matching, today), picks for each requested specimen
type the tubes that meet the criteria (type, minimum volume, SPREC prefix, freeze–thaw limit), never a
participant's last available tube of that type unless the manager allows it, and reserves them all in one
transaction with the allocation rows: two fulfilments racing for a tube cannot both win (the biobank's
conditional UPDATE), and the loser's whole allocation rolls back with the tube named.

The pick list is ordered by storage path (freezer › rack › box › position: each freezer door opens once);
each tube gets its place in the shipping boxes (`AR-000042-1` A1, A2…). Scanning a tube checks it
against the pick list: a tube not on it is refused loudly, and a tube whose donor withdrew consent since
allocation is dropped from the request and released.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

import lifebank.biobank as biobank
from lifebank.access._common import Reader, move, ref, visible_request
from lifebank.access.consent_check import decide
from lifebank.access.models import AccessRequest, Allocation, RequestItem
from lifebank.access.picking import Offer, Place, choose, pack_boxes, pick_order
from lifebank.access.requests import requested_use
from lifebank.access.workflow import State, state_text
from lifebank.audit import service as ledger
from lifebank.db.base import utcnow
from lifebank.db.engine import Database
from lifebank.errors import Conflict, ValidationFailed
from lifebank.messages import N_, Msg, register_labels

ACTIVE = ("allocated", "picked")
# Participants read per page by allocation: the first page, then as the yield so far suggests, within bounds.
FIRST_PAGE, MIN_PAGE, MAX_PAGE, PAGE_WITHOUT_TOTAL = 2000, 500, 50000, 20000
register_labels("allocation_state", {"allocated": N_("To pick"), "picked": N_("Picked"),
                                     "dropped": N_("Dropped"), "shipped": N_("Shipped"),
                                     "returned": N_("Returned"), "destroyed": N_("Destroyed")})


def allocate(db: Database, request_id: int, *, principal: Reader, allow_last_aliquot: bool = False) -> dict[str, Any]:
    """Allocate and reserve tubes for a request whose agreement is signed; moves it to in_fulfilment."""
    with db.session() as session:
        request = visible_request(session, request_id, principal)
        items = list(session.scalars(select(RequestItem).where(RequestItem.request_id == request_id)
                                     .order_by(RequestItem.id)))
        session.expunge_all()
    if request.state != State.AGREEMENT_SIGNED.value:
        raise Conflict(Msg("tubes are allocated once the agreement is signed; request {ref} is {state}",
                           ref=ref(request.id), state=state_text(request.state)))
    if not request.wants_material:
        raise ValidationFailed("request {ref} asks for data only: nothing to allocate", ref=ref(request.id))
    pages = _EligiblePages(db, request)
    chosen: list[tuple[str, str, str]] = []  # barcode, participant, type
    for item in items:
        chosen += [(b, p, item.specimen_type) for b, p in _choose_item(db, request, item, pages,
                                                                       allow_last_aliquot)]
    if not chosen:
        raise ValidationFailed("no tube meets request {ref}: no eligible participant holds a matching specimen "
                               "(the last tube of a participant is kept unless allowed)", ref=ref(request.id))
    places = {b: Place(p.parts, p.position_index, p.position)
              for b, p in biobank.storage_places(db, [c[0] for c in chosen]).items()}
    order = pick_order([c[0] for c in chosen], places)
    rank = {b: i for i, b in enumerate(order)}
    packed = {b: (box, pos) for b, box, pos in pack_boxes(order, prefix=ref(request.id))}
    rows = [(request.id, b, p, t, places[b].box + "/" + places[b].position if b in places else None, rank[b],
             "allocated", packed[b][0], packed[b][1], "") for b, p, t in chosen]
    with db.transaction() as session:
        locked = visible_request(session, request_id, principal, lock=True)
        if locked.state != State.AGREEMENT_SIGNED.value:
            raise Conflict(Msg("tubes are allocated once the agreement is signed; request {ref} is {state}",
                               ref=ref(locked.id), state=state_text(locked.state)))
        biobank.reserve_for_request(session, order, request_ref=ref(locked.id), actor=principal.username)
        _insert_allocations(session, rows)
        locked.allow_last_aliquot = allow_last_aliquot
        ledger.record(session, actor=principal.username, action="access.allocation", entity_type="access_request",
                      entity_id=ref(locked.id), change={"tubes": len(rows), "participants": len({c[1] for c in chosen}),
                                                        "allow_last_aliquot": allow_last_aliquot})
        move(session, locked, State.IN_FULFILMENT.value, actor=principal.username)
    return {"request": request.id, "allocated": len(rows), "participants": len({c[1] for c in chosen}),
            "boxes": len({v[0] for v in packed.values()})}


_ALLOCATION_COLUMNS = ("request_id", "barcode", "participant", "specimen_type", "source", "sort_key", "state",
                       "target_box", "target_position", "note")
_ALLOCATION_ARRAYS = ("int[]", "text[]", "text[]", "text[]", "text[]", "int[]", "text[]", "text[]", "text[]", "text[]")


def _insert_allocations(session: Session, rows: list[tuple[Any, ...]]) -> None:
    """Thousands of allocation rows straight through the driver: on PostgreSQL one INSERT … SELECT FROM
    unnest(one array per column) (an executemany costs a round trip per row), on SQLite the driver's
    executemany (a loop in C). SQLAlchemy's multi-row VALUES cost more: compiling 10,000 rows × 10 parameters
    took ~3 s of CPU, most of an allocation's."""
    connection = session.connection()
    columns = ", ".join(_ALLOCATION_COLUMNS)
    if connection.dialect.name == "postgresql":
        arrays = ", ".join(f"%s::{kind}" for kind in _ALLOCATION_ARRAYS)
        connection.exec_driver_sql(f"INSERT INTO ar_allocation ({columns}) SELECT * FROM unnest({arrays})",
                                   tuple(list(column) for column in zip(*rows, strict=True)))
    else:
        marks = ", ".join("?" * len(_ALLOCATION_COLUMNS))
        connection.exec_driver_sql(f"INSERT INTO ar_allocation ({columns}) VALUES ({marks})", rows)


class _EligiblePages:
    """Eligible participants in code order, a page at a time: the bank's participants (or the cohort's members)
    are read in pages with their consent in force, each distinct consent decided once (today). Allocation
    stops reading once an item has its tubes, so 10,000 tubes of a bank of millions read a few pages, not
    the bank; with no total, every page is read."""

    def __init__(self, db: Database, request: AccessRequest) -> None:
        self.db, self.request = db, request
        self.use = requested_use(request)
        self.permitted: dict[Any, bool] = {}
        self.members: list[str] | None = None
        if request.cohort:
            from lifebank.omics.cohorts import get_cohort

            found = get_cohort(db, request.cohort)["members"]
            self.members = sorted({m["participant"] for m in found if m["participant"]})  # type: ignore[index,misc]

    def _eligible(self, consents: dict[str, Any]) -> list[str]:
        out = []
        for code, stored in consents.items():
            permitted = self.permitted.get(stored)
            if permitted is None:
                permitted = self.permitted[stored] = decide(stored, self.use).permitted
            if permitted:
                out.append(code)
        return out

    def __call__(self, sizes: Iterator[int]) -> Iterator[list[str]]:
        """Pages of eligible codes; `sizes` says how many participants to read for each next page."""
        if self.members is not None:
            start = 0
            while start < len(self.members):
                size = next(sizes)
                chunk = self.members[start:start + size]
                start += size
                yield self._eligible(biobank.consents_in_force(self.db, participant_codes=chunk))
            return
        after: str | None = None
        while True:
            consents = biobank.consents_in_force_after(self.db, after, next(sizes))
            if not consents:
                return
            after = max(consents)
            yield self._eligible(consents)


def _choose_item(db: Database, request: AccessRequest, item: RequestItem, pages: _EligiblePages,
                 allow_last: bool) -> list[tuple[str, str]]:
    """(barcode, participant) of the tubes allocated for one requested type, reading eligible participants
    page by page and stopping once the item's total is reached. Each page's size follows the yield so far
    (tubes per participant read), so a sparse type reads large pages and a dense one small ones."""
    out: list[tuple[str, str]] = []
    read = 0

    def sizes() -> Iterator[int]:
        nonlocal read
        while True:
            if item.total is None:
                size = PAGE_WITHOUT_TOTAL
            else:
                # nothing read yet: the first page; nothing found yet: as much again; else what the rate asks
                guess = (FIRST_PAGE if not read else read if not out else
                         int((item.total - len(out)) * read / len(out) * 1.2) + 1)
                size = max(MIN_PAGE, min(guess, MAX_PAGE))
            read += size
            yield size

    for eligible in pages(sizes()):
        if eligible:
            offers, held = biobank.allocatable_specimens(db, eligible, specimen_type=item.specimen_type,
                                                         min_quantity=item.min_volume,
                                                         max_freeze_thaw=request.max_freeze_thaw,
                                                         sprec_prefix=request.sprec_prefix)
            owner = {o.barcode: o.participant for o in offers}
            picked = choose([Offer(o.barcode, o.participant) for o in offers], held,
                            per_participant=item.per_participant,
                            total=None if item.total is None else item.total - len(out), allow_last=allow_last)
            out += [(b, owner[b]) for b in picked]
        if item.total is not None and len(out) >= item.total:
            break
    return out


def pick_list(db: Database, request_id: int, principal: Reader) -> list[dict[str, Any]]:
    """The tubes to pick, in storage-path order, with where each goes in the shipping boxes."""
    with db.session() as session:
        visible_request(session, request_id, principal)
        columns = (Allocation.barcode, Allocation.participant, Allocation.specimen_type, Allocation.source,
                   Allocation.target_box, Allocation.target_position, Allocation.state, Allocation.picked_by,
                   Allocation.note)
        names = [c.key for c in columns]
        rows = session.execute(select(*columns).where(Allocation.request_id == request_id)
                               .order_by(Allocation.sort_key, Allocation.id))
        return [dict(zip(names, row, strict=True)) for row in rows]


def scanned_allocation(session: Session, request_id: int, code: str,
                       principal: Reader) -> tuple[AccessRequest, Allocation]:
    """The request (locked, in fulfilment) and the pick-list allocation of a scanned tube not yet scanned: the
    checks every scan-step action (confirm, split) makes first, refusing a wrong tube loudly."""
    request = visible_request(session, request_id, principal, lock=True)
    if request.state != State.IN_FULFILMENT.value:
        raise Conflict(Msg("request {ref} is {state}, not in fulfilment", ref=ref(request.id),
                           state=state_text(request.state)))
    allocation = session.scalar(select(Allocation).where(Allocation.request_id == request.id,
                                                         Allocation.barcode == code))
    if allocation is None or allocation.state not in ACTIVE:
        raise Conflict("WRONG TUBE: {barcode} is not on the pick list of request {ref}; put it back",
                       barcode=code, ref=ref(request.id))
    if allocation.state == "picked":
        raise Conflict("{barcode} was already scanned for request {ref}", barcode=code, ref=ref(request.id))
    return request, allocation


def scan(db: Database, request_id: int, barcode: str, *, principal: Reader) -> dict[str, Any]:
    """Confirm one picked tube: it must be on this request's pick list and not yet scanned."""
    code = barcode.strip()
    if not code:
        raise ValidationFailed("scan a barcode")
    withdrawn = bool(biobank.not_distributable(db, [code]))
    with db.transaction() as session:
        request, allocation = scanned_allocation(session, request_id, code, principal)
        if withdrawn:
            _drop(session, request, [allocation], reason="consent withdrawn", actor=principal.username)
            return {"barcode": code, "state": "dropped", "remaining": _remaining(session, request.id)}
        allocation.state, allocation.picked_by, allocation.picked_at = "picked", principal.username, utcnow()
        ledger.record(session, actor=principal.username, action="access.pick", entity_type="access_request",
                      entity_id=ref(request.id), change={"barcode": code})
        return {"barcode": code, "state": "picked", "target_box": allocation.target_box,
                "target_position": allocation.target_position, "remaining": _remaining(session, request.id)}


def _remaining(session: Session, request_id: int) -> int:
    return session.scalar(select(func.count()).where(Allocation.request_id == request_id,
                                                     Allocation.state == "allocated")) or 0


def _drop(session: Session, request: AccessRequest, allocations: list[Allocation], *, reason: str, actor: str) -> None:
    barcodes = [a.barcode for a in allocations]
    biobank.release_for_request(session, barcodes, request_ref=ref(request.id), reason=reason, actor=actor)
    for allocation in allocations:
        allocation.state, allocation.note = "dropped", reason
    ledger.record(session, actor=actor, action="access.allocation.drop", entity_type="access_request",
                  entity_id=ref(request.id), change={"barcodes": barcodes, "reason": reason})


def drop_withdrawn(session: Session, db: Database, request: AccessRequest, *, actor: str) -> list[str]:
    """Before shipment: tubes whose donor withdrew consent after approval leave the request (released)."""
    active = session.scalars(select(Allocation).where(Allocation.request_id == request.id,
                                                      Allocation.state.in_(ACTIVE))).all()
    blocked = biobank.not_distributable(db, [a.barcode for a in active])
    gone = [a for a in active if a.barcode in blocked]
    if gone:
        _drop(session, request, gone, reason="consent withdrawn", actor=actor)
    return [a.barcode for a in gone]


def release_allocations(session: Session, request: AccessRequest, *, reason: str, actor: str) -> None:
    """A withdrawn request gives its reserved tubes back."""
    active = session.scalars(select(Allocation).where(Allocation.request_id == request.id,
                                                      Allocation.state.in_(ACTIVE))).all()
    if active:
        _drop(session, request, list(active), reason=reason, actor=actor)


def progress(db: Database, request_id: int, principal: Reader) -> dict[str, int]:
    with db.session() as session:
        visible_request(session, request_id, principal)
        counts = dict(session.execute(select(Allocation.state, func.count()).where(Allocation.request_id == request_id)
                                      .group_by(Allocation.state)).all())
    return {state: counts.get(state, 0) for state in ("allocated", "picked", "dropped", "shipped")}


