"""Therapy orders: one per patient and product, each with its chain-of-identity identifier (COI).

The COI is an ISBT 128 DIN assigned by the facility (its FIN, the year, the order's sequence): every bag
derived from the starting material carries it, with a product code and division telling the bags apart.
An order is refused for a participant without consent in force - checked through the biobank's published
service - and the refusal is ledgered.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lifebank.audit import service as ledger
from lifebank.celltherapy import identity
from lifebank.celltherapy._common import facility_fin, ledger_refusal, order_row, settings_or_default
from lifebank.celltherapy.chain import STEPS
from lifebank.celltherapy.isbt128 import make_din
from lifebank.celltherapy.models import Order
from lifebank.celltherapy.products import product as product_of
from lifebank.config import Settings
from lifebank.db.engine import Database
from lifebank.errors import ValidationFailed


class NoConsent(ValidationFailed):
    """The participant's consent is withdrawn (or was never given)."""

    @property
    def participant(self) -> str:
        return str(self.message.params["participant"])


def require_consent(session: Session, participant: str) -> None:
    """Inside a step's transaction (under the writers' lock, so a withdrawal cannot slip in between the check
    and the write): the participant has a consent in force (biobank `participant_row`, `has_consent_in_force`).
    The refusal is ledgered by the caller after the rollback (`consent_refusal` names the consent status)."""
    from lifebank.biobank import service as biobank

    person = biobank.participant_row(session, participant)
    if not biobank.has_consent_in_force(session, person.id):
        raise NoConsent("participant {participant} has no consent in force (withdrawn or never given): no cells are "
                        "collected, made or given under this order", participant=participant)


def consent_refusal(db: Database, participant: str) -> dict[str, Any]:
    """What a consent refusal's ledger event records beside the reason: the participant and consent status."""
    from lifebank.biobank import service as biobank

    return {"participant": participant, "consent_status": biobank.participant_view(db, participant)["consent_status"]}


def check_consent(db: Database, participant: str, *, actor: str, entity_id: str, action: str) -> None:
    """The participant exists and has a consent in force (biobank service); a refusal is ledgered."""
    from lifebank.biobank import service as biobank

    view = biobank.participant_view(db, participant)  # NotFound names an unknown participant
    if view["consent_status"] != "in_force":
        error = NoConsent("participant {participant} has no consent in force (withdrawn or never given): no cells "
                          "are collected, made or given under this order", participant=participant)
        ledger_refusal(db, actor=actor, action=action, entity_id=entity_id, error=error,
                       extra={"participant": participant, "consent_status": view["consent_status"]})
        raise error


def _check_cord_unit(db: Database, cord_unit: str | None, product: str) -> str | None:
    """An allogeneic cord-blood order names a cord unit of the HLA registry (its published service)."""
    if product != "hpc-cord":
        if cord_unit:
            raise ValidationFailed("only a cord-blood order names a cord unit")
        return None
    if not cord_unit:
        raise ValidationFailed("a cord-blood order needs the cord unit (--cord-unit, a registry donor id)")
    from lifebank.hla import service as hla

    donor = hla.get_donor(db, cord_unit.strip())
    if donor["donor_type"] != "cord":
        raise ValidationFailed("donor {donor} is not a cord-blood unit", donor=cord_unit)
    return str(donor["donor_id"])


def create_order(db: Database, *, participant: str, product: str, centre: str, identity_kind: str,
                 identity_value: str, actor: str, cord_unit: str | None = None,
                 settings: Settings | None = None) -> dict[str, Any]:
    """Create an order and assign its COI; the second identifier is stored encrypted, never ledgered."""
    chosen = product_of(product)
    participant = participant.strip()
    centre = centre.strip()
    if not centre or len(centre) > 200:
        raise ValidationFailed("the treating centre needs a name of 1 to 200 characters")
    normalised = identity.normalise(identity_kind, identity_value)
    unit = _check_cord_unit(db, cord_unit, chosen.code)
    check_consent(db, participant, actor=actor, entity_id=participant, action="celltherapy.order.refused")
    key = identity.identity_key(settings_or_default(settings).effective_secret_key())
    with db.transaction() as session:
        order = Order(coi=f"pending-{uuid.uuid4().hex[:24]}", participant=participant, product=chosen.code,
                      centre=centre, cord_unit=unit, identity_kind=identity_kind, identity="", steps_done=0,
                      created_by=actor)
        session.add(order)
        session.flush()
        order.coi = make_din(facility_fin(), datetime.now(UTC).year, order.id % 1_000_000).text
        order.identity = identity.seal(key, order.coi, identity_kind, normalised)
        ledger.record(session, actor=actor, action="celltherapy.order.create", entity_type="therapy_order",
                      entity_id=order.coi, change={"participant": participant, "product": chosen.code,
                                                   "centre": centre, "cord_unit": unit,
                                                   "identity_kind": identity_kind})
        return summary(order)


def summary(order: Order) -> dict[str, Any]:
    done = order.steps_done
    return {"id": order.id, "coi": order.coi, "participant": order.participant, "product": order.product,
            "centre": order.centre, "cord_unit": order.cord_unit, "identity_kind": order.identity_kind,
            "steps_done": done, "next_step": STEPS[done] if done < len(STEPS) else None,
            "apheresis_date": order.apheresis_date.isoformat() if order.apheresis_date else None,
            "created_at": order.created_at.isoformat(), "created_by": order.created_by}


def get_order(db: Database, ref: str | int) -> dict[str, Any]:
    with db.session() as session:
        return summary(order_row(session, ref))


def list_orders(db: Database, *, limit: int = 100, offset: int = 0, open_only: bool = False) -> dict[str, Any]:
    with db.session() as session:
        query = select(Order)
        if open_only:
            query = query.where(Order.steps_done < len(STEPS))
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = session.scalars(query.order_by(Order.id.desc()).limit(limit).offset(offset))
        return {"total": total, "items": [summary(o) for o in rows]}


def stored_identity(order: Order, settings: Settings | None = None) -> str:
    """The decrypted second identifier, for the bedside comparison only."""
    key = identity.identity_key(settings_or_default(settings).effective_secret_key())
    return identity.unseal(key, order.coi, order.identity_kind, order.identity)
