"""The customer's ISBT 128 product-code table: load it (all or nothing, replacing the previous one), read it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select

from lifebank.audit import service as ledger
from lifebank.celltherapy.models import ProductCodeEntry
from lifebank.celltherapy.product_codes import parse_product_codes
from lifebank.db.engine import Database


def load_product_codes(db: Database, text: str, *, actor: str) -> dict[str, Any]:
    """Replace the table with the file's rows; a bad row refuses the whole file (RowsRejected)."""
    rows = parse_product_codes(text)
    with db.transaction() as session:
        session.execute(delete(ProductCodeEntry))
        session.add_all(ProductCodeEntry(code=r.code, description=r.description, product=r.product,
                                         shelf_life_hours=r.shelf_life_hours, loaded_by=actor) for r in rows)
        ledger.record(session, actor=actor, action="celltherapy.product_codes.load", entity_type="product_code",
                      entity_id="table", change={"codes": [r.code for r in rows]})
    return {"loaded": len(rows)}


def list_product_codes(db: Database) -> list[dict[str, Any]]:
    with db.session() as session:
        return [{"code": r.code, "description": r.description, "product": r.product,
                 "shelf_life_hours": r.shelf_life_hours}
                for r in session.scalars(select(ProductCodeEntry).order_by(ProductCodeEntry.code))]
