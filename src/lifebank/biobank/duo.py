"""GA4GH Data Use Ontology terms that consent records may carry (vendored list, CC BY 4.0)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

DUO_LIST = Path(__file__).parent / "data" / "duo" / "duo.csv"


@dataclass(frozen=True, slots=True)
class DuoTerm:
    id: str
    shorthand: str
    label: str


@cache
def duo_terms() -> dict[str, DuoTerm]:
    with DUO_LIST.open(newline="", encoding="utf-8") as handle:
        return {row["id"]: DuoTerm(row["id"], row["shorthand"], row["label"]) for row in csv.DictReader(handle)}


def parse_duo_codes(text: str) -> list[str]:
    """'DUO:0000042;DUO:0000021' -> the ids, in order, without duplicates; raise ValueError on unknown ids.

    Shorthands (GRU, HMB, ...) are accepted too and mapped to their ids.
    """
    terms = duo_terms()
    by_shorthand = {t.shorthand.upper(): t.id for t in terms.values() if t.shorthand}
    codes: list[str] = []
    for raw in text.split(";"):
        item = raw.strip()
        if not item:
            continue
        code = item.upper()
        code = by_shorthand.get(code, code)
        if code not in terms:
            raise ValueError(f"{item!r} is not a DUO term")
        if code not in codes:
            codes.append(code)
    return codes
