"""Pick lists and shipping boxes. Pure.

A pick list is ordered by storage path — freezer › rack › box › position — so that each freezer door opens
once and each box comes out once: parts of the path compare as text with their numbers as numbers
("BOX-9" before "BOX-10"), then the position's index in the box's grid. Tubes not in a box come last.

Shipping boxes are filled in pick order, position by position (A1, A2, … of a 9×9 box by default), so a
box's manifest reads in the order the tubes were picked.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

_NUMBER = re.compile(r"(\d+)")


@lru_cache(maxsize=65536)
def natural_key(text: str) -> tuple[tuple[int, object], ...]:
    """'BOX-10' -> (('BOX-',), 10, …): numbers compare as numbers, the rest as case-folded text."""
    return tuple((1, int(part)) if part.isdigit() else (0, part.casefold())
                 for part in _NUMBER.split(text) if part != "")


@dataclass(frozen=True, slots=True)
class Place:
    """Where a tube is: the path of container names (freezer, rack, box) and the position in the box."""

    parts: tuple[str, ...]
    position_index: int
    position: str

    @property
    def box(self) -> str:
        return "/".join(self.parts)


def pick_order(barcodes: Iterable[str], places: Mapping[str, Place]) -> list[str]:
    """The barcodes in picking order: by path (natural order of each part), then position; unplaced last."""
    def key(barcode: str) -> tuple[object, ...]:
        place = places.get(barcode)
        if place is None:
            return (1, (), 0, natural_key(barcode))
        return (0, tuple(natural_key(p) for p in place.parts), place.position_index, ())
    return sorted(barcodes, key=key)


def freezer_doors(order: Sequence[str], places: Mapping[str, Place]) -> int:
    """How many times a freezer (the path's first two parts: site/freezer or freezer/rack) is opened
    following this order: the pick list's promise is one opening per freezer."""
    openings, last = 0, None
    for barcode in order:
        place = places.get(barcode)
        door = place.parts[:2] if place else None
        if door is not None and door != last:
            openings += 1
        last = door
    return openings


def _row_label(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def pack_boxes(barcodes: Sequence[str], *, prefix: str, rows: int = 9, columns: int = 9) -> list[tuple[str, str, str]]:
    """(barcode, box name, position) for each tube, boxes `prefix`-1, -2… filled row by row (A1…I9)."""
    capacity = rows * columns
    packed = []
    for i, barcode in enumerate(barcodes):
        box, slot = divmod(i, capacity)
        row, column = divmod(slot, columns)
        packed.append((barcode, f"{prefix}-{box + 1}", f"{_row_label(row)}{column + 1}"))
    return packed


@dataclass(frozen=True, slots=True)
class Offer:
    """A tube that meets the criteria, as allocation weighs it."""

    barcode: str
    participant: str


def choose(offers: Sequence[Offer], held: Mapping[str, int], *, per_participant: int, total: int | None,
           allow_last: bool) -> list[str]:
    """Which tubes to allocate: up to `per_participant` of each participant's offers (in the order given),
    until `total`; never a participant's last available tube of the type unless the manager allows it —
    the bank keeps one aliquot of every donor for its own future use."""
    chosen: list[str] = []
    taken: dict[str, int] = {}
    for offer in offers:
        if total is not None and len(chosen) >= total:
            break
        n = taken.get(offer.participant, 0)
        if n >= per_participant:
            continue
        if not allow_last and held.get(offer.participant, 0) - n <= 1:
            continue
        taken[offer.participant] = n + 1
        chosen.append(offer.barcode)
    return chosen
