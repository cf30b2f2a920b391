"""Helpers the cell-therapy use cases share: finding an order by id or COI, ledgering a refusal, the facility's
FIN and the identity key."""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lifebank.audit import service as ledger
from lifebank.celltherapy.models import Order
from lifebank.config import Settings, get_settings
from lifebank.db.engine import Database
from lifebank.errors import LifeBankError, NotFound
from lifebank.messages import N_, register_labels

# The facility's ISBT 128 Facility Identification Number, assigned by ICCBBA. The default A9999 is fictional
# (the test vectors' FIN): labels printed with it are for training, never for a real bag.
DEFAULT_FIN = "A9999"

register_labels("ledger_action", {
    "celltherapy.order.create": N_("Therapy order created"),
    "celltherapy.order.refused": N_("Therapy order refused"),
    "celltherapy.step": N_("Chain-of-custody step recorded"),
    "celltherapy.step.refused": N_("Chain-of-custody step refused"),
    "celltherapy.signature.refused": N_("Electronic signature refused"),
    "celltherapy.trace.import": N_("Logger trace imported"),
    "celltherapy.trace.refused": N_("Logger trace refused"),
    "celltherapy.product_codes.load": N_("Product-code table loaded"),
    "celltherapy.slot.define": N_("Manufacturing slot defined"),
    "celltherapy.apheresis.book": N_("Apheresis booked"),
    "celltherapy.label.print": N_("Bag labels printed"),
})
register_labels("entity_type", {"therapy_order": N_("Therapy order"), "product_code": N_("Product code"),
                                "manufacturing_slot": N_("Manufacturing slot")})


def facility_fin() -> str:
    return os.environ.get("LIFEBANK_CELLTHERAPY_FIN", DEFAULT_FIN).strip().upper()


def settings_or_default(settings: Settings | None) -> Settings:
    return settings or get_settings()


def order_row(session: Session, ref: str | int, *, lock: bool = False) -> Order:
    """An order by its id or its COI (with or without the check character); NotFound names the reference."""
    text = str(ref).strip().upper().replace(" ", "")
    query = select(Order)
    if text.isdigit() and len(text) < 13:
        query = query.where(Order.id == int(text))
    else:
        query = query.where(Order.coi == text[:13])
    if lock:
        query = query.with_for_update()
    order = session.scalar(query)
    if order is None:
        raise NotFound("therapy order {order} does not exist", order=str(ref))
    return order


def ledger_refusal(db: Database, *, actor: str, action: str, entity_id: str, error: LifeBankError,
                   extra: dict[str, Any] | None = None) -> None:
    """Record a refused attempt in its own transaction (the attempt wrote nothing): who, what, why."""
    with db.transaction() as session:
        ledger.record(session, actor=actor, action=action, entity_type="therapy_order", entity_id=entity_id,
                      change={"reason": getattr(error, "reason", type(error).__name__), "detail": error.detail,
                              **(extra or {})})
