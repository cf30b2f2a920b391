"""Manufacturing slots and the vein-to-vein timeline.

A site opens slots (a day, a capacity); an apheresis is booked on a day only while that day's slot has room,
taken with one conditional UPDATE so two bookings racing for the last place cannot both get it. The planned
timeline is the apheresis day plus each step's usual delay for the product (`products.PRODUCTS`); the actual
one is when each step was recorded.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import select, update

from lifebank.audit import service as ledger
from lifebank.celltherapy._common import order_row
from lifebank.celltherapy.chain import STEPS
from lifebank.celltherapy.models import Order, Slot, Step
from lifebank.celltherapy.products import PRODUCTS
from lifebank.db.engine import Database
from lifebank.errors import Conflict, NotFound, ValidationFailed

DEFAULT_SITE = "manufacturing"


def define_slot(db: Database, day: date, capacity: int, *, actor: str, site: str = DEFAULT_SITE) -> dict[str, Any]:
    """Open (or resize) a day's manufacturing slot; never below what is already booked."""
    if capacity < 0 or capacity > 1000:
        raise ValidationFailed("slot capacity {capacity} must be 0 to 1000", capacity=capacity)
    with db.transaction() as session:
        slot = session.scalar(select(Slot).where(Slot.site == site, Slot.day == day).with_for_update())
        if slot is None:
            slot = Slot(site=site, day=day, capacity=capacity, booked=0)
            session.add(slot)
        elif slot.booked > capacity:
            raise Conflict("the slot of {day} has {booked} bookings; capacity cannot drop to {capacity}",
                           day=day.isoformat(), booked=slot.booked, capacity=capacity)
        slot.capacity = capacity
        session.flush()
        ledger.record(session, actor=actor, action="celltherapy.slot.define", entity_type="manufacturing_slot",
                      entity_id=f"{site}/{day.isoformat()}", change={"capacity": capacity})
        return {"site": site, "day": day.isoformat(), "capacity": capacity, "booked": slot.booked}


def list_slots(db: Database, *, start: date | None = None, days: int = 60,
               site: str = DEFAULT_SITE) -> list[dict[str, Any]]:
    first = start or date.today()
    with db.session() as session:
        rows = session.scalars(select(Slot).where(Slot.site == site, Slot.day >= first,
                                                  Slot.day < first + timedelta(days=days)).order_by(Slot.day))
        return [{"site": s.site, "day": s.day.isoformat(), "capacity": s.capacity, "booked": s.booked,
                 "free": s.capacity - s.booked} for s in rows]


def book_apheresis(db: Database, ref: str | int, day: date, *, actor: str,
                   site: str = DEFAULT_SITE) -> dict[str, Any]:
    """Book the order's apheresis on `day` against a free manufacturing slot (a re-booking frees the old one)."""
    with db.transaction() as session:
        order = order_row(session, ref, lock=True)
        if order.steps_done > 0:
            raise Conflict("order {coi} is past its collection: the apheresis date cannot change", coi=order.coi)
        slot = session.scalar(select(Slot).where(Slot.site == site, Slot.day == day))
        if slot is None:
            raise NotFound("no manufacturing slot is open on {day}", day=day.isoformat())
        taken = session.execute(update(Slot).where(Slot.id == slot.id, Slot.booked < Slot.capacity)
                                .values(booked=Slot.booked + 1))
        if taken.rowcount != 1:
            raise Conflict("the manufacturing slot of {day} is full ({capacity} booked)", day=day.isoformat(),
                           capacity=slot.capacity)
        if order.slot_id is not None:
            session.execute(update(Slot).where(Slot.id == order.slot_id).values(booked=Slot.booked - 1))
        order.slot_id, order.apheresis_date = slot.id, day
        ledger.record(session, actor=actor, action="celltherapy.apheresis.book", entity_type="therapy_order",
                      entity_id=order.coi, change={"day": day.isoformat(), "site": site})
        return {"order": order.coi, "apheresis_date": day.isoformat()}


def timeline(order: Order, steps: list[Step]) -> list[dict[str, Any]]:
    """Each step, planned (from the apheresis date) beside actual, and the days late (negative: early)."""
    planned_days = PRODUCTS[order.product].planned_days
    start = order.apheresis_date
    recorded = {s.step: s.recorded_at for s in steps}
    rows = []
    for step in STEPS:
        planned = start + timedelta(days=planned_days.get(step, 0)) if start else None
        actual = recorded.get(step)
        late = (actual.date() - planned).days if planned and actual else None
        rows.append({"step": step, "planned": planned.isoformat() if planned else None,
                     "actual": actual.isoformat() if actual else None, "days_late": late})
    return rows
