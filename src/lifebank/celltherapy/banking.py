"""Cryopreservation into the biobank: each product bag becomes a biobank specimen, in the chain step's transaction.

The chain and the bank must name one place for one bag. So the step does not merely point at storage: it
registers every cryopreserved bag through the biobank's published `register_specimen_in` - the patient as the
participant (consent re-checked by the bank), the product's specimen type and quantity, the bag's LN2 position,
the bag's ISBT 128 identity as the barcode - inside the step's own transaction. Either the step, its bags, their
specimens, the specimens' events and every ledger event commit together, or none of them does.

Shipment: at `shipment-to-centre` the product bags leave the bank. Their specimens (the ones the
cryopreservation registered, read from its step record) go to `distributed` through the biobank's published
`distribute_available`, in the shipment step's transaction: out of their LN2 positions, the order's COI
in their history. A specimen the bank no longer holds as available (checked out, discarded, consent withdrawn)
refuses the shipment (`biobank_refused`).

Positions: `storage_location` names the first bag's position (a box path and a position, as the bank writes
them); bag n goes n - 1 positions further in the box's order. Every position must be free and in liquid
nitrogen (cryopreserved cells are kept below -150 °C).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lifebank.celltherapy.chain import StepRefused
from lifebank.celltherapy.models import Order, Step
from lifebank.celltherapy.products import Product
from lifebank.errors import LifeBankError
from lifebank.messages import Msg

LN2 = "LN2"  # the biobank's temperature class of liquid-nitrogen storage


def specimen_barcode(din: str, product_code: str) -> str:
    """The biobank barcode of a product bag: its DIN and product code (with division), as one token."""
    return f"{din}-{product_code}"


def bag_positions(session: Session, first: str, count: int) -> list[str]:
    """The `count` positions from `first` on, in the box's order; refused when the box is not LN2 or too small."""
    from lifebank.biobank import service as biobank

    try:
        start = biobank.resolve_location(session, first)
    except LifeBankError as exc:
        raise StepRefused(Msg("storage_location {location}: {reason}", location=first, reason=exc.message),
                          "bad_location") from None
    box = start.container
    if box.temperature_class != LN2:
        raise StepRefused(Msg("storage_location {location} is not in liquid nitrogen (the box is kept at "
                              "{temperature}): cryopreserved cells are stored in LN2", location=first,
                              temperature=box.temperature_class or "?"), "not_ln2")
    if start.index + count > start.layout.capacity:
        raise StepRefused(Msg("box {box} has {free} position(s) from {position} on, not {count}", box=box.name_path,
                              free=start.layout.capacity - start.index, position=start.layout.label(start.index),
                              count=count), "box_full")
    return [f"{box.name_path}/{start.layout.label(start.index + i)}" for i in range(count)]


def bank_bags(session: Session, order: Order, product: Product, bags: list[tuple[str, str]],
              positions: list[str], values: dict[str, Any], *, actor: str) -> list[str]:
    """Register each (bag text, product code) at its position as a biobank specimen; their barcodes, in order.

    A refusal by the bank (consent withdrawn, position taken, barcode taken) refuses the step with the bank's
    reason, and the caller's transaction rolls back everything, the bags included."""
    from lifebank.biobank import service as biobank

    collected: datetime | None = session.scalar(select(Step.recorded_at).where(Step.order_id == order.id,
                                                                               Step.step == "collection"))
    made = []
    for (text, code), position in zip(bags, positions, strict=True):
        barcode = specimen_barcode(order.coi, code)
        try:
            biobank.register_specimen_in(
                session, barcode, participant=order.participant, type=product.specimen_type,
                quantity=float(values[product.bag_quantity]), collected_at=collected, location=position,
                notes=f"ISBT 128 {text} · COI {order.coi} · {values['freezer_run']}",
                origin={"celltherapy_order": order.coi, "step": "cryopreservation", "bag": text}, actor=actor)
        except LifeBankError as exc:
            raise StepRefused(Msg("the biobank refused bag {bag} at {position}: {reason}", bag=text,
                                  position=position, reason=exc.message), "biobank_refused",
                              status=exc.status) from None
        made.append(barcode)
    return made


def ship_bags(session: Session, order: Order, *, actor: str) -> list[str]:
    """The product bags' specimens leave the bank (`distributed`) as the shipment to the centre is recorded;
    their barcodes (none for an order cryopreserved before its bags were registered as specimens)."""
    import lifebank.biobank as bank

    stored = session.scalar(select(Step.values_json).where(Step.order_id == order.id,
                                                           Step.step == "cryopreservation"))
    barcodes = list(json.loads(stored).get("specimens", [])) if stored else []
    try:
        return bank.distribute_available(session, barcodes, ref=order.coi, entity_type="therapy_order", actor=actor)
    except LifeBankError as exc:
        raise StepRefused(Msg("the biobank refused to release the product bags: {reason}", reason=exc.message),
                          "biobank_refused", status=exc.status) from None
