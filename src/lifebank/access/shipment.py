"""Shipment, receipt and what comes back (issue 11, items 6 and 7).

Dispatch needs every allocated tube scanned, the courier, a tracking number and the shipping temperature
(ambient, 2–8 °C, dry ice, LN2 dry shipper), and flags UN3373 (biological substance, Category B). An
international request (recipient outside the bank's country) ships only with its HGR approval number
recorded — China's human genetic resources rules — and the API, CLI and UI all come through here, so all
three refuse alike. Tubes whose donor withdrew consent after approval are dropped before anything leaves.
The shipped tubes become `distributed` with the request id in their history.

The recipient confirms receipt in the app and records discrepancies (missing, damaged or thawed tubes);
material later returned or destroyed is recorded against the request (the certificate uploaded as a
document).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

import lifebank.biobank as biobank
from lifebank.access._common import Reader, move, notify, ref, sees_all, visible_request
from lifebank.access.fulfilment import drop_withdrawn
from lifebank.access.models import Allocation, Shipment
from lifebank.access.requests import has_document, is_international
from lifebank.access.workflow import State, state_text
from lifebank.audit import service as ledger
from lifebank.db.base import utcnow
from lifebank.db.engine import Database
from lifebank.errors import Conflict, PermissionDenied, ValidationFailed
from lifebank.messages import N_, Msg, register_labels

TEMPERATURES = {"ambient": N_("Ambient"), "2-8C": N_("2–8 °C"), "dry_ice": N_("Dry ice"),
                "ln2_dry_shipper": N_("LN2 dry shipper")}
register_labels("shipping_temperature", TEMPERATURES)
RETURN_OUTCOMES = ("returned", "destroyed")


def record_hgr_approval(db: Database, request_id: int, number: str, *, principal: Reader) -> None:
    """Record the HGR approval number of an international request (the document is uploaded as `hgr`)."""
    if not number.strip():
        raise ValidationFailed("an HGR approval needs its number")
    with db.transaction() as session:
        request = visible_request(session, request_id, principal, lock=True)
        request.hgr_approval = number.strip()
        request.updated_at = utcnow()
        ledger.record(session, actor=principal.username, action="access.request.hgr", entity_type="access_request",
                      entity_id=ref(request.id), change={"hgr_approval": number.strip()})


def ship(db: Database, request_id: int, *, courier: str, tracking_number: str, temperature: str, un3373: bool,
         principal: Reader) -> dict[str, Any]:
    """Dispatch the picked tubes of a request in fulfilment; refuses an international request without HGR."""
    if temperature not in TEMPERATURES:
        raise ValidationFailed("shipping temperature must be one of {allowed}", allowed=", ".join(TEMPERATURES))
    if not courier.strip() or not tracking_number.strip():
        raise ValidationFailed("a shipment needs its courier and tracking number")
    with db.transaction() as session:
        request = visible_request(session, request_id, principal, lock=True)
        if request.state != State.IN_FULFILMENT.value:
            raise Conflict(Msg("request {ref} is {state}, not in fulfilment", ref=ref(request.id),
                               state=state_text(request.state)))
        if is_international(request) and not request.hgr_approval:
            raise Conflict("request {ref} goes to {country}, outside the bank's country: international "
                           "cooperation needs an HGR approval number before anything ships",
                           ref=ref(request.id), country=request.recipient_country)
        if is_international(request) and not has_document(session, request.id, "hgr"):
            raise Conflict("request {ref}: upload the HGR approval document before shipping", ref=ref(request.id))
        dropped = drop_withdrawn(session, db, request, actor=principal.username)
        tubes = session.scalars(select(Allocation).where(Allocation.request_id == request.id,
                                                         Allocation.state.in_(("allocated", "picked")))
                                .order_by(Allocation.sort_key)).all()
        unscanned = [a.barcode for a in tubes if a.state != "picked"]
        if unscanned:
            raise Conflict(Msg("{count} tube is not scanned yet: {barcodes}",
                               plural="{count} tubes are not scanned yet: {barcodes}", count=len(unscanned),
                               barcodes=", ".join(unscanned[:20])))
        if not tubes:
            raise Conflict("request {ref} has no tube left to ship", ref=ref(request.id))
        barcodes = [a.barcode for a in tubes]
        biobank.mark_distributed(session, barcodes, request_ref=ref(request.id), actor=principal.username)
        shipment = Shipment(request_id=request.id, courier=courier.strip(), tracking_number=tracking_number.strip(),
                            temperature=temperature, un3373=un3373, state="shipped",
                            boxes=len({a.target_box for a in tubes}), shipped_by=principal.username)
        session.add(shipment)
        session.flush()
        for allocation in tubes:
            allocation.state, allocation.shipment_id = "shipped", shipment.id
        ledger.record(session, actor=principal.username, action="access.shipment", entity_type="access_request",
                      entity_id=ref(request.id),
                      change={"shipment": shipment.id, "tubes": len(barcodes), "courier": shipment.courier,
                              "tracking": shipment.tracking_number, "temperature": temperature,
                              "un3373": un3373, "dropped_withdrawn": dropped})
        move(session, request, State.SHIPPED.value, actor=principal.username)
        return {"shipment": shipment.id, "tubes": len(barcodes), "boxes": shipment.boxes, "dropped": dropped}


def receive(db: Database, request_id: int, *, discrepancies: str = "", principal: Reader) -> None:
    """The recipient (the requester's organisation) or the bank confirms receipt, with any discrepancies."""
    with db.transaction() as session:
        request = visible_request(session, request_id, principal, lock=True)
        if not (sees_all(principal) or principal.can("access.request")):
            raise PermissionDenied("only the recipient confirms receipt")
        shipment = session.scalar(select(Shipment).where(Shipment.request_id == request.id, Shipment.state == "shipped")
                                  .order_by(Shipment.id.desc()))
        if shipment is None or request.state != State.SHIPPED.value:
            raise Conflict(Msg("request {ref} is {state}: there is no shipment to receive", ref=ref(request.id),
                               state=state_text(request.state)))
        shipment.state, shipment.received_by, shipment.received_at = "received", principal.username, utcnow()
        shipment.discrepancies = discrepancies.strip()
        ledger.record(session, actor=principal.username, action="access.receipt", entity_type="access_request",
                      entity_id=ref(request.id),
                      change={"shipment": shipment.id, "discrepancies": shipment.discrepancies})
        move(session, request, State.RECEIVED.value, actor=principal.username, note=shipment.discrepancies)
        if shipment.discrepancies:
            notify(session, [shipment.shipped_by], request.id,
                   Msg("request {ref} was received with discrepancies", ref=ref(request.id)))


def record_return(db: Database, request_id: int, barcodes: list[str], *, outcome: str, note: str = "",
                  principal: Reader) -> int:
    """Shipped tubes were returned to the bank (available again, to be placed) or destroyed (certificate)."""
    if outcome not in RETURN_OUTCOMES:
        raise ValidationFailed("outcome must be returned or destroyed")
    wanted = list(dict.fromkeys(b.strip() for b in barcodes if b.strip()))
    if not wanted:
        raise ValidationFailed("name the returned or destroyed tubes")
    with db.transaction() as session:
        request = visible_request(session, request_id, principal, lock=True)
        if outcome == "destroyed" and not has_document(session, request.id, "certificate"):
            raise ValidationFailed("upload the destruction certificate first")
        rows = session.scalars(select(Allocation).where(Allocation.request_id == request.id,
                                                        Allocation.barcode.in_(wanted),
                                                        Allocation.state == "shipped")).all()
        unknown = sorted(set(wanted) - {a.barcode for a in rows})
        if unknown:
            raise Conflict("not shipped for request {ref}: {barcodes}", ref=ref(request.id),
                           barcodes=", ".join(unknown[:20]))
        biobank.record_return(session, wanted, request_ref=ref(request.id), outcome=outcome, note=note,
                              actor=principal.username)
        for allocation in rows:
            allocation.state, allocation.note = outcome, note
        ledger.record(session, actor=principal.username, action="access.return", entity_type="access_request",
                      entity_id=ref(request.id), change={"outcome": outcome, "barcodes": wanted, "note": note})
    return len(wanted)


def shipments(db: Database, request_id: int, principal: Reader) -> list[dict[str, Any]]:
    with db.session() as session:
        visible_request(session, request_id, principal)
        return [{"id": s.id, "courier": s.courier, "tracking_number": s.tracking_number,
                 "temperature": s.temperature, "un3373": s.un3373, "state": s.state, "boxes": s.boxes,
                 "shipped_by": s.shipped_by, "shipped_at": s.shipped_at.isoformat(),
                 "received_by": s.received_by, "received_at": s.received_at.isoformat() if s.received_at else None,
                 "discrepancies": s.discrepancies}
                for s in session.scalars(select(Shipment).where(Shipment.request_id == request_id)
                                         .order_by(Shipment.id))]


def manifest_rows(db: Database, request_id: int, principal: Reader) -> list[dict[str, Any]]:
    """One row per tube in the boxes (shipped, or picked and ready): box, position, barcode, type."""
    with db.session() as session:
        visible_request(session, request_id, principal)
        rows = session.scalars(select(Allocation).where(Allocation.request_id == request_id,
                                                        Allocation.state.in_(("picked", "shipped", "returned",
                                                                              "destroyed")))
                               .order_by(Allocation.sort_key)).all()
        return [{"box": a.target_box, "position": a.target_position, "barcode": a.barcode,
                 "specimen_type": a.specimen_type, "state": a.state} for a in rows]
