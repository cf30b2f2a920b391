"""The cell-therapy share of the header search: an order's COI (its DIN, with or without the check character or
flags) or a scanned bag, resolved to the order's page. Only holders of `celltherapy.read` get hits."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote

from lifebank.celltherapy import isbt128, service
from lifebank.errors import LifeBankError
from lifebank.messages import N_, register_labels
from lifebank.web.find import Hit

if TYPE_CHECKING:
    from lifebank.auth.service import Principal
    from lifebank.db.engine import Database

register_labels("find_kind", {"therapy_order": N_("Therapy order")})


def find(db: Database, text: str, principal: Principal) -> list[Hit]:
    if not principal.can("celltherapy.read"):
        return []
    try:
        din = isbt128.parse_bag(text)[0] if len(text.replace(" ", "")) > 16 else isbt128.parse_din(text)
        order = service.get_order(db, din.text)
    except LifeBankError:
        return []
    return [Hit(order["coi"], f"/celltherapy/orders/{quote(order['coi'])}", "therapy_order")]
