"""The chain-of-custody state machine: every transition, every refusal (pure)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lifebank.celltherapy import chain
from lifebank.celltherapy.products import PRODUCTS, product
from lifebank.errors import ValidationFailed

from .chain_values import CAR_T, HPC_CORD

CART = PRODUCTS["car-t"]


def _values(step: str, values: dict[str, dict[str, str]] = CAR_T) -> dict[str, str]:
    filled = dict(values[step])
    for key in ("bag", "wristband_code"):
        if key in filled:
            filled[key] = "X"
    return filled


def _signers(step: str) -> list[str]:
    return ["alice", "bob"][: len(chain.rule_of(step, CART).meanings)]


@pytest.mark.parametrize("index", range(len(chain.STEPS)), ids=chain.STEPS)
def test_each_step_is_accepted_in_its_turn(index: int) -> None:
    step = chain.STEPS[index]
    parsed = chain.check_step(step, CART, chain.STEPS[:index], _values(step), _signers(step))
    assert set(parsed) == set(_values(step))


@pytest.mark.parametrize("index", range(len(chain.STEPS)), ids=chain.STEPS)
def test_each_cord_step_is_accepted_in_its_turn(index: int) -> None:
    step = chain.STEPS[index]
    assert chain.check_step(step, PRODUCTS["hpc-cord"], chain.STEPS[:index], _values(step, HPC_CORD),
                            _signers(step))


@pytest.mark.parametrize("index", range(1, len(chain.STEPS)), ids=chain.STEPS[1:])
def test_each_step_is_refused_before_its_turn(index: int) -> None:
    step = chain.STEPS[index]
    with pytest.raises(chain.StepRefused) as refused:
        chain.check_step(step, CART, chain.STEPS[: index - 1], _values(step), _signers(step))
    assert refused.value.reason == "out_of_order" and refused.value.status == 409
    assert f"the next step is {chain.STEPS[index - 1]}" in refused.value.detail


@pytest.mark.parametrize("index", range(len(chain.STEPS)), ids=chain.STEPS)
def test_each_step_names_its_missing_fields(index: int) -> None:
    step = chain.STEPS[index]
    with pytest.raises(chain.StepRefused) as refused:
        chain.check_step(step, CART, chain.STEPS[:index], {}, _signers(step))
    assert refused.value.reason == "missing_fields"
    for name in chain.rule_of(step, CART).required:
        assert name in refused.value.detail


def test_a_step_already_done_and_a_closed_chain_are_refused() -> None:
    with pytest.raises(chain.StepRefused, match="already recorded") as refused:
        chain.check_order("collection", chain.STEPS[:3])
    assert refused.value.reason == "already_done"
    with pytest.raises(chain.StepRefused, match="the chain is closed") as closed:
        chain.check_order("infusion", chain.STEPS)
    assert closed.value.reason == "chain_closed"
    with pytest.raises(chain.StepRefused, match="unknown step"):
        chain.check_order("teleport", ())


def test_nothing_can_be_skipped() -> None:
    assert chain.next_step(()) == "collection"
    assert chain.next_step(chain.STEPS[:10]) == "bedside-verification"
    assert chain.next_step(chain.STEPS) is None


def test_bad_and_unknown_values_are_named() -> None:
    with pytest.raises(chain.StepRefused, match="volume_ml = '-3' is not valid") as bad:
        chain.check_values("collection", CART, dict(CAR_T["collection"], volume_ml="-3"))
    assert bad.value.reason == "bad_value"
    with pytest.raises(chain.StepRefused, match="does not record colour"):
        chain.check_values("collection", CART, dict(CAR_T["collection"], colour="red"))
    with pytest.raises(chain.StepRefused, match="bags = '1.5'"):
        chain.check_values("packaging", CART, {"bags": "1.5", "product_code": "X0001"})


def test_bedside_needs_a_second_identifier_and_two_different_people() -> None:
    values = {"bag": "X", "wristband_code": "P1"}
    with pytest.raises(chain.StepRefused, match="wristband_dob or wristband_mrn"):
        chain.check_values("bedside-verification", CART, values)
    with pytest.raises(chain.StepRefused, match="needs 2 signatures") as one:
        chain.check_signers("bedside-verification", CART, ["alice"])
    assert one.value.reason == "signature_missing"
    with pytest.raises(chain.StepRefused, match="2 different people") as same:
        chain.check_signers("bedside-verification", CART, ["alice", "alice"])
    assert same.value.reason == "same_signer"


def test_qc_out_of_specification_is_refused_without_an_exception() -> None:
    results = dict(CAR_T["qc-release"], viability="55", sterility="positive")
    with pytest.raises(chain.StepRefused, match="QC out of specification") as refused:
        chain.check_step("qc-release", CART, chain.STEPS[:5], results, ["qa"])
    assert refused.value.reason == "qc_out_of_specification"
    assert "viability = 55.0 (70-100 %)" in refused.value.detail and "sterility = positive" in refused.value.detail
    parsed = chain.check_step("qc-release", CART, chain.STEPS[:5], dict(results, exception="DEV-12 accepted"), ["qa"])
    assert chain.qc_failures(CART, parsed) == ["sterility = positive (negative)", "viability = 55.0 (70-100 %)"]


@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e6, max_value=1e6))
def test_viability_passes_exactly_within_its_specification(value: float) -> None:
    spec = next(s for s in CART.qc if s.test == "viability")
    assert spec.passes(value) == (70 <= value <= 100)


def test_unknown_product_is_named() -> None:
    with pytest.raises(ValidationFailed, match="unknown product gene-therapy; products: car-t, hpc-cord"):
        product("gene-therapy")
