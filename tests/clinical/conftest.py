"""Clinical fixtures: a biobank with a few participants to link to."""

from __future__ import annotations

from pathlib import Path

import pytest

from lifebank.biobank import service as bank
from lifebank.db.engine import Database

FIXTURES = Path(__file__).parent / "fixtures"
ACTOR = "test"


@pytest.fixture
def bank_participants(db: Database) -> list[str]:
    codes = ["P0001", "P0002", "P0003"]
    for code, sex, year in zip(codes, ["M", "F", "M"], [1950, 1962, 1971], strict=True):
        bank.register_participant(db, code, sex=sex, birth_year=year, site="Shanghai", actor=ACTOR)
    return codes
