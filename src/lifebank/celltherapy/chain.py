"""The chain of custody as a state machine: the steps in their one order, the data each step requires and
the signatures it needs. Pure: no I/O; `check_step` is the whole rule set a step passes before it is written.

Nothing can be skipped: the next step is always the first one not yet done, and once `infusion` is recorded
the chain is closed. A refusal is a `StepRefused` carrying a reason code (ledgered) and a message naming the
missing or wrong fields, so the person at the bench reads exactly what to fix.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from lifebank.celltherapy.products import Product
from lifebank.errors import Conflict, ValidationFailed
from lifebank.messages import N_, Msg, register_labels

STEPS: tuple[str, ...] = (
    "collection", "packaging", "shipment-to-manufacturing", "receipt-at-manufacturing", "manufacturing",
    "qc-release", "cryopreservation", "shipment-to-centre", "receipt-at-centre", "thaw", "bedside-verification",
    "infusion",
)
SHIPMENTS = {"shipment-to-manufacturing": "to-manufacturing", "shipment-to-centre": "to-centre"}
RECEIPTS = {"receipt-at-manufacturing": "to-manufacturing", "receipt-at-centre": "to-centre"}

register_labels("celltherapy_step", {
    "collection": N_("Collection (apheresis)"),
    "packaging": N_("Packaging"),
    "shipment-to-manufacturing": N_("Shipment to manufacturing"),
    "receipt-at-manufacturing": N_("Receipt at manufacturing"),
    "manufacturing": N_("Manufacturing"),
    "qc-release": N_("QC release"),
    "cryopreservation": N_("Cryopreservation"),
    "shipment-to-centre": N_("Shipment to the treatment centre"),
    "receipt-at-centre": N_("Receipt at the treatment centre"),
    "thaw": N_("Thaw"),
    "bedside-verification": N_("Bedside verification"),
    "infusion": N_("Infusion"),
})
register_labels("signature_meaning", {
    "performed": N_("Performed"),
    "handed over": N_("Handed over"),
    "received": N_("Received"),
    "released": N_("Released"),
    "verified": N_("Verified"),
    "second verification": N_("Second verification"),
    "administered": N_("Administered"),
})


@dataclass(frozen=True, slots=True)
class FieldRule:
    """One value a step records: its kind (number, integer, text, date, choice), bounds and unit."""

    name: str
    kind: str = "text"
    unit: str = ""
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()

    def parse(self, raw: Any) -> Any:
        """The value in its kind, or ValueError carrying the reason as a catalogue message."""
        text = str(raw).strip()
        if not text:
            raise ValueError(Msg("empty"))
        if self.kind in ("number", "integer"):
            try:
                number = float(text)
            except ValueError:
                raise ValueError(Msg("not a number")) from None
            if number != number or (self.kind == "integer" and not number.is_integer()):
                raise ValueError(Msg("not a whole number") if self.kind == "integer" else Msg("not a number"))
            if self.minimum is not None and number < self.minimum:
                raise ValueError(Msg("below {minimum}", minimum=f"{self.minimum:g}"))
            if self.maximum is not None and number > self.maximum:
                raise ValueError(Msg("above {maximum}", maximum=f"{self.maximum:g}"))
            return int(number) if self.kind == "integer" else number
        if self.kind == "date":
            try:
                return date.fromisoformat(text).isoformat()
            except ValueError:
                raise ValueError(Msg("not a date (YYYY-MM-DD)")) from None
        if self.kind == "choice" and text not in self.choices:
            raise ValueError(Msg("one of {choices}", choices=", ".join(self.choices)))
        if len(text) > 200:
            raise ValueError(Msg("longer than 200 characters"))
        return text


F = FieldRule
FIELDS: dict[str, FieldRule] = {f.name: f for f in (
    F("volume_ml", "number", "mL", 0.1, 5000), F("tnc_e9", "number", "x10^9", 0.0, 10000),
    F("cd3_e9", "number", "x10^9", 0.0, 10000), F("bags", "integer", "", 1, 26), F("product_code"),
    F("courier"), F("logger_id"), F("condition", "choice", choices=("intact", "damaged")), F("deviation"),
    F("batch_record"), F("activation", "date"), F("vector_lot"), F("transduction", "date"),
    F("expansion_days", "number", "d", 0, 60),
    F("processing_method", "choice", choices=("volume-reduction", "plasma-depletion", "red-cell-depletion")),
    F("storage_location"), F("freezer_run"), F("cells_e6", "number", "x10^6", 0.0, 1_000_000), F("bag"),
    F("thaw_minutes", "number", "min", 0, 60),
    F("wristband_code"), F("wristband_dob", "date"), F("wristband_mrn"), F("exception"),
    F("sterility", "choice", choices=("negative", "positive")),
    F("mycoplasma", "choice", choices=("negative", "positive")),
    F("endotoxin", "number", "EU/mL", 0), F("viability", "number", "%", 0, 100),
    F("cd3_percent", "number", "%", 0, 100),
    F("car_percent", "number", "%", 0, 100), F("potency", "number", "", 0), F("cd34_e6", "number", "x10^6", 0),
    F("reaction", "choice", choices=("none", "mild", "severe")),
)}


@dataclass(frozen=True, slots=True)
class StepRule:
    """What one step records (`required`, `optional`) and the meaning of each signature it needs, in order."""

    name: str
    required: tuple[str, ...]
    optional: tuple[str, ...]
    meanings: tuple[str, ...]


def rule_of(step: str, product: Product) -> StepRule:
    """The rule of `step` for `product` (collection, manufacturing and QC depend on the product)."""
    rules = _RULES.get(id(product))
    if rules is None or rules[0] is not product:
        rules = _RULES[id(product)] = (product, _rules(product))
    return rules[1][step]


_RULES: dict[int, tuple[Product, dict[str, StepRule]]] = {}  # a step is checked thrice: build each table once


def _rules(product: Product) -> dict[str, StepRule]:
    receipt, shipment = (("condition",), ("deviation",)), (("courier", "logger_id"), ())
    storage = ("bags", "product_code", "storage_location", "freezer_run", "volume_ml")
    rules = [
        StepRule("collection", product.collection_fields, (), ("performed",)),
        StepRule("packaging", ("bags", "product_code"), (), ("performed",)),
        StepRule("shipment-to-manufacturing", *shipment, ("handed over",)),
        StepRule("receipt-at-manufacturing", *receipt, ("received",)),
        StepRule("manufacturing", product.manufacturing_fields, (), ("performed",)),
        StepRule("qc-release", tuple(spec.test for spec in product.qc), ("exception",), ("released",)),
        StepRule("cryopreservation", storage + (("cells_e6",) if product.bag_quantity == "cells_e6" else ()), (),
                 ("performed",)),
        StepRule("shipment-to-centre", *shipment, ("handed over",)),
        StepRule("receipt-at-centre", *receipt, ("received",)),
        StepRule("thaw", ("bag", "thaw_minutes"), (), ("performed",)),
        StepRule("bedside-verification", ("bag", "wristband_code"), ("wristband_dob", "wristband_mrn"),
                 ("verified", "second verification")),
        StepRule("infusion", ("bag", "volume_ml"), ("reaction",), ("administered",)),
    ]
    return {rule.name: rule for rule in rules}


class StepRefused(ValidationFailed):
    """A step that breaks the chain; `reason` is the code ledgered with the refusal."""

    def __init__(self, message: Msg, reason: str, status: int = 422) -> None:
        super().__init__(message)
        self.reason = reason
        self.status = status


def next_step(done: Sequence[str]) -> str | None:
    """The one step that may be recorded now (None once the chain is closed by the infusion)."""
    return STEPS[len(done)] if len(done) < len(STEPS) else None


def check_order(step: str, done: Sequence[str]) -> None:
    """Refuse an unknown step, a step out of order or any step after the infusion."""
    if step not in STEPS:
        raise StepRefused(Msg("unknown step {step}; steps in order: {steps}", step=step,
                                              steps=", ".join(STEPS)), "unknown_step")
    expected = next_step(done)
    if expected is None:
        raise StepRefused(Msg("the chain is closed: the infusion is recorded, no step follows it"), "chain_closed",
                          status=Conflict.status)
    if step != expected:
        if step in done:
            raise StepRefused(Msg("step {step} is already recorded; the next step is {expected}",
                                                  step=step, expected=expected), "already_done", status=Conflict.status)
        raise StepRefused(Msg("step {step} is out of order: the next step is {expected}",
                                              step=step, expected=expected), "out_of_order", status=Conflict.status)


def check_values(step: str, product: Product, values: Mapping[str, Any]) -> dict[str, Any]:
    """The step's values parsed, or one refusal naming every missing, unknown or malformed field."""
    rule = rule_of(step, product)
    given = {k.strip(): v for k, v in values.items() if v is not None and str(v).strip() != ""}
    missing = [name for name in rule.required if name not in given]
    if missing:
        raise StepRefused(Msg("step {step} needs {fields}", step=step, fields=", ".join(missing)), "missing_fields")
    allowed = set(rule.required) | set(rule.optional)
    unknown = sorted(set(given) - allowed)
    if unknown:
        raise StepRefused(Msg("step {step} does not record {fields}; it records {allowed}",
                                                step=step, fields=", ".join(unknown),
                                                allowed=", ".join(rule.required + rule.optional)), "unknown_fields")
    parsed: dict[str, Any] = {}
    for name, raw in given.items():
        try:
            parsed[name] = FIELDS[name].parse(raw)
        except ValueError as exc:
            raise StepRefused(Msg("step {step}: {field} = {value!r} is not valid ({reason})", step=step,
                                               field=name, value=str(raw), reason=exc.args[0]),
                              "bad_value") from None
    if step == "bedside-verification" and not ({"wristband_dob", "wristband_mrn"} & set(parsed)):
        raise StepRefused(Msg("step {step} needs {fields}", step=step,
                                                fields="wristband_dob or wristband_mrn"), "missing_fields")
    return parsed


def qc_failures(product: Product, results: Mapping[str, Any]) -> list[str]:
    """The release tests out of specification, each as 'test = value (spec)'."""
    failed = []
    for spec in product.qc:
        value = results[spec.test]
        if not spec.passes(value):
            failed.append(f"{spec.test} = {value} ({spec.describe()})")
    return failed


def check_release(product: Product, results: Mapping[str, Any]) -> list[str]:
    """QC release: every test within specification, or a documented exception; returns the failures."""
    failed = qc_failures(product, results)
    if failed and not str(results.get("exception") or "").strip():
        raise StepRefused(Msg("QC out of specification: {failed}; release needs all tests to pass or a documented "
                              "exception (field exception) signed by the releaser", failed="; ".join(failed)),
                          "qc_out_of_specification")
    return failed


def check_signers(step: str, product: Product, signers: Sequence[str]) -> tuple[str, ...]:
    """As many distinct signers as the step has meanings (two people at the bedside); returns the meanings."""
    meanings = rule_of(step, product).meanings
    if len(signers) < len(meanings):
        raise StepRefused(Msg("step {step} needs {n} signatures (meanings: {meanings})", step=step,
                                                   n=len(meanings), meanings=", ".join(meanings)), "signature_missing")
    if len(set(signers)) != len(signers):
        raise StepRefused(Msg("step {step} needs {n} different people to sign", step=step,
                                             n=len(meanings)), "same_signer")
    return meanings


def check_step(step: str, product: Product, done: Sequence[str], values: Mapping[str, Any],
               signers: Sequence[str]) -> dict[str, Any]:
    """Every rule of the chain that needs no stored data: order, values, QC specification, signers."""
    check_order(step, done)
    parsed = check_values(step, product, values)
    if step == "qc-release":
        check_release(product, parsed)
    check_signers(step, product, signers)
    return parsed
