"""The ISBT 128 product-code table of a customer, loaded from their CSV. Pure: text in, table out.

ICCBBA's product description code database is licensed to its members, so LifeBank ships none of it: a
facility loads the rows it uses (`lifebank celltherapy product-codes load FILE`). Columns:
`code,description,product,shelf_life_hours` - the 5-character product description code (a letter and four
digits), its description as the facility prints it, which LifeBank product it is (car-t, hpc-cord, …) and how
long the product keeps from cryopreservation. The demo loads a fictional table whose codes start with X (no
ICCBBA code does), so they cannot be mistaken for real ones.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

from lifebank.celltherapy.products import PRODUCTS
from lifebank.errors import RowError, RowsRejected
from lifebank.messages import Msg

COLUMNS = ("code", "description", "product", "shelf_life_hours")
_CODE = re.compile(r"^[A-Z][0-9]{4}$")


@dataclass(frozen=True, slots=True)
class ProductCodeRow:
    code: str
    description: str
    product: str
    shelf_life_hours: float


def parse_product_codes(text: str) -> list[ProductCodeRow]:
    """The table's rows; a missing column, a malformed code, an unknown product or a duplicate is named."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise RowsRejected(Msg("product-code table"), [RowError(1, c, Msg("missing column")) for c in missing])
    rows: list[ProductCodeRow] = []
    errors: list[RowError] = []
    seen: set[str] = set()
    for line, raw in enumerate(reader, start=2):
        record = {k.strip(): (v or "").strip() for k, v in raw.items() if k}
        code = record["code"].upper()
        if not _CODE.match(code):
            errors.append(RowError(line, "code", Msg("{value} is not a letter and four digits", value=code)))
        elif code in seen:
            errors.append(RowError(line, "code", Msg("{value} appears twice", value=code)))
        seen.add(code)
        if not record["description"]:
            errors.append(RowError(line, "description", Msg("empty")))
        if record["product"] not in PRODUCTS:
            errors.append(RowError(line, "product", Msg("unknown product {product}; products: {allowed}",
                                                        product=record["product"], allowed=", ".join(PRODUCTS))))
        try:
            hours = float(record["shelf_life_hours"])
            if not 0 < hours <= 24 * 365 * 30:
                raise ValueError
        except ValueError:
            errors.append(RowError(line, "shelf_life_hours", Msg("not a number of hours above 0")))
            continue
        rows.append(ProductCodeRow(code, record["description"][:200], record["product"], hours))
    if not rows and not errors:
        errors.append(RowError(2, "code", Msg("the table has no rows")))
    if errors:
        raise RowsRejected(Msg("product-code table"), errors, rows=len(rows) + len(errors))
    return rows
