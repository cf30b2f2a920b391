"""Logger traces: both layouts, bad rows named, excursions with their duration."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lifebank.celltherapy import coldchain, product_codes
from lifebank.errors import RowsRejected

from .chain_values import PRODUCT_CODES_CSV

GENERIC = """time,temperature_c
2026-01-01T08:00:00Z,4.0
2026-01-01T08:10:00Z,9.5
2026-01-01T08:20:00Z,10.5
2026-01-01T08:30:00Z,6.0
2026-01-01T08:40:00Z,1.0
"""

DATE_TIME = """Logger,LOG-2
Serial,123456
Date,Time,Temperature (°C)
01/01/2026,08:00,-180.0
01/01/2026,08:01,-182.5
01/01/2026,08:02:00,-120.0
"""


def test_generic_layout_and_excursions_with_duration() -> None:
    readings = coldchain.parse_trace(GENERIC)
    assert len(readings) == 5 and readings[0] == (datetime(2026, 1, 1, 8, tzinfo=UTC), 4.0)
    found = coldchain.excursions(readings, 2.0, 8.0)
    assert [e.as_dict() for e in found] == [
        {"start": "2026-01-01T08:10:00+00:00", "end": "2026-01-01T08:30:00+00:00", "minutes": 20.0,
         "extreme_c": 10.5},
        {"start": "2026-01-01T08:40:00+00:00", "end": "2026-01-01T08:40:00+00:00", "minutes": 0.0,
         "extreme_c": 1.0}]


def test_date_time_layout_with_a_preamble() -> None:
    readings = coldchain.parse_trace(DATE_TIME)
    assert [v for _, v in readings] == [-180.0, -182.5, -120.0]
    assert readings[2][0] == datetime(2026, 1, 1, 8, 2, tzinfo=UTC)
    assert coldchain.excursions(readings, -196, -150)[0].extreme == -120.0


def test_bad_rows_are_named_and_nothing_is_read() -> None:
    text = GENERIC + "yesterday,4\n2026-01-01T09:00:00Z,warm\n2026-01-01T07:00:00Z,4\n"
    with pytest.raises(RowsRejected) as rejected:
        coldchain.parse_trace(text)
    assert [(e.line, e.column) for e in rejected.value.errors] == [(7, "time"), (8, "temperature_c"), (9, "time")]
    with pytest.raises(RowsRejected, match="no header"):
        coldchain.parse_trace("a,b\n1,2\n")


@given(st.lists(st.floats(-30, 40, allow_nan=False), min_size=1, max_size=200))
def test_excursion_minutes_add_up_to_the_time_outside(values: list[float]) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    readings = [(start + timedelta(minutes=i), v) for i, v in enumerate(values)]
    found = coldchain.excursions(readings, 2.0, 8.0)
    outside = [not 2.0 <= v <= 8.0 for v in values]
    assert bool(found) == any(outside)
    expected = sum(1 for i in range(len(values) - 1) if outside[i])  # each outside minute until back inside
    assert sum(e.minutes for e in found) == expected


def test_product_code_table_is_read_and_bad_rows_are_named() -> None:
    rows = product_codes.parse_product_codes(PRODUCT_CODES_CSV)
    assert [r.code for r in rows] == ["X0001", "X0002", "X0003", "X0004"] and rows[1].shelf_life_hours == 8760
    bad = "code,description,product,shelf_life_hours\nX01,a,car-t,1\nX0002,b,gene,1\nX0002,c,car-t,-1\n"
    with pytest.raises(RowsRejected) as rejected:
        product_codes.parse_product_codes(bad)
    assert [(e.line, e.column) for e in rejected.value.errors] == [
        (2, "code"), (3, "product"), (4, "code"), (4, "shelf_life_hours")]
    with pytest.raises(RowsRejected, match="missing column"):
        product_codes.parse_product_codes("code,description\nX0001,a\n")
