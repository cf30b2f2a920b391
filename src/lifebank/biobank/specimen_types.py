"""Specimen types, their units, and the lineage rules between them.

Types are the SPREC sample-type codes (SER serum, PL1 plasma, BLD whole blood, CEL viable PBMC, CRD cord
blood, TIS tissue, ...) plus nucleic-acid derivatives (DNA, RNA), which SPREC does not code. The type
decides the unit of quantity: a volume for fluids, a mass for tissue and nucleic acids, a cell count
for viable cells.

Lineage follows the OpenSpecimen / MIABIS vocabulary: an *aliquot* is a portion of the parent with the
same type; a *derivative* is a new type made from the parent (DNA extracted from blood); a *pool*
combines several parents of one type.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from lifebank.messages import Msg


class LineageKind(StrEnum):
    PRIMARY = "primary"  # collected from the participant
    ALIQUOT = "aliquot"
    DERIVATIVE = "derivative"
    POOL = "pool"


class SpecimenStatus(StrEnum):
    AVAILABLE = "available"
    RESERVED = "reserved"
    IN_USE = "in_use"
    DISTRIBUTED = "distributed"
    CONSUMED = "consumed"
    DESTROYED = "destroyed"


# Once a specimen has left the bank or no longer exists, nothing can happen to it any more.
FINAL_STATUSES = frozenset({SpecimenStatus.DISTRIBUTED, SpecimenStatus.CONSUMED, SpecimenStatus.DESTROYED})


@dataclass(frozen=True, slots=True)
class SpecimenType:
    code: str
    label: str
    unit: str
    default_temperature: str  # ISBER storage band the auto-placement uses by default


ML, UG, MG, CELLS = "mL", "µg", "mg", "10^6 cells"
UNIT_ALIASES = {"ml": ML, "ul": "µL", "µl": "µL", "ug": UG, "µg": UG, "mg": MG, "10^6 cells": CELLS,
                "1e6 cells": CELLS, "mcells": CELLS}

_TYPES = [
    SpecimenType("BLD", "Whole blood", ML, "-80C"),
    SpecimenType("SER", "Serum", ML, "-80C"),
    SpecimenType("PL1", "Plasma, single spun", ML, "-80C"),
    SpecimenType("PL2", "Plasma, double spun", ML, "-80C"),
    SpecimenType("BUF", "Buffy coat, viable", ML, "LN2"),
    SpecimenType("BFF", "Buffy coat, nonviable", ML, "-80C"),
    SpecimenType("RBC", "Red blood cells", ML, "-80C"),
    SpecimenType("CEL", "Mononuclear cells (PBMC), viable", CELLS, "LN2"),
    SpecimenType("PEL", "Mononuclear cells, nonviable", CELLS, "-80C"),
    SpecimenType("CRD", "Cord blood", ML, "LN2"),
    SpecimenType("BMA", "Bone marrow aspirate", ML, "LN2"),
    SpecimenType("CTC", "Circulating tumour cells", CELLS, "LN2"),
    SpecimenType("CSF", "Cerebrospinal fluid", ML, "-80C"),
    SpecimenType("URN", "Urine, random", ML, "-80C"),
    SpecimenType("URM", "Urine, first morning", ML, "-80C"),
    SpecimenType("U24", "Urine, 24 h", ML, "-80C"),
    SpecimenType("SAL", "Saliva", ML, "-80C"),
    SpecimenType("BUC", "Buccal cells", ML, "-80C"),
    SpecimenType("STL", "Stool", MG, "-80C"),
    SpecimenType("ASC", "Ascites fluid", ML, "-80C"),
    SpecimenType("AMN", "Amniotic fluid", ML, "-80C"),
    SpecimenType("SEM", "Semen", ML, "LN2"),
    SpecimenType("EXO", "Exosomes", UG, "-80C"),
    SpecimenType("TIS", "Solid tissue", MG, "LN2"),
    SpecimenType("TCM", "Disrupted tissue, nonviable", MG, "-80C"),
    SpecimenType("CLN", "Cells from nonblood specimen, viable", CELLS, "LN2"),
    SpecimenType("CEN", "Fresh cells from nonblood specimen", CELLS, "LN2"),
    SpecimenType("PEN", "Cells from nonblood specimen, nonviable", CELLS, "-80C"),
    SpecimenType("FNA", "Fine needle aspirate cells", CELLS, "LN2"),
    SpecimenType("PLC", "Placenta", MG, "-80C"),
    SpecimenType("DNA", "DNA", UG, "-20C"),
    SpecimenType("RNA", "RNA", UG, "-80C"),
    SpecimenType("ZZZ", "Other", ML, "-80C"),
]
SPECIMEN_TYPES: dict[str, SpecimenType] = {t.code: t for t in _TYPES}

NUCLEIC_ACIDS = frozenset({"DNA", "RNA"})
# Derivatives other than DNA/RNA that a type can yield (every non-nucleic-acid type yields DNA and RNA).
_DERIVES: dict[str, frozenset[str]] = {
    "BLD": frozenset({"SER", "PL1", "PL2", "BUF", "BFF", "RBC", "CEL", "PEL", "CTC", "EXO"}),
    "CRD": frozenset({"PL1", "PL2", "BUF", "RBC", "CEL", "PEL"}),
    "BMA": frozenset({"PL1", "CEL", "PEL"}),
    "PL1": frozenset({"PL2", "EXO"}),
    "SER": frozenset({"EXO"}),
    "URN": frozenset({"EXO"}),
    "TIS": frozenset({"TCM", "CLN", "CEN", "PEN"}),
    "CEL": frozenset({"PEL"}),
}


class LineageError(ValueError):
    """An impossible type or lineage step; `message` is the catalogue message for any language."""

    def __init__(self, message: Msg) -> None:
        self.message = message
        super().__init__(str(message))


def specimen_type(code: str) -> SpecimenType:
    try:
        return SPECIMEN_TYPES[code.strip().upper()]
    except KeyError:
        raise LineageError(Msg("unknown specimen type {code!r}", code=code)) from None


def normalise_unit(unit: str) -> str:
    return UNIT_ALIASES.get(unit.strip().lower(), unit.strip())


def unit_error(type_code: str, unit: str) -> Msg | None:
    """Why `unit` is wrong for the type, or None when it is the type's unit."""
    expected = SPECIMEN_TYPES[type_code].unit
    if normalise_unit(unit) != expected:
        return Msg("unit {unit!r} is wrong for {type}: use {expected}", unit=unit, type=type_code, expected=expected)
    return None


def can_derive(parent_type: str, child_type: str) -> bool:
    if parent_type in NUCLEIC_ACIDS:
        return False
    return child_type in NUCLEIC_ACIDS or child_type in _DERIVES.get(parent_type, frozenset())


def lineage_kind(parent_types: list[str], child_type: str) -> LineageKind:
    """The kind of the link from parent(s) to a child, or LineageError when the step is impossible."""
    if not parent_types:
        return LineageKind.PRIMARY
    if len(parent_types) > 1:
        if any(t != child_type for t in parent_types):
            kinds = sorted(set(parent_types))
            raise LineageError(Msg("a pool must have parents of its own type {type}, not {kinds}", type=child_type,
                                   kinds=", ".join(kinds)))
        return LineageKind.POOL
    parent_type = parent_types[0]
    if parent_type == child_type:
        return LineageKind.ALIQUOT
    if can_derive(parent_type, child_type):
        return LineageKind.DERIVATIVE
    raise LineageError(Msg("{child} cannot be derived from {parent}", child=child_type, parent=parent_type))


# No single tube, bag or block holds more than this in its own unit (1,000 L, 1 kg, 10^12 cells): a larger
# figure is a typo or a unit mix-up, and infinity is never a quantity.
MAX_QUANTITY = 1_000_000.0


def quantity_too_large(value: float) -> bool:
    return value > MAX_QUANTITY
