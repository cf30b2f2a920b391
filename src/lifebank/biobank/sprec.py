"""SPREC, the Standard PREanalytical Code (ISBER): parse and validate the 7-element code of a sample.

A SPREC string is seven dash-separated elements. For *fluid* samples they are: type of sample, type of
primary container, pre-centrifugation delay, centrifugation, second centrifugation, post-centrifugation
delay and long-term storage; for *solid* samples: type of sample, type of collection, warm ischaemia,
cold ischaemia, fixation/stabilisation type, fixation time and long-term storage. Some sample types
(CLN, CEN, PEN, ZZZ) exist in both tables, so a code is valid when it validates as either material.
An optional 8th numeric element is the H3Africa freeze-thaw count extension (not core SPREC).

Code values come from `data/sprec/sprec_codes.csv`, each tagged with the SPREC version that introduced
it; `version="3.0"` rejects codes first published in 4.0.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from lifebank.messages import N_, Msg

CODE_LIST = Path(__file__).parent / "data" / "sprec" / "sprec_codes.csv"
VERSIONS = ("2.0", "3.0", "4.0")
MATERIALS = ("fluid", "solid")

FLUID_ELEMENTS = (N_("type of sample"), N_("type of primary container"), N_("pre-centrifugation delay"),
                  N_("centrifugation"), N_("second centrifugation"), N_("post-centrifugation delay"),
                  N_("long-term storage"))
SOLID_ELEMENTS = (N_("type of sample"), N_("type of collection"), N_("warm ischaemia time"),
                  N_("cold ischaemia time"), N_("fixation/stabilisation type"), N_("fixation time"),
                  N_("long-term storage"))
MATERIAL_NAMES = {"fluid": N_("fluid"), "solid": N_("solid tissue")}


class SprecError(ValueError):
    """An invalid SPREC string; `element` is the 1-based element at fault (0 for the whole string)."""

    def __init__(self, code: str, element: int, reason: Msg) -> None:
        self.code = code
        self.element = element
        self.reason = reason  # a catalogue message, rendered in the reader's language at the edge
        self.message = Msg("SPREC {code!r}: {reason}", code=code, reason=reason)
        super().__init__(str(self.message))


@dataclass(frozen=True, slots=True)
class Sprec:
    """A validated SPREC code."""

    material: str  # "fluid" or "solid"
    elements: tuple[str, ...]  # the seven core elements
    freeze_thaw: int | None = None  # H3Africa 8th-element extension

    @property
    def sample_type(self) -> str:
        return self.elements[0]

    @property
    def long_term_storage(self) -> str:
        return self.elements[6]

    def __str__(self) -> str:
        core = "-".join(self.elements)
        return core if self.freeze_thaw is None else f"{core}-{self.freeze_thaw}"


def _introduced_in(first_seen: str) -> str:
    """'2.0', '<=3.0', '2.0/3.0', '4.0' -> the earliest version the code is valid in."""
    if first_seen.startswith("<="):
        return "2.0"
    return first_seen.split("/")[0].strip()


@cache
def code_table() -> dict[tuple[str, int], dict[str, str]]:
    """(material, element) -> {code: version introduced}. Element 7 ('both') is shared by both materials."""
    table: dict[tuple[str, int], dict[str, str]] = {}
    with CODE_LIST.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            code = row["code"].strip()
            if not code.isalnum():  # e.g. '?' for the v4 'Sweat' type whose code is not published
                continue
            materials = MATERIALS if row["material"] == "both" else (row["material"],)
            for material in materials:
                table.setdefault((material, int(row["element"])), {})[code] = _introduced_in(row["first_seen_in"])
    return table


def meaning_table() -> dict[tuple[str, int, str], str]:
    """(material, element, code) -> meaning, for display."""
    out: dict[tuple[str, int, str], str] = {}
    with CODE_LIST.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            materials = MATERIALS if row["material"] == "both" else (row["material"],)
            for material in materials:
                out[(material, int(row["element"]), row["code"])] = row["meaning"]
    return out


def _check_material(code: str, parts: list[str], material: str, version: str) -> SprecError | None:
    table = code_table()
    for index, value in enumerate(parts, start=1):
        allowed = table[(material, index)]
        introduced = allowed.get(value)
        if introduced is None:
            name = (FLUID_ELEMENTS if material == "fluid" else SOLID_ELEMENTS)[index - 1]
            return SprecError(code, index, Msg("{value!r} is not a {material} code for element {index} ({name})",
                                               value=value, material=Msg(MATERIAL_NAMES[material]), index=index,
                                               name=Msg(name)))
        if VERSIONS.index(introduced) > VERSIONS.index(version):
            return SprecError(code, index, Msg("{value!r} (element {index}) was introduced in SPREC {introduced}, "
                                               "not valid in {version}", value=value, index=index,
                                               introduced=introduced, version=version))
    return None


def parse_sprec(code: str, *, version: str = "4.0", material: str | None = None) -> Sprec:
    """Parse and validate a SPREC string; raise SprecError naming the first bad element.

    With `material` unset, the sample-type code decides: a type found only in the fluid table is
    checked as fluid, and a type found in both (e.g. CLN) is accepted if either reading validates.
    """
    if version not in VERSIONS:
        raise ValueError(f"unknown SPREC version {version!r}; known: {', '.join(VERSIONS)}")
    text = code.strip().upper()
    parts = text.split("-")
    if len(parts) not in (7, 8):
        raise SprecError(code, 0, Msg("has {count} elements; SPREC has 7 (plus an optional freeze-thaw count)",
                                      count=len(parts)))
    freeze_thaw: int | None = None
    if len(parts) == 8:
        if not parts[7].isdigit():
            raise SprecError(code, 8, Msg("8th element {value!r} must be a freeze-thaw count (digits)",
                                          value=parts[7]))
        freeze_thaw = int(parts[7])
        parts = parts[:7]
    candidates = (material,) if material else tuple(
        m for m in MATERIALS if parts[0] in code_table()[(m, 1)]
    )
    if not candidates:
        raise SprecError(code, 1, Msg("{value!r} is not a SPREC sample type", value=parts[0]))
    first_error: SprecError | None = None
    for candidate in candidates:
        error = _check_material(code, parts, candidate, version)
        if error is None:
            return Sprec(candidate, tuple(parts), freeze_thaw)
        if first_error is None or error.element > first_error.element:
            first_error = error
    assert first_error is not None
    raise first_error


def is_valid_sprec(code: str, *, version: str = "4.0") -> bool:
    try:
        parse_sprec(code, version=version)
    except SprecError:
        return False
    return True
