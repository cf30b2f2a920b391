"""Shared HLA fixtures: the vendored nomenclature, a parser with the Atlas MAC dictionary, a grader."""

from __future__ import annotations

from pathlib import Path

import pytest

from lifebank.hla.grading import Grader
from lifebank.hla.macs import MacDictionary, load_mac_file
from lifebank.hla.nomenclature import Nomenclature, vendored
from lifebank.hla.typing import TypingParser
from shared_data import SHARED_DATA

SHARED = SHARED_DATA / "hla"
ATLAS = SHARED / "atlas-testdata"
MVT3 = SHARED / "wmda-mvt3"


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"shared test data {path} is not on this machine")
    return path


@pytest.fixture(scope="session")
def nom() -> Nomenclature:
    return vendored()


@pytest.fixture(scope="session")
def atlas_macs() -> MacDictionary:
    return load_mac_file(need(ATLAS / "LargeMacDictionary.csv"))


@pytest.fixture(scope="session")
def parser(nom: Nomenclature) -> TypingParser:
    from lifebank.hla.macs import parse_mac_lines

    # A tiny NMDP-format dictionary for hand-checked cases (generic AB, specific DEF, null-bearing NUL).
    macs = parse_mac_lines(["AB\t01/02", "DEF\t02:01/03:01", "NUL\t01:11N/01:15N", "AN\t01/04N"])
    return TypingParser(nom, macs)


@pytest.fixture(scope="session")
def grader(nom: Nomenclature) -> Grader:
    return Grader(nom)
