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
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lifebank.audit import service as ledger
from lifebank.biobank._common import _chunks, _event, missing_specimens, specimen_row, status_text
from lifebank.biobank.barcode import BarcodeScheme, is_acceptable_barcode
from lifebank.biobank.models import (
    Container,
    Participant,
    PoolMember,
    QcMeasurement,
    Reservation,
    Specimen,
    SpecimenEvent,
)
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
from lifebank.biobank.storage import Location, box_layout, container_at, location_label, resolve_location
from lifebank.biobank.storage_layout import GridLayout
from lifebank.db.base import utcnow
from lifebank.db.engine import Database
from lifebank.errors import Conflict, ValidationFailed
from lifebank.messages import Msg

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
    type_code, unit, sprec_text = _checked_fields(type, quantity, unit, sprec)
    with db.transaction() as session:
        return register_specimen_in(session, barcode, participant=participant, type=type_code, quantity=quantity,
                                    unit=unit, collected_at=collected_at, parents=parents, sprec=sprec_text,
                                    location=location, actor=actor)


def _checked_fields(type: str, quantity: float | None, unit: str | None, sprec: str | None,
                    ) -> tuple[str, str, str | None]:
    """The type code, unit and SPREC text of a new specimen, or ValidationFailed naming what is wrong."""
    type_code = type.strip().upper()
    if type_code not in SPECIMEN_TYPES:
        raise ValidationFailed("unknown specimen type {type}; known types: {allowed}", type=type,
                               allowed=", ".join(SPECIMEN_TYPES))
    unit = normalise_unit(unit) if unit else SPECIMEN_TYPES[type_code].unit
    if error := unit_error(type_code, unit):
        raise ValidationFailed(error)
    if quantity is not None and quantity < 0:
        raise ValidationFailed("quantity must not be negative")
    if quantity is not None and quantity_too_large(quantity):
        raise ValidationFailed("quantity {quantity} is more than any one specimen holds (at most {limit} in its unit)",
                               quantity=f"{quantity:g}", limit=f"{MAX_QUANTITY:,.0f}")
    sprec_text = None
    if sprec:
        try:
            sprec_text = str(parse_sprec(sprec))
        except SprecError as exc:
            raise ValidationFailed("SPREC code {code} is not valid: {reason}", code=sprec, reason=exc.reason) from None
    return type_code, unit, sprec_text


def register_specimen_in(session: Session, barcode: str | None, *, participant: str | None, type: str,
                         quantity: float | None, unit: str | None = None, collected_at: datetime | None = None,
                         parents: Sequence[str] = (), sprec: str | None = None, location: str | None = None,
                         notes: str | None = None, origin: dict[str, Any] | None = None, actor: str) -> Specimen:
    """`register_specimen` inside the caller's transaction, for another domain whose own write makes a specimen
    (the cell-therapy chain's cryopreservation): the same checks, specimen event and ledger event, committed or
    rolled back with the caller's change. `notes` is kept with the specimen; `origin` (what made it, e.g. the
    therapy order) goes into the ledger event."""
    type_code, unit, sprec_text = _checked_fields(type, quantity, unit, sprec)
    parent_rows = [specimen_row(session, p) for p in parents]
    try:
        kind = lineage_kind([p.type for p in parent_rows], type_code)
    except LineageError as exc:
        raise ValidationFailed(exc.message) from None
    participant_id: int | None = None
    distributable = True
    if participant:
        person = participant_row(session, participant)
        participant_id = person.id
        if not has_consent_in_force(session, person.id):
            raise ValidationFailed("participant {participant} has no consent in force (withdrawn?)",
                                   participant=participant)
    elif parent_rows:
        owners = {p.participant_id for p in parent_rows}
        participant_id = owners.pop() if len(owners) == 1 else None
    else:
        raise ValidationFailed("a primary specimen needs a participant")
    if parent_rows:
        distributable = all(p.distributable for p in parent_rows)
    barcode = barcode or _next_barcodes(session, 1)[0]
    if not is_acceptable_barcode(barcode):
        raise ValidationFailed("barcode {barcode} may hold only letters, digits, '.', '_' and '-'", barcode=barcode)
    if session.scalar(select(Specimen.id).where(Specimen.barcode == barcode)) is not None:
        raise Conflict("barcode {barcode} is already taken", barcode=barcode)
    loc = resolve_location(session, location) if location else None
    specimen = Specimen(
        barcode=barcode, participant_id=participant_id, type=type_code, quantity=quantity, unit=unit,
        collected_at=collected_at, status=SpecimenStatus.AVAILABLE.value, distributable=distributable,
        lineage=kind.value, parent_id=parent_rows[0].id if len(parent_rows) == 1 else None, sprec=sprec_text,
        freeze_thaw=0, container_id=loc.container.id if loc else None, position=loc.index if loc else None,
        notes=notes,
    )
    session.add(specimen)
    try:
        session.flush()
    except IntegrityError:
        raise Conflict("position {location} is already occupied", location=location) from None
    if len(parent_rows) > 1:
        session.add_all([PoolMember(pool_id=specimen.id, parent_id=p.id) for p in parent_rows])
    _event(session, specimen.id, "registered", loc.label if loc else "", actor)
    change = {"type": type_code, "quantity": quantity, "lineage": kind.value, "parents": list(parents),
              "location": loc.label if loc else None}
    if origin:
        change["origin"] = origin
    ledger.record(session, actor=actor, action="specimen.register", entity_type="specimen", entity_id=barcode,
                  change=change)
    return specimen


def split_specimen(db: Database, parent_barcode: str, *, count: int, quantity: float,
                   type: str | None = None, actor: str) -> list[str]:
    """Make `count` aliquots (same type) or derivatives (another type) of a specimen, with new barcodes.

    Aliquots take their volume out of the parent; derivatives record their own yield.
    """
    with db.transaction() as session:
        return split_in_session(session, parent_barcode, count=count, quantity=quantity, type=type, actor=actor)


def split_in_session(session: Session, parent_barcode: str, *, count: int, quantity: float,
                     type: str | None = None, actor: str) -> list[str]:
    """`split_specimen` in the caller's transaction (another domain's use case that splits a tube as one
    step of its own, such as an aliquot split at an access request's fulfilment)."""
    if not 1 <= count <= 1000:
        raise ValidationFailed("the number of children must be 1 to 1000")
    parent = specimen_row(session, parent_barcode, lock=True)
    if parent.status in FINAL_STATUSES:
        raise Conflict("{barcode} is {status}", barcode=parent_barcode, status=status_text(parent.status))
    child_type = (type or parent.type).upper()
    try:
        kind = lineage_kind([parent.type], child_type)
    except LineageError as exc:
        raise ValidationFailed(exc.message) from None
    if kind.value == "aliquot":
        needed = quantity * count
        if parent.quantity is not None and needed > parent.quantity + 1e-9:
            raise ValidationFailed("{barcode} holds {quantity} {unit}; {count} × {each} is more",
                                   barcode=parent_barcode, quantity=f"{parent.quantity:g}", unit=parent.unit,
                                   count=count, each=f"{quantity:g}")
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
        return move_in_session(session, specimen, resolve_location(session, location), actor=actor)


def move_in_session(session: Session, specimen: Specimen, loc: Location, *, actor: str,
                    before: str | None = None) -> str:
    """The move itself, inside the caller's transaction (one tube, or each tube of a bulk move, which
    passes the tube's old place as `before`, having cleared the places first)."""
    if specimen.status in FINAL_STATUSES:
        raise Conflict("{barcode} is {status} and is no longer stored", barcode=specimen.barcode,
                       status=status_text(specimen.status))
    before, label = before or location_label(session, specimen), loc.label
    specimen.container_id, specimen.position = loc.container.id, loc.index
    try:
        session.flush()
    except IntegrityError:
        raise Conflict("position {location} is already occupied", location=label) from None
    _event(session, specimen.id, "moved", f"{before or '-'} -> {label}", actor)
    ledger.record(session, actor=actor, action="specimen.move", entity_type="specimen", entity_id=specimen.barcode,
                  change={"from": before, "to": label})
    return label


def free_positions(session: Session, box_path: str) -> tuple[Container, GridLayout, list[int]]:
    """A box, its grid, and its free position indexes in grid order (for moves into "the next free slots")."""
    box = container_at(session, box_path)
    layout = box_layout(session, box)
    used = set(session.scalars(select(Specimen.position).where(Specimen.container_id == box.id)))
    return box, layout, [i for i in range(layout.capacity) if i not in used]


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
                if not specimen.distributable:
                    raise Conflict("{barcode} cannot be reserved: it is not distributable (consent withdrawn)",
                                   barcode=barcode)
                raise Conflict("{barcode} cannot be reserved: it is {status}", barcode=barcode,
                               status=status_text(specimen.status))
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
            raise Conflict("{barcode} is not reserved", barcode=barcode)
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
# A tube destroyed (discarded) must say why: ISBER best practice keeps the reason of every disposal.
NEEDS_REASON = frozenset({SpecimenStatus.DESTROYED.value})


def parse_status(status: str) -> str:
    try:
        return SpecimenStatus(status.strip().lower()).value
    except ValueError:
        raise ValidationFailed("unknown status {status}; allowed: {allowed}", status=status,
                               allowed=", ".join(s.value for s in SpecimenStatus)) from None


def status_refusal(specimen: Specimen, target: str, note: str = "") -> Msg | None:
    """Why `specimen` cannot go to `target` now (None: it can) - shared by one change and a bulk preview."""
    if target not in _TRANSITIONS.get(specimen.status, set()):
        return Msg("{barcode} cannot go from {before} to {after}", barcode=specimen.barcode,
                   before=status_text(specimen.status), after=status_text(target))
    if target == "distributed" and not specimen.distributable:
        return Msg("{barcode} is not distributable: the participant's consent was withdrawn",
                   barcode=specimen.barcode)
    if target in NEEDS_REASON and not note.strip():
        return Msg("a reason is required to destroy or discard a specimen")
    return None


def change_status(db: Database, barcode: str, status: str, *, actor: str, note: str = "") -> str:
    """Move a specimen through its life cycle. Check-in from `in_use` counts one freeze-thaw cycle;
    distribution needs a distributable specimen (consent in force); destruction needs a reason."""
    target = parse_status(status)
    with db.transaction() as session:
        specimen = specimen_row(session, barcode, lock=True)
        status_in_session(session, specimen, target, actor=actor, note=note)
    return target


def status_in_session(session: Session, specimen: Specimen, target: str, *, actor: str, note: str = "") -> None:
    """The status change itself, inside the caller's transaction (one tube, or each tube of a bulk change)."""
    if (refusal := status_refusal(specimen, target, note)) is not None:
        raise ValidationFailed(refusal) if target in NEEDS_REASON and not note.strip() else Conflict(refusal)
    before = specimen.status
    if before == "in_use" and target == "available":
        specimen.freeze_thaw += 1
    if target in FINAL_STATUSES:
        specimen.container_id, specimen.position = None, None
    if before == "reserved":
        session.execute(update(Reservation).where(Reservation.specimen_id == specimen.id,
                                                  Reservation.released_at.is_(None)).values(released_at=utcnow()))
    specimen.status = target
    kind = {"in_use": "checked_out"}.get(target, "checked_in" if before == "in_use" and target == "available"
                                         else target)
    _event(session, specimen.id, kind, note, actor)
    ledger.record(session, actor=actor, action=f"specimen.{kind}", entity_type="specimen",
                  entity_id=specimen.barcode, change={"from": before, "to": target, "note": note})


def check_out(db: Database, barcode: str, *, actor: str, note: str = "") -> str:
    """Take a tube out of storage for work: status in_use (its position stays held for its return)."""
    return change_status(db, barcode, SpecimenStatus.IN_USE.value, actor=actor, note=note)


def check_in(db: Database, barcode: str, *, actor: str, note: str = "") -> str:
    """Return a checked-out tube: available again, one more freeze-thaw cycle counted."""
    with db.session() as session:
        if specimen_row(session, barcode).status != SpecimenStatus.IN_USE.value:
            raise Conflict("{barcode} is not checked out", barcode=barcode)
    return change_status(db, barcode, SpecimenStatus.AVAILABLE.value, actor=actor, note=note)


def discard_specimen(db: Database, barcode: str, *, reason: str, actor: str) -> str:
    """Discard (destroy) a tube with the reason; it leaves its box."""
    if not reason.strip():
        raise ValidationFailed("a reason is required to destroy or discard a specimen")
    return change_status(db, barcode, SpecimenStatus.DESTROYED.value, actor=actor, note=reason.strip())


def add_qc(db: Database, barcode: str, *, kind: str, value: float, unit: str | None = None, method: str = "",
           actor: str) -> None:
    if kind not in QC_KINDS:
        raise ValidationFailed("unknown QC measurement {kind}; known: {allowed}", kind=kind,
                               allowed=", ".join(QC_KINDS))
    if kind in {"DIN", "RIN"} and not 1 <= value <= 10:
        raise ValidationFailed("{kind} must be between 1 and 10", kind=kind)
    if kind == "viability" and not 0 <= value <= 100:
        raise ValidationFailed("viability is a percentage 0..100")
    with db.transaction() as session:
        specimen = specimen_row(session, barcode)
        session.add(QcMeasurement(specimen_id=specimen.id, kind=kind, value=value,
                                  unit=unit if unit else QC_KINDS[kind], method=method, actor=actor))
        _event(session, specimen.id, "qc", f"{kind} {value:g}", actor)
        ledger.record(session, actor=actor, action="specimen.qc", entity_type="specimen", entity_id=barcode,
                      change={"kind": kind, "value": value, "unit": unit or QC_KINDS[kind], "method": method})


_UNSET: Any = object()


def edit_specimen(db: Database, barcode: str, *, actor: str, quantity: float | None = _UNSET,
                  sprec: str | None = _UNSET, collected_at: datetime | None = _UNSET,
                  notes: str | None = _UNSET) -> dict[str, Any]:
    """Correct what the model lets one correct (quantity, SPREC, collection time, notes); the ledger keeps
    each field's old and new value. Returns the changes ({} when nothing changed: nothing is ledgered)."""
    wanted: dict[str, Any] = {}
    if quantity is not _UNSET:
        if quantity is not None and quantity < 0:
            raise ValidationFailed("quantity must not be negative")
        if quantity is not None and quantity_too_large(quantity):
            raise ValidationFailed("quantity {quantity} is more than any one specimen holds (at most {limit} in its "
                                   "unit)", quantity=f"{quantity:g}", limit=f"{MAX_QUANTITY:,.0f}")
        wanted["quantity"] = quantity
    if sprec is not _UNSET:
        try:
            wanted["sprec"] = str(parse_sprec(sprec)) if sprec and sprec.strip() else None
        except SprecError as exc:
            raise ValidationFailed("SPREC code {code} is not valid: {reason}", code=sprec, reason=exc.reason) from None
    if collected_at is not _UNSET:
        wanted["collected_at"] = collected_at
    if notes is not _UNSET:
        wanted["notes"] = (notes or "").strip() or None
    with db.transaction() as session:
        specimen = specimen_row(session, barcode, lock=True)
        changes = {field: {"from": _plain(getattr(specimen, field)), "to": _plain(value)}
                   for field, value in wanted.items() if _plain(getattr(specimen, field)) != _plain(value)}
        if not changes:
            return {}
        for field in changes:
            setattr(specimen, field, wanted[field])
        _event(session, specimen.id, "edited", ", ".join(changes), actor)
        ledger.record(session, actor=actor, action="specimen.edit", entity_type="specimen", entity_id=barcode,
                      change=changes)
    return changes


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC).isoformat()
    return value


def record_label_print(db: Database, barcodes: Sequence[str], *, actor: str, fmt: str) -> bool:
    """Ledger one real print (a PDF or ZPL made for the printer): one event per tube, each marked a reprint
    when that tube's label was printed before. Returns True when any label was a reprint.

    Opening a label's picture on screen is not a print and is never ledgered."""
    with db.transaction() as session:
        ids = dict(session.execute(select(Specimen.barcode, Specimen.id).where(Specimen.barcode.in_(barcodes)))
                   .all())
        missing_specimens(barcodes, ids)
        printed = set(session.scalars(select(SpecimenEvent.specimen_id).where(
            SpecimenEvent.specimen_id.in_(ids.values()),
            SpecimenEvent.kind.in_(["label_printed", "label_reprinted"]))))
        for barcode in dict.fromkeys(barcodes):
            kind = "label_reprinted" if ids[barcode] in printed else "label_printed"
            _event(session, ids[barcode], kind, fmt, actor)
            ledger.record(session, actor=actor, action=f"specimen.{kind}", entity_type="specimen",
                          entity_id=barcode, change={"format": fmt, "batch": len(barcodes)})
    return bool(printed)


def specimen_participants(db: Database, barcodes: Iterable[str]) -> dict[str, str]:
    wanted = list(dict.fromkeys(barcodes))
    out: dict[str, str] = {}
    with db.session() as session:
        for chunk in _chunks(wanted):
            out.update(session.execute(
                select(Specimen.barcode, Participant.code).join(Participant, Participant.id == Specimen.participant_id)
                .where(Specimen.barcode.in_(chunk))).all())
    return out
