from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lifebank.biobank.barcode import ALPHABET, BarcodeScheme, check_character, has_valid_check
from lifebank.biobank.placement import BoxState, InsufficientSpace, Strategy, plan_placement
from lifebank.biobank.specimen_types import LineageError, LineageKind, lineage_kind, unit_error
from lifebank.biobank.storage_layout import ContainerKind, GridLayout, LabelScheme, LayoutError, can_hold

payloads = st.text(ALPHABET, min_size=1, max_size=20)


@given(payloads)
def test_check_character_validates(payload):
    assert has_valid_check(payload + check_character(payload))


@given(payloads, st.data())
def test_any_single_substitution_is_caught(payload, data):
    barcode = payload + check_character(payload)
    index = data.draw(st.integers(0, len(barcode) - 1))
    other = data.draw(st.sampled_from(ALPHABET).filter(lambda c: c != barcode[index]))
    assert not has_valid_check(barcode[:index] + other + barcode[index + 1:])


def test_nearly_every_adjacent_transposition_is_caught():
    """MOD 37,36 is a hybrid system: it misses about 1 in 600 adjacent swaps (a pure MOD 37-2 would catch all,
    but needs '*' as a check character, which our barcodes avoid)."""
    import itertools

    total = missed = 0
    for a, b in itertools.permutations(ALPHABET, 2):
        for prefix, suffix in (("", ""), ("LB0", "7"), ("X", "Q12")):
            payload = prefix + a + b + suffix
            barcode = payload + check_character(payload)
            i = len(prefix)
            total += 1
            missed += has_valid_check(barcode[:i] + b + a + barcode[i + 2:])
    assert total == 3780 and missed / total < 0.003


@given(st.integers(0, 10**9 - 1))
def test_scheme_round_trips(sequence):
    scheme = BarcodeScheme("LB", 9)
    assert scheme.sequence_of(scheme.barcode(sequence)) == sequence


@pytest.mark.parametrize(("layout", "labels"), [
    (GridLayout(8, 12), ["A1", "A12", "B1", "H12"]),
    (GridLayout(9, 9, LabelScheme.SEQUENTIAL), ["1", "9", "10", "81"]),
    (GridLayout(10, 10, LabelScheme.NUMBER_NUMBER), ["1-1", "1-10", "2-1", "10-10"]),
])
def test_labelling_schemes(layout, labels):
    indexes = [0, layout.columns - 1, layout.columns, layout.capacity - 1]
    assert [layout.label(i) for i in indexes] == labels
    assert [layout.index_of(label) for label in labels] == indexes


@given(st.integers(1, 40), st.integers(1, 40), st.sampled_from(list(LabelScheme)), st.data())
def test_label_and_index_round_trip(rows, columns, scheme, data):
    layout = GridLayout(rows, columns, scheme)
    index = data.draw(st.integers(0, layout.capacity - 1))
    assert layout.index_of(layout.label(index)) == index


def test_positions_outside_the_grid_are_rejected():
    with pytest.raises(LayoutError):
        GridLayout(9, 9).index_of("J1")
    with pytest.raises(LayoutError):
        GridLayout(9, 9).index_of("A10")
    with pytest.raises(LayoutError):
        GridLayout(9, 9, LabelScheme.SEQUENTIAL).index_of("82")


def test_nesting_rules():
    assert can_hold(ContainerKind.RACK, ContainerKind.BOX)
    assert can_hold(ContainerKind.FREEZER, ContainerKind.RACK)
    assert not can_hold(ContainerKind.BOX, ContainerKind.RACK)
    assert not can_hold(ContainerKind.RACK, ContainerKind.FREEZER)


def test_lineage_rules_and_units():
    assert lineage_kind([], "BLD") is LineageKind.PRIMARY
    assert lineage_kind(["SER"], "SER") is LineageKind.ALIQUOT
    assert lineage_kind(["BLD"], "DNA") is LineageKind.DERIVATIVE
    assert lineage_kind(["SER", "SER"], "SER") is LineageKind.POOL
    with pytest.raises(LineageError):
        lineage_kind(["DNA"], "SER")
    assert unit_error("SER", "ml") is None
    assert unit_error("DNA", "ug") is None
    assert unit_error("DNA", "mL") == "unit 'mL' is wrong for DNA: use µg"


boxes_strategy = st.lists(
    st.builds(lambda i, temp, cap, occ: BoxState(i, temp, cap, frozenset(o for o in occ if o < cap)),
              st.just(0), st.sampled_from(["-80C", "LN2", "-20C"]), st.integers(1, 100),
              st.sets(st.integers(0, 99), max_size=100)),
    min_size=0, max_size=6,
).map(lambda boxes: [BoxState(i, b.temperature_class, b.capacity, b.occupied) for i, b in enumerate(boxes)])


@given(boxes_strategy, st.integers(0, 150), st.sampled_from(["-80C", "LN2"]), st.sampled_from(list(Strategy)))
def test_placement_never_doubles_up_and_never_leaves_its_temperature_class(boxes, count, temp, strategy):
    by_id = {b.box_id: b for b in boxes}
    free = sum(b.free for b in boxes if b.temperature_class == temp)
    try:
        slots = plan_placement(boxes, count, temp, strategy)
    except InsufficientSpace:
        assert count > free
        return
    assert len(slots) == count
    assert len({(s.box_id, s.index) for s in slots}) == count
    for slot in slots:
        box = by_id[slot.box_id]
        assert box.temperature_class == temp
        assert 0 <= slot.index < box.capacity
        assert slot.index not in box.occupied


@given(boxes_strategy, st.integers(1, 20))
def test_placement_is_contiguous_when_one_box_can_take_all(boxes, count):
    try:
        slots = plan_placement(boxes, count, "-80C")
    except InsufficientSpace:
        return
    has_run = any(
        b.temperature_class == "-80C" and any(
            all(i + k not in b.occupied for k in range(count)) for i in range(b.capacity - count + 1))
        for b in boxes)
    if has_run:
        assert len({s.box_id for s in slots}) == 1
        assert [s.index for s in slots] == list(range(slots[0].index, slots[0].index + count))
