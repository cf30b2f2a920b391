"""Aliquot-on-the-fly at fulfilment (issue 11, item 5): when a request asks less than an allocated tube holds,
the manager may split the tube at the scan step instead of shipping it whole — a child aliquot of the
requested volume ships, the parent (with the rest) stays in the bank.

One transaction does all of it, so a failure anywhere leaves the tube, the reservation and the pick list as
they were: the parent's reservation for the request is released, the biobank's published aliquot function
(`split_in_session`: lineage, the volume moved out of the parent, the child's registration event and the
ledger) makes the child, the child is reserved for the request, and the pick-list row now names the child,
picked, in the parent's place in the shipping box. The split is the manager's call (`access.manage`): a
technician's scan never splits a tube.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

import lifebank.biobank as biobank
from lifebank.access._common import Reader, ref
from lifebank.access.fulfilment import scanned_allocation
from lifebank.access.models import Allocation, RequestItem
from lifebank.audit import service as ledger
from lifebank.biobank import service as bb
from lifebank.db.base import utcnow
from lifebank.db.engine import Database
from lifebank.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from lifebank.messages import N_, register_labels

register_labels("ledger_action", {"access.split": N_("Aliquot split off for a request")})


def split_and_pick(db: Database, request_id: int, barcode: str, *, quantity: float | None = None,
                   principal: Reader) -> dict[str, Any]:
    """Split an allocated, not yet scanned tube: a child of `quantity` (default: the request's minimum volume
    for the tube's type) ships in the parent's place. Returns the child, the parent, the volumes and where the
    child goes."""
    if not principal.can("access.manage"):
        raise PermissionDenied("permission {permission!r} is required", permission="access.manage")
    code = barcode.strip()
    if not code:
        raise ValidationFailed("scan a barcode")
    if biobank.not_distributable(db, [code]):
        raise Conflict("{barcode}: its donor withdrew consent; scan it to drop it from the request, do not split it",
                       barcode=code)
    try:
        held = bb.get_specimen(db, code)["quantity"]  # the split itself re-checks under the row lock
    except NotFound:
        held = None  # not a tube at all: the pick list below refuses it as a wrong tube
    with db.transaction() as session:
        request, allocation = scanned_allocation(session, request_id, code, principal)
        minimum = session.scalar(select(RequestItem.min_volume).where(
            RequestItem.request_id == request.id, RequestItem.specimen_type == allocation.specimen_type))
        volume = _volume(quantity, minimum)
        if held is not None and volume >= held - 1e-9:
            raise ValidationFailed("{barcode} holds {held}; an aliquot of {volume} would leave nothing: scan it "
                                   "whole instead", barcode=code, held=f"{held:g}", volume=f"{volume:g}")
        reference = ref(request.id)
        biobank.release_for_request(session, [code], request_ref=reference, reason="split for the request",
                                    actor=principal.username)
        child = bb.split_in_session(session, code, count=1, quantity=volume, actor=principal.username)[0]
        biobank.reserve_for_request(session, [child], request_ref=reference, actor=principal.username)
        allocation.barcode, allocation.state = child, "picked"
        allocation.picked_by, allocation.picked_at = principal.username, utcnow()
        allocation.note = f"aliquot of {code}"
        ledger.record(session, actor=principal.username, action="access.split", entity_type="access_request",
                      entity_id=reference, change={"parent": code, "child": child, "quantity": volume})
        remaining = session.scalar(select(func.count()).where(Allocation.request_id == request.id,
                                                              Allocation.state == "allocated")) or 0
        return {"barcode": child, "parent": code, "quantity": volume,
                "parent_left": None if held is None else round(held - volume, 6), "state": "picked",
                "target_box": allocation.target_box, "target_position": allocation.target_position,
                "remaining": remaining}


def _volume(quantity: float | None, minimum: float | None) -> float:
    """The aliquot's volume: as given, or the request's minimum for the type; never below that minimum."""
    volume = quantity if quantity is not None else minimum
    if volume is None:
        raise ValidationFailed("the request names no minimum volume for this type: say how much the aliquot holds")
    if volume <= 0:
        raise ValidationFailed("an aliquot holds more than 0, not {volume}", volume=f"{volume:g}")
    if minimum is not None and volume < minimum - 1e-9:
        raise ValidationFailed("the request asks at least {minimum} per tube; an aliquot of {volume} is less",
                               minimum=f"{minimum:g}", volume=f"{volume:g}")
    return volume


__all__ = ["split_and_pick"]
