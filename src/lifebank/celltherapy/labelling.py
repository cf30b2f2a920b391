"""Printing an order's bag labels: gather each bag's ISBT 128 data, render PDF or ZPL, ledger the print."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from lifebank.audit import service as ledger
from lifebank.celltherapy import isbt128
from lifebank.celltherapy._common import order_row
from lifebank.celltherapy.labels import BagLabel, render_pdf, render_zpl
from lifebank.celltherapy.models import Container, ProductCodeEntry
from lifebank.celltherapy.products import PRODUCTS
from lifebank.db.engine import Database
from lifebank.errors import Conflict, ValidationFailed

FORMATS = ("pdf", "zpl")


@dataclass(frozen=True, slots=True)
class LabelFile:
    content: bytes
    media_type: str
    filename: str


def bag_labels(db: Database, ref: str | int, *, fmt: str, actor: str, kind: str | None = None) -> LabelFile:
    """Labels of every bag of an order (or of one kind: starting, product), ledgered as one print."""
    if fmt not in FORMATS:
        raise ValidationFailed("unknown label format {format}; allowed: {allowed}", format=fmt,
                               allowed=", ".join(FORMATS))
    with db.transaction() as session:
        order = order_row(session, ref)
        query = select(Container).where(Container.order_id == order.id).order_by(Container.id)
        if kind:
            query = query.where(Container.kind == kind)
        bags = list(session.scalars(query))
        if not bags:
            raise Conflict("order {coi} has no bags to label yet (bags are made at packaging)", coi=order.coi)
        names = {e.code: e.description for e in session.scalars(select(ProductCodeEntry))}
        labels = [BagLabel(b.din, b.product_code, names.get(b.product_code[:5], b.product_code[:5]), b.expires_at,
                           order.participant, PRODUCTS[order.product].autologous, order.coi) for b in bags]
        ledger.record(session, actor=actor, action="celltherapy.label.print", entity_type="therapy_order",
                      entity_id=order.coi, change={"format": fmt,
                                                   "bags": [isbt128.bag_text(b.din, b.product_code) for b in bags]})
    if fmt == "pdf":
        return LabelFile(render_pdf(labels), "application/pdf", f"{labels[0].din}-labels.pdf")
    return LabelFile(render_zpl(labels).encode(), "application/zpl", f"{labels[0].din}-labels.zpl")
