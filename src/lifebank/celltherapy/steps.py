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
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import CTE, Connection, DateTime, Row, String, Update, bindparam, func, insert, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lifebank.audit import service as ledger
from lifebank.celltherapy import banking, chain, isbt128
from lifebank.celltherapy._common import ledger_refusal, order_row
from lifebank.celltherapy.chain import RECEIPTS, STEPS, StepRefused
from lifebank.celltherapy.identity import normalise
from lifebank.celltherapy.models import Container, Order, ProductCodeEntry, Signature, Step, Trace
from lifebank.celltherapy.orders import NoConsent, consent_refusal, require_consent, stored_identity
from lifebank.celltherapy.products import PRODUCTS, Product
from lifebank.celltherapy.signatures import SignedBy
from lifebank.config import Settings
from lifebank.db.base import utcnow
from lifebank.db.engine import Database
from lifebank.errors import Conflict, LifeBankError, NotFound, ValidationFailed
from lifebank.messages import Msg

CONSENT_STEPS = ("collection", "bedside-verification")  # consent is re-read before cells are taken or given
SECRET_FIELDS = ("wristband_dob", "wristband_mrn")  # compared, never stored or ledgered
_ORDER, _STEP, _SIGNATURE = Order.__table__, Step.__table__, Signature.__table__
_CONTAINER, _TRACE, _CODE = Container.__table__, Trace.__table__, ProductCodeEntry.__table__


def record_step(db: Database, ref: str | int, step: str, values: Mapping[str, Any], signers: Sequence[SignedBy],
                *, actor: str, settings: Settings | None = None) -> dict[str, Any]:
    """Record `step` of order `ref` with its values and signatures, or refuse it (ledgered) with the reason."""
    try:
        return _record(db, ref, step, values, signers, actor=actor, settings=settings)
    except LifeBankError as exc:
        coi = _coi_of(db, ref)
        if coi is not None:
            extra = {"step": step, **(consent_refusal(db, exc.participant) if isinstance(exc, NoConsent) else {})}
            ledger_refusal(db, actor=actor, action="celltherapy.step.refused", entity_id=coi, error=exc, extra=extra)
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
    """The step in one transaction. The rows are written with Core statements on the transaction's connection
    (no ORM unit of work to flush); the ledger event is the last write, so the step and its proof commit or
    fail together, and a refusal (any exception) rolls back everything, the claimed step number included.

    PostgreSQL, where each statement is a round trip: the claim also moves the ledger's head (unless the step's
    checks record ledger events of their own), and the step's row, its signatures and its ledger event are one
    statement - BEGIN and the writers' lock, the claim, the write, COMMIT for a plain step."""
    try:
        with db.transaction() as session:
            conn = session.connection()
            postgresql = conn.dialect.name == "postgresql"
            order, head = _claim(conn, ref, move_head=postgresql and step not in _LEDGERING_CHECKS)
            product = PRODUCTS[order.product]
            seq = order.steps_done
            if step == "infusion" and seq == len(STEPS):
                _refuse_second_infusion(conn, order, values)
            parsed = chain.check_step(step, product, STEPS[:seq], values, [s.username for s in signers])
            if step in CONSENT_STEPS:
                require_consent(session, order.participant)
            meanings = chain.rule_of(step, product).meanings
            stored = dict(parsed)
            check = _CHECKS.get(step)
            if check is not None:
                stored.update(check(session, order, product, parsed, settings, actor) or {})
            for secret in SECRET_FIELDS:
                if secret in stored:
                    stored[secret] = "matched"
            signed = [{"signer": s.username, "meaning": m, "signed_at": s.signed_at.isoformat()}
                      for s, m in zip(signers, meanings, strict=False)]
            row = {"order_id": order.id, "seq": seq, "step": step, "recorded_by": actor,
                   "values_json": json.dumps(stored, sort_keys=True), "recorded_at": utcnow()}
            signatures = [(s.username, m, s.signed_at) for s, m in zip(signers, meanings, strict=False)]
            event = {"step": step, "seq": seq, "values": stored, "signatures": signed}
            if postgresql:
                ledger.record(session, actor=actor, action="celltherapy.step", entity_type="therapy_order",
                              entity_id=order.coi, change=event, head=head, statement=_STEP_AND_EVENT_PG,
                              params={**{f"s_{k}": v for k, v in row.items()},
                                      "signers": [s for s, _, _ in signatures],
                                      "meanings": [m for _, m, _ in signatures],
                                      "signed_at": [at for _, _, at in signatures]})
            else:
                _write_step(conn, row, signatures)
                ledger.record(session, actor=actor, action="celltherapy.step", entity_type="therapy_order",
                              entity_id=order.coi, change=event)
            return {"order": order.coi, "step": step, "seq": seq, "values": stored, "signatures": signed,
                    "next_step": chain.next_step(STEPS[:seq + 1])}
    except IntegrityError:
        raise StepRefused(Msg("step {step} of order {order} was just recorded by someone else", step=step,
                              order=str(ref)), "concurrent", status=Conflict.status) from None


_LEDGERING_CHECKS = ("cryopreservation", "shipment-to-centre")  # their checks record biobank ledger events
_STEP_FIELDS = ("order_id", "seq", "step", "recorded_by", "values_json", "recorded_at")


def _step_ctes() -> tuple[CTE, CTE]:
    """PostgreSQL: the step inserted in a data-modifying CTE and its signatures selected from it (arrays unnested
    side by side), whatever the number of signers. Parameters s_<column> (not the column's own name: the
    statement they join updates the ledger head, whose `seq` would clash), signers, meanings, signed_at."""
    new_step = insert(_STEP).values({name: bindparam(f"s_{name}", type_=_STEP.c[name].type) for name in _STEP_FIELDS}) \
        .returning(_STEP.c.id).cte("new_step")
    signers = func.unnest(bindparam("signers", type_=ARRAY(String)))
    return new_step, insert(_SIGNATURE).from_select(
        ["step_id", "signer", "display_name", "meaning", "signed_at"],
        select(new_step.c.id, signers, signers, func.unnest(bindparam("meanings", type_=ARRAY(String))),
               func.unnest(bindparam("signed_at", type_=ARRAY(DateTime(timezone=True)))))).cte("new_signatures")


_STEP_AND_EVENT_PG = ledger.append_with(*_step_ctes())  # the step, its signatures and its ledger event: built once


def _write_step(conn: Connection, row: dict[str, Any], signatures: list[tuple[str, str, datetime]]) -> None:
    """SQLite: the step's row, then its signatures (no data-modifying CTE)."""
    step_id = conn.execute(insert(_STEP).returning(_STEP.c.id), row).scalar_one()
    if signatures:
        conn.execute(insert(_SIGNATURE), [{"step_id": step_id, "signer": signer, "display_name": signer,
                                          "meaning": meaning, "signed_at": at} for signer, meaning, at in signatures])


def _claims(moved: CTE | None) -> tuple[Update, Update]:
    """The order claimed by id and by COI; with `moved`, the ledger head moved by the same statement."""
    extra = () if moved is None else (select(moved.c.seq).scalar_subquery().label("ledger_seq"),
                                      select(moved.c.hash).scalar_subquery().label("ledger_hash"))
    by_id, by_coi = (update(_ORDER).where(key == bindparam("ref")).values(steps_done=_ORDER.c.steps_done + 1)
                     .returning(*_ORDER.c, *extra) for key in (_ORDER.c.id, _ORDER.c.coi))
    return by_id, by_coi


_CLAIMS = _claims(None)  # built once
_CLAIMS_MOVING_HEAD = _claims(ledger.moved_head())


def _claim(conn: Connection, ref: str | int, *,
           move_head: bool = False) -> tuple[SimpleNamespace, tuple[int, str] | None]:
    """Lock the order's row and move its step counter on, in one statement (UPDATE … RETURNING: one round trip
    instead of SELECT … FOR UPDATE and UPDATE). The order as it was before: `steps_done` is the step's seq.
    With `move_head` (PostgreSQL), the same statement moves the ledger's head on: returned as (seq, previous
    hash) for `ledger.record(head=...)`, else None.

    A second writer of the same step waits on the row lock (and on the writers' turn, `Database.transaction`),
    then reads the moved counter and is told the step is already recorded; (order, seq) is unique besides."""
    by_id, by_coi = _CLAIMS_MOVING_HEAD if move_head else _CLAIMS
    text = str(ref).strip().upper().replace(" ", "")
    row = (conn.execute(by_id, {"ref": int(text)}) if text.isdigit() and len(text) < 13
           else conn.execute(by_coi, {"ref": text[:13]})).one_or_none()
    if row is None:
        raise NotFound("therapy order {order} does not exist", order=str(ref))
    fields = dict(row._mapping)
    head = (fields.pop("ledger_seq"), fields.pop("ledger_hash")) if move_head else None
    return SimpleNamespace(**dict(fields, steps_done=row.steps_done - 1)), head


# --- what a step checks against stored data ---------------------------------------------------------------

def _code_entry(session: Session, code: str, product: Product) -> Row[Any]:
    entry = session.connection().execute(select(_CODE).where(_CODE.c.code == code.upper())).one_or_none()
    if entry is None:
        raise StepRefused(Msg("product code {code} is not in the product-code table (load the facility's table "
                              "with `lifebank celltherapy product-codes load`)", code=code), "unknown_product_code")
    if entry.product != product.code:
        raise StepRefused(Msg("product code {code} is for {other}, not {product}", code=code, other=entry.product,
                              product=product.code), "wrong_product_code")
    return entry


def _make_bags(session: Session, order: SimpleNamespace, entry: Row[Any], bags: int, kind: str, status: str,
               positions: Sequence[str | None] = ()) -> list[tuple[str, str]]:
    """The order's new bags (each division of the product code), as (bag text, product code with division)."""
    now = utcnow()
    codes = [isbt128.ProductCode(entry.code, "0", d).text for d in (["00"] if bags == 1 else isbt128.divisions(bags))]
    session.connection().execute(insert(_CONTAINER), [
        {"order_id": order.id, "din": order.coi, "product_code": code, "kind": kind, "status": status,
         "location": location, "created_at": now, "expires_at": now + timedelta(hours=entry.shelf_life_hours),
         "thawed_at": None, "infused_at": None}
        for code, location in zip(codes, list(positions) or [None] * len(codes), strict=True)])
    return [(isbt128.bag_text(order.coi, code), code) for code in codes]


def _packaging(session: Session, order: SimpleNamespace, product: Product, values: dict[str, Any],
               settings: Settings | None, actor: str) -> dict[str, Any]:
    entry = _code_entry(session, values["product_code"], product)
    return {"bags_made": [text for text, _ in _make_bags(session, order, entry, values["bags"], "starting", "packed")]}


def _cryopreservation(session: Session, order: SimpleNamespace, product: Product, values: dict[str, Any],
                      settings: Settings | None, actor: str) -> dict[str, Any]:
    """The product bags, each at its LN2 position and registered there as a biobank specimen (`banking`)."""
    entry = _code_entry(session, values["product_code"], product)
    positions = banking.bag_positions(session, values["storage_location"], values["bags"])
    session.connection().execute(update(_CONTAINER).where(_CONTAINER.c.order_id == order.id,
                                                          _CONTAINER.c.kind == "starting").values(status="consumed"))
    bags = _make_bags(session, order, entry, values["bags"], "product", "stored", positions)
    specimens = banking.bank_bags(session, order, product, bags, positions, values, actor=actor)
    return {"bags_made": [text for text, _ in bags], "positions": positions, "specimens": specimens}


def _shipment_to_centre(session: Session, order: SimpleNamespace, product: Product, values: dict[str, Any],
                        settings: Settings | None, actor: str) -> dict[str, Any]:
    """The product bags leave the bank's LN2 tank: their specimens are distributed in this step's transaction."""
    shipped = banking.ship_bags(session, order, actor=actor)
    return {"specimens_shipped": shipped} if shipped else {}


def _receipt(session: Session, order: SimpleNamespace, product: Product, values: dict[str, Any],
             settings: Settings | None, actor: str) -> dict[str, Any]:
    leg = RECEIPTS[STEPS[order.steps_done]]
    trace = session.connection().execute(select(_TRACE.c.excursions_json, _TRACE.c.low_c, _TRACE.c.high_c)
                                         .where(_TRACE.c.order_id == order.id, _TRACE.c.leg == leg)).one_or_none()
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


def _bag(session: Session, order: SimpleNamespace, scanned: str, expected: str) -> Row[Any]:
    """The container a scan names, if it is this order's and in the status the step expects; else refused."""
    try:
        din, code = isbt128.parse_bag(scanned)
    except ValidationFailed as exc:
        raise StepRefused(exc.message, "bad_scan") from None
    if din.text != order.coi:
        raise StepRefused(Msg("WRONG BAG: bag {bag} carries COI {found}, not this order's COI {coi}; do not use it",
                              bag=scanned, found=din.text, coi=order.coi), "wrong_bag")
    bag = _bag_row(session.connection(), din.text, code.text)
    if bag is None or bag.kind != "product":
        raise StepRefused(Msg("WRONG BAG: bag {bag} is not a product bag of order {coi}", bag=scanned,
                              coi=order.coi), "wrong_bag")
    if bag.status != expected:
        raise StepRefused(Msg("bag {bag} is {status}, not {expected}", bag=scanned, status=bag.status,
                              expected=expected), "wrong_bag_status")
    return bag


def _thaw(session: Session, order: SimpleNamespace, product: Product, values: dict[str, Any],
          settings: Settings | None, actor: str) -> dict[str, Any]:
    bag = _bag(session, order, values["bag"], "stored")
    now = utcnow()
    if bag.expires_at and bag.expires_at < now:
        raise StepRefused(Msg("bag {bag} expired at {when}", bag=values["bag"], when=bag.expires_at.isoformat()),
                          "expired")
    use_before = now + timedelta(hours=product.post_thaw_hours)
    session.connection().execute(update(_CONTAINER).where(_CONTAINER.c.id == bag.id)
                                 .values(status="thawed", thawed_at=now, expires_at=use_before))
    return {"use_before": use_before.isoformat()}


def _bedside(session: Session, order: SimpleNamespace, product: Product, values: dict[str, Any],
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


def _infusion(session: Session, order: SimpleNamespace, product: Product, values: dict[str, Any],
              settings: Settings | None, actor: str) -> dict[str, Any]:
    verified = session.connection().execute(select(_STEP.c.values_json).where(
        _STEP.c.order_id == order.id, _STEP.c.step == "bedside-verification")).scalar_one_or_none()
    bag = _bag(session, order, values["bag"], "thawed")
    if bag.expires_at and bag.expires_at < utcnow():
        raise StepRefused(Msg("bag {bag} is past its post-thaw limit ({when})", bag=values["bag"],
                              when=bag.expires_at.isoformat()), "expired")
    text = isbt128.bag_text(bag.din, bag.product_code)
    if verified is None or json.loads(verified).get("bag") != text:
        raise StepRefused(Msg("bag {bag} is not the bag verified at the bedside", bag=values["bag"]), "wrong_bag")
    session.connection().execute(update(_CONTAINER).where(_CONTAINER.c.id == bag.id)
                                 .values(status="infused", infused_at=utcnow()))
    return {"bag": text}


def _bag_row(conn: Connection, din: str, product_code: str) -> Row[Any] | None:
    return conn.execute(select(_CONTAINER).where(_CONTAINER.c.din == din,
                                                 _CONTAINER.c.product_code == product_code)).one_or_none()


def _refuse_second_infusion(conn: Connection, order: SimpleNamespace, values: Mapping[str, Any]) -> None:
    try:
        din, code = isbt128.parse_bag(str(values.get("bag") or ""))
    except ValidationFailed:
        return
    bag = _bag_row(conn, din.text, code.text)
    if bag is not None and bag.status == "infused" and bag.infused_at is not None:
        raise StepRefused(Msg("bag {bag} was already infused at {when}; a bag is infused once",
                              bag=str(values["bag"]), when=bag.infused_at.isoformat()), "already_infused",
                          status=Conflict.status)


_CHECKS = {"packaging": _packaging, "cryopreservation": _cryopreservation, "shipment-to-centre": _shipment_to_centre,
           "receipt-at-manufacturing": _receipt,
           "receipt-at-centre": _receipt, "thaw": _thaw, "bedside-verification": _bedside, "infusion": _infusion}
