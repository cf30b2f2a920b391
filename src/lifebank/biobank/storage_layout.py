"""Storage containers: kinds, nesting rules, temperature classes and position labelling of grids.

The tree is site > storage unit (freezer, LN2 tank, automated store) > rack > box > position, as in
ISBER's storage practice. A box is a grid of rows x columns; its positions are named by a labelling
scheme: `letter-number` (A1..H12, the SBS 96-well convention), `number-number` (1-1..10-10) or
`sequential` (1..81, row by row, common for 9x9 cryoboxes).
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from lifebank.messages import Msg


class ContainerKind(StrEnum):
    SITE = "site"
    FREEZER = "freezer"
    TANK = "tank"  # liquid-nitrogen tank (vapour or liquid phase)
    AUTOMATED_STORE = "automated_store"
    RACK = "rack"
    BOX = "box"


STORAGE_UNITS = frozenset({ContainerKind.FREEZER, ContainerKind.TANK, ContainerKind.AUTOMATED_STORE})

# Which kinds may hold which: a box goes in a rack, a rack in a freezer, never the reverse.
ALLOWED_CHILDREN: dict[ContainerKind, frozenset[ContainerKind]] = {
    ContainerKind.SITE: STORAGE_UNITS,
    ContainerKind.FREEZER: frozenset({ContainerKind.RACK, ContainerKind.BOX}),
    ContainerKind.TANK: frozenset({ContainerKind.RACK, ContainerKind.BOX}),
    ContainerKind.AUTOMATED_STORE: frozenset({ContainerKind.RACK, ContainerKind.BOX}),
    ContainerKind.RACK: frozenset({ContainerKind.BOX}),
    ContainerKind.BOX: frozenset(),
}


class TemperatureClass(StrEnum):
    """ISBER storage temperature bands."""

    ROOM = "RT"  # 15-25 °C
    FRIDGE = "4C"  # 2-8 °C
    FREEZER = "-20C"
    ULT = "-80C"  # ultra-low freezer
    LN2 = "LN2"  # vapour or liquid nitrogen, below -150 °C


class LabelScheme(StrEnum):
    LETTER_NUMBER = "letter-number"
    NUMBER_NUMBER = "number-number"
    SEQUENTIAL = "sequential"


class LayoutError(ValueError):
    """A grid or position that does not exist; `message` is the catalogue message, for any language."""

    def __init__(self, template: str, /, **params: Any) -> None:
        self.message = Msg(template, **params)
        super().__init__(str(self.message))


def can_hold(parent: ContainerKind, child: ContainerKind) -> bool:
    return child in ALLOWED_CHILDREN[parent]


def _row_letters(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA (for grids taller than 26 rows)."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = string.ascii_uppercase[rem] + letters
    return letters


@dataclass(frozen=True, slots=True)
class GridLayout:
    """The positions of a box: `rows` x `columns`, named by `scheme`; index 0 is the top-left cell."""

    rows: int
    columns: int
    scheme: LabelScheme = LabelScheme.LETTER_NUMBER

    def __post_init__(self) -> None:
        if not (1 <= self.rows <= 100 and 1 <= self.columns <= 100):
            raise LayoutError("a grid of {rows}x{columns} is not supported (1..100 each way)", rows=self.rows,
                              columns=self.columns)

    @property
    def capacity(self) -> int:
        return self.rows * self.columns

    def label(self, index: int) -> str:
        if not 0 <= index < self.capacity:
            raise LayoutError("position index {index} is outside a {rows}x{columns} grid", index=index,
                              rows=self.rows, columns=self.columns)
        row, column = divmod(index, self.columns)
        if self.scheme is LabelScheme.SEQUENTIAL:
            return str(index + 1)
        if self.scheme is LabelScheme.NUMBER_NUMBER:
            return f"{row + 1}-{column + 1}"
        return f"{_row_letters(row)}{column + 1}"

    def labels(self) -> list[str]:
        return [self.label(i) for i in range(self.capacity)]

    def index_of(self, label: str) -> int:
        """Position index of a label such as 'A1', '3-4' or '81'; raise LayoutError when it is not in the grid."""
        text = label.strip().upper()
        try:
            if self.scheme is LabelScheme.SEQUENTIAL:
                index = int(text) - 1
            elif self.scheme is LabelScheme.NUMBER_NUMBER:
                row_text, _, col_text = text.partition("-")
                index = (int(row_text) - 1) * self.columns + int(col_text) - 1
                if not (1 <= int(row_text) <= self.rows and 1 <= int(col_text) <= self.columns):
                    raise ValueError
            else:
                split = len(text) - len(text.lstrip(string.ascii_uppercase))
                letters, digits = text[:split], text[split:]
                if not letters or not digits.isdigit():
                    raise ValueError
                row = 0
                for char in letters:
                    row = row * 26 + (ord(char) - 64)
                row -= 1
                column = int(digits) - 1
                if not (0 <= row < self.rows and 0 <= column < self.columns):
                    raise ValueError
                index = row * self.columns + column
        except ValueError:
            raise LayoutError("position {label!r} does not exist in a {rows}x{columns} {scheme} grid",
                              label=label, rows=self.rows, columns=self.columns,
                              scheme=self.scheme.value) from None
        if not 0 <= index < self.capacity:
            raise LayoutError("position {label!r} does not exist in a {rows}x{columns} grid", label=label,
                              rows=self.rows, columns=self.columns)
        return index

    def row_col(self, index: int) -> tuple[int, int]:
        return divmod(index, self.columns)
