"""ISBT 128 DIN check characters, flags, product codes, divisions and expiry."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lifebank.celltherapy import isbt128
from lifebank.errors import ValidationFailed
from shared_data import SHARED_DATA

VECTORS = Path(__file__).parent / "data" / "din_check_vectors.csv"
ROWS = list(csv.DictReader(VECTORS.open()))
VALID = [r for r in ROWS if r["mod37_2_value"]]
INVALID = [r for r in ROWS if not r["mod37_2_value"]]


def test_vendored_vectors_equal_the_shared_copy() -> None:
    shared = SHARED_DATA / "biobank" / "isbt128" / "din_check_vectors.csv"
    if shared.exists():  # the vendored copy is what the test reads; it must not drift from the source
        assert shared.read_bytes() == VECTORS.read_bytes()
    assert len(VALID) == 8 and len(INVALID) == 2


@pytest.mark.parametrize("row", VALID, ids=[r["din_13"] for r in VALID])
def test_every_vector_gives_its_check_value_flags_and_character(row) -> None:
    din = isbt128.parse_din(row["din_13"])
    assert (din.fin, din.year, din.sequence) == (row["fin"], row["year"], row["sequence"])
    assert isbt128.mod37_2(row["din_13"]) == int(row["mod37_2_value"])
    assert din.check == row["eye_readable_check_char"]
    assert din.barcode_data == row["barcode_data_with_checksum_flags"]
    assert f"{din.eye_readable} {din.check}" == row["human_readable"]
    # with its check character or its flags appended, the DIN is still valid
    assert isbt128.parse_din(row["din_13"] + din.check) == din
    assert isbt128.parse_din(row["barcode_data_with_checksum_flags"]) == din


@pytest.mark.parametrize("row", INVALID, ids=[r["din_13"] for r in INVALID])
def test_invalid_vectors_are_refused(row) -> None:
    with pytest.raises(ValidationFailed):
        isbt128.parse_din(row["din_13"])
    assert isbt128.check_din(row["din_13"])["valid"] is False


def test_published_example_as_the_cli_answers_it() -> None:
    assert isbt128.check_din("G123498654321") == {"din": "G123498654321", "valid": True, "check_character": "H",
                                                 "flags": "77", "eye_readable": "G1234 98 654321"}


def test_a_bad_check_character_is_refused_with_the_expected_one() -> None:
    answer = isbt128.check_din("G123498654321A")
    assert answer["valid"] is False and answer["check_character"] == "H"
    with pytest.raises(ValidationFailed, match="check character A is wrong"):
        isbt128.parse_din("G123498654321A")
    with pytest.raises(ValidationFailed, match="flag characters 76 are wrong"):
        isbt128.parse_din("G12349865432176")


dins = st.builds(lambda first, rest: first + rest, st.sampled_from(isbt128.FIN_FIRST),
                 st.text("0123456789", min_size=12, max_size=12))


@given(dins)
def test_any_well_formed_din_is_valid_and_round_trips(din: str) -> None:
    parsed = isbt128.parse_din(din)
    assert parsed.text == din
    assert isbt128.parse_din(parsed.barcode_data) == parsed
    assert isbt128.parse_din(din + parsed.check) == parsed


@given(dins, st.integers(0, 12), st.sampled_from("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
def test_any_single_substitution_changes_the_check(din: str, position: int, char: str) -> None:
    changed = din[:position] + char + din[position + 1:]
    if changed != din:
        assert isbt128.mod37_2(changed) != isbt128.mod37_2(din)


@given(dins, st.integers(0, 11))
def test_any_adjacent_transposition_changes_the_check(din: str, position: int) -> None:
    swapped = din[:position] + din[position + 1] + din[position] + din[position + 2:]
    if swapped != din:
        assert isbt128.mod37_2(swapped) != isbt128.mod37_2(din)


def test_make_din_from_a_facility_and_sequence() -> None:
    din = isbt128.make_din("A9999", 2025, 1)
    assert din.text == "A999925000001" and din.check == "P"
    with pytest.raises(ValidationFailed, match="facility identification number"):
        isbt128.make_din("O1234", 2025, 1)
    with pytest.raises(ValidationFailed, match="six digits"):
        isbt128.make_din("A9999", 2025, 1_000_000)


def test_product_codes_and_divisions() -> None:
    code = isbt128.parse_product_code("=<X0001000")
    assert (code.description_code, code.donation_type, code.division) == ("X0001", "0", "00")
    assert isbt128.ProductCode("X0001", "1", "B0").barcode_data == "=<X00011B0"
    assert isbt128.divisions(3) == ["A0", "B0", "C0"]
    assert isbt128.divisions(2, "B0") == ["Ba", "Bb"]
    for bad in ("X001000", "x0001000"):
        with pytest.raises(ValidationFailed):
            isbt128.parse_product_code(bad)
    with pytest.raises(ValidationFailed, match="cannot be divided further"):
        isbt128.divisions(2, "Ba")
    with pytest.raises(ValidationFailed, match="1 to 26"):
        isbt128.divisions(27)


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(UTC)))
def test_expiry_data_structure_round_trips_to_the_minute(when: datetime) -> None:
    data = isbt128.expiry_data(when)
    assert data.startswith("=>") and len(data) == 12
    assert isbt128.parse_expiry(data) == when.replace(second=0, microsecond=0)
