"""Recording a chain-of-custody step: the pure rules (`chain.check_step`), then what needs stored data -
the bag scanned is this order's, the logger trace has no unacknowledged excursion, the wristband matches -
then the step, its signatures and its ledger event in one transaction.

Two people recording the same step at once: the order row is locked (SQLite's BEGIN IMMEDIATE, PostgreSQL's
SELECT … FOR UPDATE), the step count moves only from the value read, and (order, seq) is unique, so exactly
one of them wins and the other is told the step is already recorded. Every refusal is ledgered with its
reason; the refused attempt writes nothing else.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lifebank.audit import service as ledger
from lifebank.celltherapy import banking, chain, isbt128
from lifebank.celltherapy._common import ledger_refusal, order_row
from lifebank.celltherapy.chain import RECEIPTS, STEPS, StepRefused
from lifebank.celltherapy.identity import normalise
from lifebank.celltherapy.models import Container, Order, ProductCodeEntry, Signature, Step, Trace
from lifebank.celltherapy.orders import NoConsent, check_consent, stored_identity
from lifebank.celltherapy.products import PRODUCTS, Product
from lifebank.celltherapy.signatures import SignedBy
from lifebank.config import Settings
from lifebank.db.base import utcnow
from lifebank.db.engine import Database
from lifebank.errors import Conflict, LifeBankError, NotFound, ValidationFailed
from lifebank.messages import Msg

CONSENT_STEPS = ("collection", "bedside-verification")  # consent is re-read before cells are taken or given
SECRET_FIELDS = ("wristband_dob", "wristband_mrn")  # compared, never stored or ledgered


def record_step(db: Database, ref: str | int, step: str, values: Mapping[str, Any], signers: Sequence[SignedBy],
                *, actor: str, settings: Settings | None = None) -> dict[str, Any]:
    """Record `step` of order `ref` with its values and signatures, or refuse it (ledgered) with the reason."""
    try:
        if step in CONSENT_STEPS:
            with db.session() as session:
                order = order_row(session, ref)
                coi, participant = order.coi, order.participant
            check_consent(db, participant, actor=actor, entity_id=coi, action="celltherapy.step.refused")
        return _record(db, ref, step, values, signers, actor=actor, settings=settings)
    except LifeBankError as exc:
        coi = _coi_of(db, ref)
        if coi is not None and not isinstance(exc, NoConsent):  # check_consent ledgered its own refusal
            ledger_refusal(db, actor=actor, action="celltherapy.step.refused", entity_id=coi, error=exc,
                           extra={"step": step})
        raise


def _coi_of(db: Database, ref: str | int) -> str | None:
    """The COI of an order reference, read only when a refusal is ledgered (None: no such order)."""
    try:
        with db.session() as session:
            return order_row(session, ref).coi
    except NotFound:
        return None


def _record(db: Database, ref: str | int, step: str, values: Mapping[str, Any], signers: Sequence[SignedBy],
            *, actor: str, settings: Settings | None) -> dict[str, Any]:
    try:
        with db.transaction() as session:
            order = order_row(session, ref, lock=True)
            product = PRODUCTS[order.product]
            seq = order.steps_done
            if step == "infusion" and seq == len(STEPS):
                _refuse_second_infusion(session, order, values)
            parsed = chain.check_step(step, product, STEPS[:seq], values, [s.username for s in signers])
            meanings = chain.rule_of(step, product).meanings
            stored = dict(parsed)
            check = _CHECKS.get(step)
            if check is not None:
                stored.update(check(session, order, product, parsed, settings, actor) or {})
            for secret in SECRET_FIELDS:
                if secret in stored:
                    stored[secret] = "matched"
            row = Step(order_id=order.id, seq=seq, step=step, values_json=json.dumps(stored, sort_keys=True),
                       recorded_by=actor)
            session.add(row)
            session.flush()
            signed = [{"signer": s.username, "meaning": m, "signed_at": s.signed_at.isoformat()}
                      for s, m in zip(signers, meanings, strict=False)]
            session.add_all(Signature(step_id=row.id, signer=s.username, display_name=s.username, meaning=m,
                                      signed_at=s.signed_at) for s, m in zip(signers, meanings, strict=False))
            moved = session.execute(update(Order).where(Order.id == order.id, Order.steps_done == seq)
                                    .values(steps_done=seq + 1))
            if moved.rowcount != 1:
                raise Conflict("step {step} of order {coi} was just recorded by someone else", step=step,
                               coi=order.coi)
            ledger.record(session, actor=actor, action="celltherapy.step", entity_type="therapy_order",
                          entity_id=order.coi, change={"step": step, "seq": seq, "values": stored,
                                                       "signatures": signed})
            return {"order": order.coi, "step": step, "seq": seq, "values": stored, "signatures": signed,
                    "next_step": chain.next_step(STEPS[:seq + 1])}
    except IntegrityError:
        raise StepRefused(Msg("step {step} of order {order} was just recorded by someone else", step=step,
                              order=str(ref)), "concurrent", status=Conflict.status) from None


# --- what a step checks against stored data ---------------------------------------------------------------

def _code_entry(session: Session, code: str, product: Product) -> ProductCodeEntry:
    entry = session.get(ProductCodeEntry, code.upper())
    if entry is None:
        raise StepRefused(Msg("product code {code} is not in the product-code table (load the facility's table "
                              "with `lifebank celltherapy product-codes load`)", code=code), "unknown_product_code")
    if entry.product != product.code:
        raise StepRefused(Msg("product code {code} is for {other}, not {product}", code=code, other=entry.product,
                              product=product.code), "wrong_product_code")
    return entry


def _make_bags(session: Session, order: Order, entry: ProductCodeEntry, bags: int, kind: str, status: str,
               positions: Sequence[str | None] = ()) -> list[tuple[str, str]]:
    """The order's new bags (each division of the product code), as (bag text, product code with division)."""
    now = utcnow()
    made = []
    codes = [isbt128.ProductCode(entry.code, "0", d).text for d in (["00"] if bags == 1 else isbt128.divisions(bags))]
    for code, location in zip(codes, list(positions) or [None] * len(codes), strict=True):
        session.add(Container(order_id=order.id, din=order.coi, product_code=code, kind=kind, status=status,
                              location=location, created_at=now,
                              expires_at=now + timedelta(hours=entry.shelf_life_hours)))
        made.append((isbt128.bag_text(order.coi, code), code))
    return made


def _packaging(session: Session, order: Order, product: Product, values: dict[str, Any],
               settings: Settings | None, actor: str) -> dict[str, Any]:
    entry = _code_entry(session, values["product_code"], product)
    return {"bags_made": [text for text, _ in _make_bags(session, order, entry, values["bags"], "starting", "packed")]}


def _cryopreservation(session: Session, order: Order, product: Product, values: dict[str, Any],
                      settings: Settings | None, actor: str) -> dict[str, Any]:
    """The product bags, each at its LN2 position and registered there as a biobank specimen (`banking`)."""
    entry = _code_entry(session, values["product_code"], product)
    positions = banking.bag_positions(session, values["storage_location"], values["bags"])
    session.execute(update(Container).where(Container.order_id == order.id, Container.kind == "starting")
                    .values(status="consumed"))
    bags = _make_bags(session, order, entry, values["bags"], "product", "stored", positions)
    specimens = banking.bank_bags(session, order, product, bags, positions, values, actor=actor)
    return {"bags_made": [text for text, _ in bags], "positions": positions, "specimens": specimens}


def _receipt(session: Session, order: Order, product: Product, values: dict[str, Any],
             settings: Settings | None, actor: str) -> dict[str, Any]:
    leg = RECEIPTS[STEPS[order.steps_done]]
    trace = session.scalar(select(Trace).where(Trace.order_id == order.id, Trace.leg == leg))
    if trace is None:
        raise StepRefused(Msg("no logger trace is imported for the shipment {leg}: import it before the receipt",
                              leg=leg), "no_trace")
    found = json.loads(trace.excursions_json)
    if found and not values.get("deviation"):
        worst = max(found, key=lambda e: e["minutes"])
        raise StepRefused(Msg("the shipment had {n} temperature excursion(s) outside {low}…{high} °C (longest "
                              "{minutes} min, extreme {extreme} °C): receipt needs a signed deviation (field "
                              "deviation)", n=len(found), low=f"{trace.low_c:g}", high=f"{trace.high_c:g}",
                              minutes=worst["minutes"], extreme=worst["extreme_c"]), "excursion")
    if values["condition"] == "damaged" and not values.get("deviation"):
        raise StepRefused(Msg("a damaged shipment is received only with a signed deviation (field deviation)"),
                          "damaged")
    return {"excursions_acknowledged": len(found)} if found else {}


def _bag(session: Session, order: Order, scanned: str, expected: str) -> Container:
    """The container a scan names, if it is this order's and in the status the step expects; else refused."""
    try:
        din, code = isbt128.parse_bag(scanned)
    except ValidationFailed as exc:
        raise StepRefused(exc.message, "bad_scan") from None
    if din.text != order.coi:
        raise StepRefused(Msg("WRONG BAG: bag {bag} carries COI {found}, not this order's COI {coi}; do not use it",
                              bag=scanned, found=din.text, coi=order.coi), "wrong_bag")
    bag = session.scalar(select(Container).where(Container.din == din.text, Container.product_code == code.text))
    if bag is None or bag.kind != "product":
        raise StepRefused(Msg("WRONG BAG: bag {bag} is not a product bag of order {coi}", bag=scanned,
                              coi=order.coi), "wrong_bag")
    if bag.status != expected:
        raise StepRefused(Msg("bag {bag} is {status}, not {expected}", bag=scanned, status=bag.status,
                              expected=expected), "wrong_bag_status")
    return bag


def _thaw(session: Session, order: Order, product: Product, values: dict[str, Any],
          settings: Settings | None, actor: str) -> dict[str, Any]:
    bag = _bag(session, order, values["bag"], "stored")
    now = utcnow()
    if bag.expires_at and bag.expires_at < now:
        raise StepRefused(Msg("bag {bag} expired at {when}", bag=values["bag"], when=bag.expires_at.isoformat()),
                          "expired")
    bag.status, bag.thawed_at = "thawed", now
    bag.expires_at = now + timedelta(hours=product.post_thaw_hours)
    return {"use_before": bag.expires_at.isoformat()}


def _bedside(session: Session, order: Order, product: Product, values: dict[str, Any],
             settings: Settings | None, actor: str) -> dict[str, Any]:
    bag = _bag(session, order, values["bag"], "thawed")
    if bag.expires_at and bag.expires_at < utcnow():
        raise StepRefused(Msg("bag {bag} is past its post-thaw limit ({when})", bag=values["bag"],
                              when=bag.expires_at.isoformat()), "expired")
    if values["wristband_code"].strip().upper() != order.participant.upper():
        raise StepRefused(Msg("WRONG PATIENT: the wristband's code {code} is not this order's patient",
                              code=values["wristband_code"]), "wrong_patient")
    field = "wristband_dob" if order.identity_kind == "dob" else "wristband_mrn"
    if field not in values:
        raise StepRefused(Msg("this order identifies the patient by {kind}: scan or enter {field}",
                              kind=order.identity_kind, field=field), "missing_fields")
    try:
        scanned = normalise(order.identity_kind, str(values[field]))
    except ValidationFailed:
        scanned = None
    if scanned != stored_identity(order, settings):
        raise StepRefused(Msg("WRONG PATIENT: the wristband's {field} does not match this order's patient",
                              field=field), "wrong_patient")
    return {"bag": isbt128.bag_text(bag.din, bag.product_code)}


def _infusion(session: Session, order: Order, product: Product, values: dict[str, Any],
              settings: Settings | None, actor: str) -> dict[str, Any]:
    verified = session.scalar(select(Step.values_json).where(Step.order_id == order.id,
                                                            Step.step == "bedside-verification"))
    bag = _bag(session, order, values["bag"], "thawed")
    if bag.expires_at and bag.expires_at < utcnow():
        raise StepRefused(Msg("bag {bag} is past its post-thaw limit ({when})", bag=values["bag"],
                              when=bag.expires_at.isoformat()), "expired")
    text = isbt128.bag_text(bag.din, bag.product_code)
    if verified is None or json.loads(verified).get("bag") != text:
        raise StepRefused(Msg("bag {bag} is not the bag verified at the bedside", bag=values["bag"]), "wrong_bag")
    bag.status, bag.infused_at = "infused", utcnow()
    return {"bag": text}


def _refuse_second_infusion(session: Session, order: Order, values: Mapping[str, Any]) -> None:
    try:
        din, code = isbt128.parse_bag(str(values.get("bag") or ""))
    except ValidationFailed:
        return
    bag = session.scalar(select(Container).where(Container.din == din.text, Container.product_code == code.text))
    if bag is not None and bag.status == "infused" and bag.infused_at is not None:
        raise StepRefused(Msg("bag {bag} was already infused at {when}; a bag is infused once",
                              bag=str(values["bag"]), when=bag.infused_at.isoformat()), "already_infused",
                          status=Conflict.status)


_CHECKS = {"packaging": _packaging, "cryopreservation": _cryopreservation, "receipt-at-manufacturing": _receipt,
           "receipt-at-centre": _receipt, "thaw": _thaw, "bedside-verification": _bedside, "infusion": _infusion}
