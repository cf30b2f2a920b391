"""The pure modules of the workflow: states and the committee's verdict, pick order and box packing, the
last-aliquot rule, and the consent details read from a scope text."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lifebank.access.consent_details import consent_of, scope_details
from lifebank.access.consent_rules import DS, GS, TS
from lifebank.access.picking import Offer, Place, choose, freezer_doors, natural_key, pack_boxes, pick_order
from lifebank.access.workflow import TRANSITIONS, State, Vote, check_transition, verdict
from lifebank.errors import Conflict


def test_the_strictest_vote_wins_once_every_member_has_voted():
    assert verdict([Vote.APPROVE], 2) is None
    assert verdict([Vote.APPROVE, Vote.APPROVE], 2) is State.APPROVED
    assert verdict([Vote.APPROVE, Vote.APPROVE_WITH_CONDITIONS], 2) is State.APPROVED_WITH_CONDITIONS
    assert verdict([Vote.APPROVE_WITH_CONDITIONS, Vote.REQUEST_CHANGES], 2) is State.CHANGES_REQUESTED
    assert verdict([Vote.REQUEST_CHANGES, Vote.REJECT, Vote.APPROVE], 3) is State.REJECTED


def test_only_the_workflows_moves_are_allowed():
    assert check_transition("submitted", "under_review") is State.UNDER_REVIEW
    with pytest.raises(Conflict) as refused:
        check_transition("submitted", "shipped")
    assert str(refused.value) == "a request that is Submitted cannot become Shipped"
    assert State.WITHDRAWN not in TRANSITIONS[State.SHIPPED]  # what has shipped cannot be withdrawn
    assert not TRANSITIONS[State.CLOSED] and not TRANSITIONS[State.WITHDRAWN]


def test_pick_order_is_freezer_rack_box_position_with_numbers_as_numbers():
    places = {"a": Place(("FRZ-02", "R01", "BOX-1"), 0, "A1"), "b": Place(("FRZ-01", "R01", "BOX-10"), 0, "A1"),
              "c": Place(("FRZ-01", "R01", "BOX-9"), 5, "A6"), "d": Place(("FRZ-01", "R01", "BOX-9"), 2, "A3")}
    order = pick_order(["a", "b", "c", "d", "loose"], places)
    assert order == ["d", "c", "b", "a", "loose"]
    assert freezer_doors(order, places) == 2


@given(st.lists(st.tuples(st.sampled_from(["FRZ-1", "FRZ-2", "FRZ-10"]), st.integers(1, 30), st.integers(0, 80)),
                min_size=1, max_size=60, unique=True))
def test_pick_order_opens_each_freezer_once(spots):
    places = {f"T{i}": Place((f, "R1", f"BOX-{b}"), p, "") for i, (f, b, p) in enumerate(spots)}
    order = pick_order(list(places), places)
    assert sorted(order) == sorted(places)
    assert freezer_doors(order, places) == len({f for f, _b, _p in spots})
    keys = [(natural_key(places[t].parts[0]), natural_key(places[t].parts[2]), places[t].position_index)
            for t in order]
    assert keys == sorted(keys)


def test_boxes_fill_row_by_row_then_the_next_box():
    packed = pack_boxes([f"T{i}" for i in range(83)], prefix="AR-000001")
    assert packed[0] == ("T0", "AR-000001-1", "A1")
    assert packed[9] == ("T9", "AR-000001-1", "B1")
    assert packed[80] == ("T80", "AR-000001-1", "I9")
    assert packed[81] == ("T81", "AR-000001-2", "A1")


def test_a_participants_last_tube_is_kept_unless_allowed():
    offers = [Offer("A1", "P1"), Offer("A2", "P1"), Offer("B1", "P2"), Offer("C1", "P3"), Offer("C2", "P3")]
    held = {"P1": 2, "P2": 1, "P3": 3}
    assert choose(offers, held, per_participant=1, total=None, allow_last=False) == ["A1", "C1"]
    assert choose(offers, held, per_participant=2, total=None, allow_last=False) == ["A1", "C1", "C2"]
    assert choose(offers, held, per_participant=1, total=None, allow_last=True) == ["A1", "B1", "C1"]
    assert choose(offers, held, per_participant=2, total=2, allow_last=True) == ["A1", "A2"]


def test_scope_details_feed_the_modifiers_that_need_them():
    details = scope_details("Breast cancer study; disease=C50, C61\ncountry=cn,de; months=24; moratorium=2027-01-01")
    assert details == {"diseases": frozenset({"C50", "C61"}), "countries": frozenset({"cn", "de"}),
                       "time_limit_months": 24, "moratorium_until": date(2027, 1, 1)}
    assert scope_details("moratorium=soon; months=many") == {}  # missing facts stay missing: the rule refuses
    consent = consent_of((DS, GS), date(2024, 1, 2), "disease=C50; country=CN")
    assert consent.diseases == frozenset({"C50"}) and consent.countries == frozenset({"CN"})
    assert consent.consent_date is None  # the date matters only to TS, so patterns stay few
    assert consent_of((TS,), date(2024, 1, 2), "months=6").consent_date == date(2024, 1, 2)


@given(st.text(max_size=200))
def test_any_scope_text_is_read_without_error(text):
    assert isinstance(scope_details(text), dict)
