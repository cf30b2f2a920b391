from __future__ import annotations

import csv

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lifebank.biobank.sprec import SprecError, code_table, is_valid_sprec, parse_sprec
from shared_data import SHARED_DATA

EXAMPLES = SHARED_DATA / "biobank" / "sprec" / "sprec_examples.csv"


@pytest.mark.parametrize("row", list(csv.DictReader(EXAMPLES.open())), ids=lambda r: r["sprec"])
def test_shared_test_vectors(row):
    if row["expected"] == "invalid":
        with pytest.raises(SprecError):
            parse_sprec(row["sprec"])
        return
    parsed = parse_sprec(row["sprec"])
    assert parsed.material == row["material"]
    assert (parsed.freeze_thaw is not None) == (row["expected"] == "extension")
    assert str(parsed) == row["sprec"]


def test_v4_only_type_is_rejected_in_v3():
    assert is_valid_sprec("EXO-PPS-A-D-N-B-A", version="4.0")
    with pytest.raises(SprecError, match="introduced in SPREC 4.0"):
        parse_sprec("EXO-PPS-A-D-N-B-A", version="3.0")


def _valid_code(material: str) -> st.SearchStrategy[str]:
    table = code_table()
    parts = [st.sampled_from(sorted(table[(material, element)])) for element in range(1, 8)]
    return st.tuples(*parts).map("-".join)


@given(st.one_of(_valid_code("fluid"), _valid_code("solid")), st.none() | st.integers(0, 99))
def test_every_code_built_from_the_tables_parses_and_round_trips(code, freeze_thaw):
    text = code if freeze_thaw is None else f"{code}-{freeze_thaw}"
    parsed = parse_sprec(text.lower())
    assert str(parsed) == text
    assert parsed.freeze_thaw == freeze_thaw


@given(_valid_code("fluid"), st.integers(1, 6), st.text("QWXYZ0123456789", min_size=1, max_size=4))
def test_a_bad_element_is_named(code, element, junk):
    parts = code.split("-")
    replaced = parts.copy()
    replaced[element] = junk
    text = "-".join(replaced)
    allowed = code_table()[("fluid", element + 1)]
    if junk in allowed:
        return
    with pytest.raises(SprecError) as caught:
        parse_sprec(text, material="fluid")
    assert caught.value.element == element + 1


@given(st.text(max_size=40))
def test_parser_never_crashes(text):
    try:
        parse_sprec(text)
    except SprecError:
        pass
