"""GA4GH Data Use Ontology terms that consent records may carry (vendored list, CC BY 4.0)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from lifebank.messages import N_, Msg, register_labels

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


class UnknownDuoTerm(ValueError):
    """A consent code that is neither a DUO id nor a DUO shorthand; `message` says which, for any language."""

    def __init__(self, item: str) -> None:
        self.item = item
        self.message = Msg("{item!r} is not a DUO term", item=item)
        super().__init__(str(self.message))


def parse_duo_codes(text: str) -> list[str]:
    """'DUO:0000042;DUO:0000021' -> the ids, in order, without duplicates; raise UnknownDuoTerm (a
    ValueError) on unknown ids.

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
            raise UnknownDuoTerm(item)
        if code not in codes:
            codes.append(code)
    return codes


# The terms' labels as users read them, translated through the catalogue (`{{ code|label("duo") }}`); the
# code is shown beside the label, since that is what data-access committees and import files use.
register_labels("duo", {
    "DUO:0000001": N_("data use permission"),
    "DUO:0000004": N_("no restriction"),
    "DUO:0000006": N_("health or medical or biomedical research"),
    "DUO:0000007": N_("disease specific research"),
    "DUO:0000011": N_("population origins or ancestry research only"),
    "DUO:0000012": N_("research specific restrictions"),
    "DUO:0000015": N_("no general methods research"),
    "DUO:0000016": N_("genetic studies only"),
    "DUO:0000017": N_("data use modifier"),
    "DUO:0000018": N_("not for profit, non commercial use only"),
    "DUO:0000019": N_("publication required"),
    "DUO:0000020": N_("collaboration required"),
    "DUO:0000021": N_("ethics approval required"),
    "DUO:0000022": N_("geographical restriction"),
    "DUO:0000024": N_("publication moratorium"),
    "DUO:0000025": N_("time limit on use"),
    "DUO:0000026": N_("user specific restriction"),
    "DUO:0000027": N_("project specific restriction"),
    "DUO:0000028": N_("institution specific restriction"),
    "DUO:0000029": N_("return to database or resource"),
    "DUO:0000042": N_("general research use"),
    "DUO:0000043": N_("clinical care use"),
    "DUO:0000044": N_("population origins or ancestry research prohibited"),
    "DUO:0000045": N_("not for profit organisation use only"),
    "DUO:0000046": N_("non-commercial use only"),
})


def consent_choices() -> list[DuoTerm]:
    """The terms a consent form offers, permissions first, then modifiers (abstract parent terms left out)."""
    return sorted((t for t in duo_terms().values() if t.shorthand),
                  key=lambda t: (t.id not in _PERMISSIONS, t.id))


# DUO's data use permissions (the other terms are modifiers that narrow a permission).
_PERMISSIONS = frozenset({"DUO:0000004", "DUO:0000042", "DUO:0000006", "DUO:0000007", "DUO:0000011"})
