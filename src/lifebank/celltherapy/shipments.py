"""A shipment's data-logger trace: imported from the logger's CSV export, checked against the product's range
for the leg (fresh starting material to manufacturing, cryopreserved product to the centre). The excursions
found are stored with the trace; the receipt step refuses them unless a deviation is signed."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from lifebank.audit import service as ledger
from lifebank.celltherapy import coldchain
from lifebank.celltherapy._common import ledger_refusal, order_row
from lifebank.celltherapy.chain import RECEIPTS, SHIPMENTS, STEPS
from lifebank.celltherapy.models import Trace
from lifebank.celltherapy.products import PRODUCTS
from lifebank.db.engine import Database
from lifebank.errors import Conflict, LifeBankError, ValidationFailed

LEGS = tuple(SHIPMENTS.values())
PLOT_POINTS = 600  # the plot's resolution: a 7-day trace at one reading a minute is thinned to this


def leg_range(product: str, leg: str) -> tuple[float, float]:
    chosen = PRODUCTS[product]
    return chosen.fresh_range if leg == "to-manufacturing" else chosen.frozen_range


def import_trace(db: Database, ref: str | int, leg: str, text: str, *, actor: str) -> dict[str, Any]:
    """Import the trace of shipment `leg` of an order (after the shipment, before the receipt)."""
    if leg not in LEGS:
        raise ValidationFailed("unknown shipment leg {leg}; legs: {allowed}", leg=leg, allowed=", ".join(LEGS))
    with db.session() as session:
        order = order_row(session, ref)
        coi, product, done = order.coi, order.product, STEPS[:order.steps_done]
    try:
        shipped = next(s for s, g in SHIPMENTS.items() if g == leg)
        received = next(s for s, g in RECEIPTS.items() if g == leg)
        if shipped not in done:
            raise ValidationFailed("the shipment {leg} is not recorded yet: record {step} first", leg=leg,
                                   step=shipped)
        if received in done:
            raise Conflict("the shipment {leg} was already received: its trace can no longer change", leg=leg)
        readings = coldchain.parse_trace(text)
    except LifeBankError as exc:
        ledger_refusal(db, actor=actor, action="celltherapy.trace.refused", entity_id=coi, error=exc,
                       extra={"leg": leg})
        raise
    low, high = leg_range(product, leg)
    found = coldchain.excursions(readings, low, high)
    first = readings[0][0]
    step = max(1, len(readings) // PLOT_POINTS)
    series = [[round((t - first).total_seconds() / 60, 1), v] for t, v in readings[::step]]
    values = [v for _, v in readings]
    with db.transaction() as session:
        order = order_row(session, ref, lock=True)
        if session.scalar(select(Trace.id).where(Trace.order_id == order.id, Trace.leg == leg)) is not None:
            raise Conflict("a trace of the shipment {leg} is already imported", leg=leg)
        session.add(Trace(order_id=order.id, leg=leg, low_c=low, high_c=high, readings=len(readings),
                          first_at=first, last_at=readings[-1][0], min_c=min(values), max_c=max(values),
                          excursions_json=json.dumps([e.as_dict() for e in found]), series_json=json.dumps(series),
                          imported_by=actor))
        summary = {"leg": leg, "readings": len(readings), "range_c": [low, high], "min_c": min(values),
                   "max_c": max(values), "excursions": [e.as_dict() for e in found]}
        ledger.record(session, actor=actor, action="celltherapy.trace.import", entity_type="therapy_order",
                      entity_id=order.coi, change=summary)
    return summary
