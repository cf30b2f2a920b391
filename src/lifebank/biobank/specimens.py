"""Specimens through their life: register, split into aliquots or derivatives, move, reserve and release,
change status, add QC measurements, and record label prints.

Every change runs in one transaction with its specimen event and ledger event. Barcodes of the house scheme
(`SCHEME`) are issued here, and `specimen_participants` answers other domains. Placement in boxes lives in
`storage`, finding specimens in `search`, a specimen's lineage and story in `history`; `specimen_row` (the
lookup by barcode) sits in `_common`, below `storage`, which needs it too.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lifebank.audit import service as ledger
from lifebank.biobank._common import _chunks, _event, specimen_row
from lifebank.biobank.barcode import BarcodeScheme, is_acceptable_barcode
from lifebank.biobank.models import Participant, PoolMember, QcMeasurement, Reservation, Specimen, SpecimenEvent
from lifebank.biobank.participants import has_consent_in_force, participant_row
from lifebank.biobank.specimen_types import (
    FINAL_STATUSES,
    MAX_QUANTITY,
    SPECIMEN_TYPES,
    LineageError,
    SpecimenStatus,
    lineage_kind,
    normalise_unit,
    quantity_too_large,
    unit_error,
)
from lifebank.biobank.sprec import SprecError, parse_sprec
from lifebank.biobank.storage import location_label, resolve_location
from lifebank.db.base import utcnow
from lifebank.db.engine import Database
from lifebank.errors import Conflict, NotFound, ValidationFailed

# The house barcode scheme: prefix and digits are configurable per bank (LIFEBANK_BARCODE_PREFIX/_DIGITS).
SCHEME = BarcodeScheme(os.environ.get("LIFEBANK_BARCODE_PREFIX", "LB"), int(os.environ.get("LIFEBANK_BARCODE_DIGITS",
                                                                                          "9")))
QC_KINDS = {"DIN": "", "RIN": "", "concentration": "ng/µL", "viability": "%", "A260/280": "", "volume": "mL",
            "cell_count": "10^6 cells"}


def _next_barcodes(session: Session, count: int) -> list[str]:
    """Fresh barcodes of the house scheme, numbered after the highest specimen id (unique by construction)."""
    start = (session.scalar(select(func.max(Specimen.id))) or 0) + 1
    return [SCHEME.barcode(start + i) for i in range(count)]


def register_specimen(db: Database, barcode: str | None, *, participant: str | None, type: str,
                      quantity: float | None, unit: str | None = None, collected_at: datetime | None = None,
                      parents: Sequence[str] = (), sprec: str | None = None, location: str | None = None,
                      actor: str) -> Specimen:
    """Register one specimen (primary, aliquot, derivative or pool, decided by its parents' types)."""
    type_code = type.strip().upper()
    if type_code not in SPECIMEN_TYPES:
        raise ValidationFailed(f"unknown specimen type {type!r}")
    unit = normalise_unit(unit) if unit else SPECIMEN_TYPES[type_code].unit
    if error := unit_error(type_code, unit):
        raise ValidationFailed(error)
    if quantity is not None and quantity < 0:
        raise ValidationFailed("quantity must not be negative")
    if quantity is not None and quantity_too_large(quantity):
        raise ValidationFailed(f"quantity {quantity:g} is more than any one specimen holds "
                               f"(at most {MAX_QUANTITY:,.0f} in its unit)")
    sprec_text = None
    if sprec:
        try:
            sprec_text = str(parse_sprec(sprec))
        except SprecError as exc:
            raise ValidationFailed(str(exc)) from None
    with db.transaction() as session:
        parent_rows = [specimen_row(session, p) for p in parents]
        try:
            kind = lineage_kind([p.type for p in parent_rows], type_code)
        except LineageError as exc:
            raise ValidationFailed(str(exc)) from None
        participant_id: int | None = None
        distributable = True
        if participant:
            person = participant_row(session, participant)
            participant_id = person.id
            if not has_consent_in_force(session, person.id):
                raise ValidationFailed(f"participant {participant!r} has no consent in force (withdrawn?)")
        elif parent_rows:
            owners = {p.participant_id for p in parent_rows}
            participant_id = owners.pop() if len(owners) == 1 else None
        else:
            raise ValidationFailed("a primary specimen needs a participant")
        if parent_rows:
            distributable = all(p.distributable for p in parent_rows)
        barcode = barcode or _next_barcodes(session, 1)[0]
        if not is_acceptable_barcode(barcode):
            raise ValidationFailed(f"barcode {barcode!r} may hold only letters, digits, '.', '_' and '-'")
        if session.scalar(select(Specimen.id).where(Specimen.barcode == barcode)) is not None:
            raise Conflict(f"barcode {barcode!r} is already taken")
        loc = resolve_location(session, location) if location else None
        specimen = Specimen(
            barcode=barcode, participant_id=participant_id, type=type_code, quantity=quantity, unit=unit,
            collected_at=collected_at, status=SpecimenStatus.AVAILABLE.value, distributable=distributable,
            lineage=kind.value, parent_id=parent_rows[0].id if len(parent_rows) == 1 else None, sprec=sprec_text,
            freeze_thaw=0, container_id=loc.container.id if loc else None, position=loc.index if loc else None,
        )
        session.add(specimen)
        try:
            session.flush()
        except IntegrityError:
            raise Conflict(f"position {location} is already occupied") from None
        if len(parent_rows) > 1:
            session.add_all([PoolMember(pool_id=specimen.id, parent_id=p.id) for p in parent_rows])
        _event(session, specimen.id, "registered", loc.label if loc else "", actor)
        ledger.record(session, actor=actor, action="specimen.register", entity_type="specimen", entity_id=barcode,
                      change={"type": type_code, "quantity": quantity, "lineage": kind.value,
                              "parents": list(parents), "location": loc.label if loc else None})
    return specimen


def split_specimen(db: Database, parent_barcode: str, *, count: int, quantity: float,
                   type: str | None = None, actor: str) -> list[str]:
    """Make `count` aliquots (same type) or derivatives (another type) of a specimen, with new barcodes.

    Aliquots take their volume out of the parent; derivatives record their own yield.
    """
    if not 1 <= count <= 1000:
        raise ValidationFailed("count must be 1..1000")
    with db.transaction() as session:
        parent = specimen_row(session, parent_barcode, lock=True)
        if parent.status in FINAL_STATUSES:
            raise Conflict(f"{parent_barcode} is {parent.status}")
        child_type = (type or parent.type).upper()
        try:
            kind = lineage_kind([parent.type], child_type)
        except LineageError as exc:
            raise ValidationFailed(str(exc)) from None
        if kind.value == "aliquot":
            needed = quantity * count
            if parent.quantity is not None and needed > parent.quantity + 1e-9:
                raise ValidationFailed(f"{parent_barcode} holds {parent.quantity} {parent.unit}; "
                                       f"{count} x {quantity} is more")
            if parent.quantity is not None:
                parent.quantity = round(parent.quantity - needed, 6)
        barcodes = _next_barcodes(session, count)
        for barcode in barcodes:
            child = Specimen(barcode=barcode, participant_id=parent.participant_id, type=child_type,
                             quantity=quantity, unit=SPECIMEN_TYPES[child_type].unit, collected_at=parent.collected_at,
                             status=SpecimenStatus.AVAILABLE.value, distributable=parent.distributable,
                             lineage=kind.value, parent_id=parent.id, sprec=None, freeze_thaw=0)
            session.add(child)
            session.flush()
            _event(session, child.id, "registered", f"{kind.value} of {parent_barcode}", actor)
        ledger.record(session, actor=actor, action=f"specimen.{kind.value}", entity_type="specimen",
                      entity_id=parent_barcode, change={"children": barcodes, "quantity": quantity})
    return barcodes


def move_specimen(db: Database, barcode: str, location: str, *, actor: str) -> str:
    """Put a tube at `location` (box path + position); the UNIQUE(box, position) constraint settles races."""
    with db.transaction() as session:
        specimen = specimen_row(session, barcode, lock=True)
        if specimen.status in FINAL_STATUSES:
            raise Conflict(f"{barcode} is {specimen.status} and is no longer stored")
        loc = resolve_location(session, location)
        before, label = location_label(session, specimen), loc.label
        specimen.container_id, specimen.position = loc.container.id, loc.index
        try:
            session.flush()
        except IntegrityError:
            raise Conflict(f"position {label} is already occupied") from None
        _event(session, specimen.id, "moved", f"{before or '-'} -> {label}", actor)
        ledger.record(session, actor=actor, action="specimen.move", entity_type="specimen", entity_id=barcode,
                      change={"from": before, "to": label})
    return label


def reserve_specimens(db: Database, barcodes: Sequence[str], *, purpose: str, actor: str) -> list[str]:
    """Reserve specimens for a named purpose: all or none.

    The status flips with a conditional UPDATE (`... WHERE status = 'available'`): of two concurrent
    reservers, the second one's UPDATE waits for the first one's row lock, then matches no row and loses.
    """
    if not purpose.strip():
        raise ValidationFailed("a reservation needs a purpose")
    with db.transaction() as session:
        for barcode in barcodes:
            flipped = session.execute(
                update(Specimen).where(Specimen.barcode == barcode, Specimen.status == SpecimenStatus.AVAILABLE.value,
                                       Specimen.distributable.is_(True))
                .values(status=SpecimenStatus.RESERVED.value).returning(Specimen.id)
            ).scalar_one_or_none()
            if flipped is None:
                specimen = specimen_row(session, barcode)
                why = "is not distributable (consent withdrawn)" if not specimen.distributable else \
                    f"is {specimen.status}"
                raise Conflict(f"{barcode} cannot be reserved: it {why}")
            session.add(Reservation(specimen_id=flipped, purpose=purpose, reserved_by=actor))
            _event(session, flipped, "reserved", purpose, actor)
        ledger.record(session, actor=actor, action="specimen.reserve", entity_type="specimen",
                      entity_id=barcodes[0] if len(barcodes) == 1 else f"{len(barcodes)} specimens",
                      change={"barcodes": list(barcodes), "purpose": purpose})
    return list(barcodes)


def release_reservation(db: Database, barcode: str, *, actor: str) -> None:
    with db.transaction() as session:
        specimen = specimen_row(session, barcode, lock=True)
        if specimen.status != SpecimenStatus.RESERVED.value:
            raise Conflict(f"{barcode} is not reserved")
        specimen.status = SpecimenStatus.AVAILABLE.value
        session.execute(update(Reservation).where(Reservation.specimen_id == specimen.id,
                                                  Reservation.released_at.is_(None)).values(released_at=utcnow()))
        _event(session, specimen.id, "released", "", actor)
        ledger.record(session, actor=actor, action="specimen.release", entity_type="specimen", entity_id=barcode)


# Allowed status transitions; check-out/in also count freeze-thaw cycles.
_TRANSITIONS: dict[str, set[str]] = {
    "available": {"reserved", "in_use", "distributed", "consumed", "destroyed"},
    "reserved": {"available", "in_use", "distributed", "destroyed"},
    "in_use": {"available", "consumed", "destroyed", "distributed"},
}


def change_status(db: Database, barcode: str, status: str, *, actor: str, note: str = "") -> str:
    """Move a specimen through its life cycle. Check-in from `in_use` counts one freeze-thaw cycle;
    distribution needs a distributable specimen (consent in force)."""
    try:
        target = SpecimenStatus(status).value
    except ValueError:
        raise ValidationFailed(f"unknown status {status!r}") from None
    with db.transaction() as session:
        specimen = specimen_row(session, barcode, lock=True)
        if target not in _TRANSITIONS.get(specimen.status, set()):
            raise Conflict(f"{barcode} cannot go from {specimen.status} to {target}")
        if target == "distributed" and not specimen.distributable:
            raise Conflict(f"{barcode} is not distributable: the participant's consent was withdrawn")
        before = specimen.status
        if before == "in_use" and target == "available":
            specimen.freeze_thaw += 1
        if target in FINAL_STATUSES:
            specimen.container_id, specimen.position = None, None
        if before == "reserved":
            session.execute(update(Reservation).where(Reservation.specimen_id == specimen.id,
                                                      Reservation.released_at.is_(None)).values(released_at=utcnow()))
        specimen.status = target
        kind = {"in_use": "checked_out"}.get(target, "checked_in" if before == "in_use" else target)
        _event(session, specimen.id, kind, note, actor)
        ledger.record(session, actor=actor, action=f"specimen.{kind}", entity_type="specimen", entity_id=barcode,
                      change={"from": before, "to": target, "note": note})
    return target


def add_qc(db: Database, barcode: str, *, kind: str, value: float, unit: str | None = None, method: str = "",
           actor: str) -> None:
    if kind not in QC_KINDS:
        raise ValidationFailed(f"unknown QC measurement {kind!r}; known: {', '.join(QC_KINDS)}")
    if kind in {"DIN", "RIN"} and not 1 <= value <= 10:
        raise ValidationFailed(f"{kind} must be between 1 and 10")
    if kind == "viability" and not 0 <= value <= 100:
        raise ValidationFailed("viability is a percentage 0..100")
    with db.transaction() as session:
        specimen = specimen_row(session, barcode)
        session.add(QcMeasurement(specimen_id=specimen.id, kind=kind, value=value,
                                  unit=unit if unit is not None else QC_KINDS[kind], method=method, actor=actor))
        ledger.record(session, actor=actor, action="specimen.qc", entity_type="specimen", entity_id=barcode,
                      change={"kind": kind, "value": value, "method": method})


def record_label_print(db: Database, barcodes: Sequence[str], *, actor: str, fmt: str) -> bool:
    """Ledger a label print; returns True when any label had been printed before (a reprint)."""
    with db.transaction() as session:
        ids = dict(session.execute(select(Specimen.barcode, Specimen.id).where(Specimen.barcode.in_(barcodes)))
                   .all())
        missing = [b for b in barcodes if b not in ids]
        if missing:
            raise NotFound(f"specimen {missing[0]!r} does not exist")
        printed_before = session.scalar(select(func.count()).where(
            SpecimenEvent.specimen_id.in_(ids.values()), SpecimenEvent.kind.in_(["label_printed", "label_reprinted"])
        )) or 0
        kind = "label_reprinted" if printed_before else "label_printed"
        for barcode in barcodes:
            _event(session, ids[barcode], kind, fmt, actor)
        ledger.record(session, actor=actor, action=f"specimen.{kind}", entity_type="specimen",
                      entity_id=barcodes[0] if len(barcodes) == 1 else f"{len(barcodes)} specimens",
                      change={"barcodes": list(barcodes), "format": fmt})
    return bool(printed_before)


def specimen_participants(db: Database, barcodes: Iterable[str]) -> dict[str, str]:
    wanted = list(dict.fromkeys(barcodes))
    out: dict[str, str] = {}
    with db.session() as session:
        for chunk in _chunks(wanted):
            out.update(session.execute(
                select(Specimen.barcode, Participant.code).join(Participant, Participant.id == Specimen.participant_id)
                .where(Specimen.barcode.in_(chunk))).all())
    return out
