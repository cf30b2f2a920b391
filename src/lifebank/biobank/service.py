"""Use cases of the biobank: participants and consent, storage, specimens, reservation, search, history.

Every state change runs in one `db.transaction()` and appends its ledger event in that same transaction,
so the change and its proof commit or fail together.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lifebank.audit import service as ledger
from lifebank.biobank.barcode import BarcodeScheme, is_acceptable_barcode
from lifebank.biobank.duo import parse_duo_codes
from lifebank.biobank.models import (
    Consent,
    ConsentCode,
    Container,
    ContainerType,
    Participant,
    PoolMember,
    QcMeasurement,
    Reservation,
    Specimen,
    SpecimenEvent,
)
from lifebank.biobank.placement import BoxState, InsufficientSpace, Strategy, plan_placement
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
from lifebank.biobank.storage_layout import (
    ContainerKind,
    GridLayout,
    LabelScheme,
    LayoutError,
    TemperatureClass,
    can_hold,
)
from lifebank.db.base import utcnow
from lifebank.db.engine import Database
from lifebank.errors import Conflict, NotFound, ValidationFailed

SEXES = {"F", "M", "O", "U"}
# The house barcode scheme: prefix and digits are configurable per bank (LIFEBANK_BARCODE_PREFIX/_DIGITS).
SCHEME = BarcodeScheme(os.environ.get("LIFEBANK_BARCODE_PREFIX", "LB"), int(os.environ.get("LIFEBANK_BARCODE_DIGITS",
                                                                                          "9")))
QC_KINDS = {"DIN": "", "RIN": "", "concentration": "ng/µL", "viability": "%", "A260/280": "", "volume": "mL",
            "cell_count": "10^6 cells"}


# --- participants and consent ------------------------------------------------------------------------

def participant_row(session: Session, code: str) -> Participant:
    participant = session.scalar(select(Participant).where(Participant.code == code))
    if participant is None:
        raise NotFound(f"participant {code!r} does not exist")
    return participant


def check_participant_fields(sex: str, birth_year: int | None, site: str) -> str | None:
    if sex not in SEXES:
        return f"sex {sex!r} must be one of F, M, O, U"
    if birth_year is not None and not 1900 <= birth_year <= utcnow().year:
        return f"birth year {birth_year} is out of range 1900..{utcnow().year}"
    if not site or len(site) > 64:
        return "site is required (at most 64 characters)"
    return None


def register_participant(db: Database, code: str, *, sex: str, birth_year: int | None, site: str,
                         actor: str) -> Participant:
    """A participant is known by a pseudonymous code only: this domain never holds a name."""
    if not code or len(code) > 32 or not code.replace("-", "").replace("_", "").isalnum():
        raise ValidationFailed(f"participant code {code!r} must be 1-32 letters, digits, '-' or '_'")
    if error := check_participant_fields(sex, birth_year, site):
        raise ValidationFailed(error)
    with db.transaction() as session:
        if session.scalar(select(Participant.id).where(Participant.code == code)) is not None:
            raise Conflict(f"participant {code!r} already exists")
        participant = Participant(code=code, sex=sex, birth_year=birth_year, site=site)
        session.add(participant)
        session.flush()
        ledger.record(session, actor=actor, action="participant.register", entity_type="participant",
                      entity_id=code, change={"sex": sex, "birth_year": birth_year, "site": site})
    return participant


def record_consent(db: Database, participant_code: str, *, duo_codes: Sequence[str] | str, consent_date: date,
                   scope: str = "", actor: str) -> Consent:
    """Add a new consent version; the newest unwithdrawn version is the one in force."""
    try:
        codes = parse_duo_codes(duo_codes if isinstance(duo_codes, str) else ";".join(duo_codes))
    except ValueError as exc:
        raise ValidationFailed(str(exc)) from None
    if not codes:
        raise ValidationFailed("a consent needs at least one DUO code")
    with db.transaction() as session:
        participant = participant_row(session, participant_code)
        latest = session.scalar(select(func.max(Consent.version)).where(Consent.participant_id == participant.id))
        consent = Consent(participant_id=participant.id, version=(latest or 0) + 1, consent_date=consent_date,
                          scope=scope)
        session.add(consent)
        session.flush()
        session.add_all([ConsentCode(consent_id=consent.id, duo_code=code, participant_id=participant.id,
                                     in_force=True) for code in codes])
        ledger.record(session, actor=actor, action="consent.record", entity_type="participant",
                      entity_id=participant_code, change={"version": consent.version, "codes": codes,
                                                          "date": consent_date.isoformat(), "scope": scope})
    return consent


def withdraw_consent(db: Database, participant_code: str, *, reason: str = "", actor: str) -> int:
    """Withdraw every consent of the participant and, in the same transaction, make each of their
    specimens not distributable. Returns how many specimens were blocked."""
    with db.transaction() as session:
        participant = participant_row(session, participant_code)
        now = utcnow()
        withdrawn = session.execute(
            update(Consent).where(Consent.participant_id == participant.id, Consent.withdrawn_at.is_(None))
            .values(withdrawn_at=now, withdrawal_reason=reason)
        ).rowcount
        if not withdrawn:
            raise Conflict(f"participant {participant_code!r} has no consent in force to withdraw")
        session.execute(update(ConsentCode).where(ConsentCode.participant_id == participant.id)
                        .values(in_force=False))
        blocked = session.execute(
            update(Specimen).where(Specimen.participant_id == participant.id).values(distributable=False)
        ).rowcount
        ledger.record(session, actor=actor, action="consent.withdraw", entity_type="participant",
                      entity_id=participant_code, change={"reason": reason, "consents": withdrawn,
                                                          "specimens_blocked": blocked})
    return blocked


def participant_view(db: Database, code: str) -> dict[str, Any]:
    with db.session() as session:
        participant = participant_row(session, code)
        consents = []
        for consent in session.scalars(select(Consent).where(Consent.participant_id == participant.id)
                                       .order_by(Consent.version)):
            codes = list(session.scalars(select(ConsentCode.duo_code).where(ConsentCode.consent_id == consent.id)
                                         .order_by(ConsentCode.duo_code)))
            consents.append({"version": consent.version, "date": consent.consent_date.isoformat(),
                             "codes": codes, "scope": consent.scope,
                             "withdrawn_at": consent.withdrawn_at.isoformat() if consent.withdrawn_at else None})
        specimens = session.scalar(select(func.count()).where(Specimen.participant_id == participant.id)) or 0
    return {"code": participant.code, "sex": participant.sex, "birth_year": participant.birth_year,
            "site": participant.site, "consents": consents, "specimens": specimens}


def list_participants(db: Database, *, site: str | None = None, limit: int = 50,
                      offset: int = 0) -> tuple[int, list[dict[str, Any]]]:
    query = select(Participant)
    if site:
        query = query.where(Participant.site == site)
    with db.session() as session:
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = session.scalars(query.order_by(Participant.code).limit(limit).offset(offset))
        items = [{"code": p.code, "sex": p.sex, "birth_year": p.birth_year, "site": p.site} for p in rows]
    return total, items


# --- storage -----------------------------------------------------------------------------------------

def define_container_type(db: Database, name: str, *, kind: str, rows: int | None = None,
                          columns: int | None = None, scheme: str | None = None, actor: str) -> ContainerType:
    try:
        kind_ = ContainerKind(kind)
        if kind_ is ContainerKind.BOX:
            if not rows or not columns:
                raise ValidationFailed("a box type needs rows and columns")
            GridLayout(rows, columns, LabelScheme(scheme or LabelScheme.LETTER_NUMBER))
    except (ValueError, LayoutError) as exc:
        raise ValidationFailed(str(exc)) from None
    with db.transaction() as session:
        if session.scalar(select(ContainerType.id).where(ContainerType.name == name)) is not None:
            raise Conflict(f"container type {name!r} already exists")
        ctype = ContainerType(name=name, kind=kind_.value, rows=rows, columns=columns,
                              scheme=(scheme or LabelScheme.LETTER_NUMBER.value) if kind_ is ContainerKind.BOX
                              else None)
        session.add(ctype)
        session.flush()
        ledger.record(session, actor=actor, action="storage.type.define", entity_type="container_type",
                      entity_id=name, change={"kind": kind, "rows": rows, "columns": columns, "scheme": scheme})
    return ctype


def layout_of(ctype: ContainerType) -> GridLayout | None:
    if ctype.kind != ContainerKind.BOX or not ctype.rows or not ctype.columns:
        return None
    return GridLayout(ctype.rows, ctype.columns, LabelScheme(ctype.scheme or LabelScheme.LETTER_NUMBER))


def container_at(session: Session, name_path: str) -> Container:
    container = session.scalar(select(Container).where(Container.name_path == name_path.strip("/")))
    if container is None:
        raise NotFound(f"container {name_path!r} does not exist")
    return container


def create_container(db: Database, name: str, *, type_name: str, parent_path: str | None = None,
                     temperature_class: str | None = None, actor: str) -> Container:
    """Add a container under `parent_path` (None for a site); nesting rules and temperature class are checked.

    Storage units set the temperature class; racks and boxes inherit it from the unit they sit in.
    """
    if not name or "/" in name or len(name) > 64:
        raise ValidationFailed(f"container name {name!r} must be 1-64 characters without '/'")
    with db.transaction() as session:
        ctype = session.scalar(select(ContainerType).where(ContainerType.name == type_name))
        if ctype is None:
            raise NotFound(f"container type {type_name!r} does not exist")
        kind = ContainerKind(ctype.kind)
        parent = container_at(session, parent_path) if parent_path else None
        if parent is None and kind not in {ContainerKind.SITE, *(
                {ContainerKind.FREEZER, ContainerKind.TANK, ContainerKind.AUTOMATED_STORE})}:
            raise ValidationFailed(f"a {kind.value} must be placed inside another container")
        if parent is not None and not can_hold(ContainerKind(parent.kind), kind):
            raise ValidationFailed(f"a {parent.kind} cannot hold a {kind.value}")
        if kind in {ContainerKind.FREEZER, ContainerKind.TANK, ContainerKind.AUTOMATED_STORE}:
            try:
                temp = TemperatureClass(temperature_class or "").value
            except ValueError:
                raise ValidationFailed(f"a {kind.value} needs a temperature class "
                                       f"({', '.join(t.value for t in TemperatureClass)})") from None
        else:
            temp = parent.temperature_class if parent is not None else None
            if temperature_class and temp and temperature_class != temp:
                raise ValidationFailed(f"{name} inherits temperature class {temp} from {parent.name_path}")
        name_path = f"{parent.name_path}/{name}" if parent else name
        if session.scalar(select(Container.id).where(Container.name_path == name_path)) is not None:
            raise Conflict(f"container {name_path!r} already exists")
        layout = layout_of(ctype)
        container = Container(name=name, type_id=ctype.id, kind=kind.value, parent_id=parent.id if parent else None,
                              path="", name_path=name_path, temperature_class=temp,
                              capacity=layout.capacity if layout else 0)
        session.add(container)
        session.flush()
        container.path = f"{parent.path if parent else '/'}{container.id}/"
        ledger.record(session, actor=actor, action="storage.container.create", entity_type="container",
                      entity_id=name_path, change={"type": type_name, "temperature_class": temp})
    return container


def in_subtree(session: Session, path: str) -> Any:
    """SQL condition: a container lies in the subtree whose materialised path is `path` ('/1/7/').

    Written so an index serves it: on SQLite a range on the BINARY-collated index ('/' sorts just before
    '0', so every descendant path lies in [path, path[:-1] + '0')); on PostgreSQL a constant-prefix LIKE
    served by the text_pattern_ops index (paths hold only digits and '/', nothing to escape).
    """
    if session.get_bind().dialect.name == "sqlite":
        return and_(Container.path >= path, Container.path < path[:-1] + "0")
    return Container.path.like(path + "%")


def move_container(db: Database, name_path: str, new_parent_path: str, *, actor: str) -> str:
    """Move a rack or box with all its contents: the specimens keep their container, so they follow."""
    with db.transaction() as session:
        container = container_at(session, name_path)
        target = container_at(session, new_parent_path)
        if not can_hold(ContainerKind(target.kind), ContainerKind(container.kind)):
            raise ValidationFailed(f"a {target.kind} cannot hold a {container.kind}")
        if target.path.startswith(container.path):
            raise ValidationFailed(f"{name_path} cannot be moved into itself")
        if target.temperature_class != container.temperature_class:
            raise ValidationFailed(f"{name_path} is kept at {container.temperature_class}; "
                                   f"{target.name_path} is {target.temperature_class}")
        old_path, old_names = container.path, container.name_path
        new_path = f"{target.path}{container.id}/"
        new_names = f"{target.name_path}/{container.name}"
        if session.scalar(select(Container.id).where(Container.name_path == new_names)) is not None:
            raise Conflict(f"{new_names} already exists")
        subtree = list(session.scalars(select(Container).where(in_subtree(session, old_path))))
        for node in subtree:
            node.path = new_path + node.path[len(old_path):]
            node.name_path = new_names + node.name_path[len(old_names):]
        container.parent_id = target.id
        ledger.record(session, actor=actor, action="storage.container.move", entity_type="container",
                      entity_id=str(container.id), change={"from": old_names, "to": new_names})
    return new_names


@dataclass(frozen=True, slots=True)
class Location:
    container: Container
    layout: GridLayout
    index: int

    @property
    def label(self) -> str:
        return f"{self.container.name_path}/{self.layout.label(self.index)}"


def resolve_location(session: Session, location: str) -> Location:
    """'FRZ-01/R03/BOX-0012/A1' -> the box and the position index (checked against the box's grid)."""
    box_path, _, position = location.strip().strip("/").rpartition("/")
    if not box_path or not position:
        raise ValidationFailed(f"location {location!r} must be a box path and a position, e.g. FRZ-01/R03/BOX-1/A1")
    box = session.scalar(select(Container).where(Container.name_path == box_path))
    if box is None:
        raise NotFound(f"box {box_path!r} does not exist")
    layout = box_layout(session, box)
    try:
        index = layout.index_of(position)
    except LayoutError as exc:
        raise ValidationFailed(str(exc)) from None
    return Location(box, layout, index)


def box_layout(session: Session, box: Container) -> GridLayout:
    ctype = session.get(ContainerType, box.type_id)
    layout = layout_of(ctype) if ctype else None
    if layout is None:
        raise ValidationFailed(f"{box.name_path} is a {box.kind}, not a box with positions")
    return layout


def list_containers(db: Database, parent_path: str | None = None) -> list[dict[str, Any]]:
    with db.session() as session:
        query = select(Container, ContainerType.name).join(ContainerType, Container.type_id == ContainerType.id)
        if parent_path:
            query = query.where(Container.parent_id == container_at(session, parent_path).id)
        else:
            query = query.where(Container.parent_id.is_(None))
        return [{"name": c.name, "path": c.name_path, "kind": c.kind, "type": tname,
                 "temperature_class": c.temperature_class, "capacity": c.capacity}
                for c, tname in session.execute(query.order_by(Container.name))]


def container_info(db: Database, name_path: str) -> dict[str, Any]:
    with db.session() as session:
        c = container_at(session, name_path)
        return {"path": c.name_path, "kind": c.kind, "temperature_class": c.temperature_class,
                "capacity": c.capacity}


def occupancy(db: Database, name_path: str) -> dict[str, Any]:
    """Used and total positions of a container's subtree, and of each direct child.

    One range scan on the materialised path finds the boxes; specimens are counted by box through the
    (container_id, position) index, so a freezer of 100 k tubes costs one indexed aggregate.
    """
    with db.session() as session:
        root = container_at(session, name_path)
        # One count per box through the (container_id, position) index: cost follows the tubes in this
        # subtree, never the size of the bank (a hash join would tempt PostgreSQL into a full scan).
        used = select(func.count()).where(Specimen.container_id == Container.id).scalar_subquery()
        boxes = session.execute(
            select(Container.id, Container.path, Container.capacity, used)
            .where(in_subtree(session, root.path), Container.capacity > 0)
        ).all()
        used_by_box = {bid: count for bid, _path, _cap, count in boxes}
        children = session.execute(select(Container.id, Container.name, Container.kind)
                                   .where(Container.parent_id == root.id).order_by(Container.name)).all()
    # Each box counts towards the direct child of the root on its path: '/root/child/.../box/'.
    per_child: dict[int, list[int]] = {}
    offset = len(root.path)
    for bid, bpath, cap, _count in boxes:
        head = bpath[offset:].split("/", 1)[0]
        if head:
            tally = per_child.setdefault(int(head), [0, 0])
            tally[0] += used_by_box.get(bid, 0)
            tally[1] += cap
    child_rows = [{"name": name, "kind": kind, "path": f"{root.name_path}/{name}",
                   "used": per_child.get(cid, [0, 0])[0], "capacity": per_child.get(cid, [0, 0])[1]}
                  for cid, name, kind in children]
    total_capacity = sum(box[2] for box in boxes)
    total_used = sum(used_by_box.values())
    return {"path": root.name_path, "kind": root.kind, "temperature_class": root.temperature_class,
            "used": total_used, "capacity": total_capacity, "boxes": len(boxes), "children": child_rows}


def box_map(db: Database, name_path: str) -> dict[str, Any]:
    """The grid of a box: every position with the specimen in it (barcode, type, status) or None."""
    with db.session() as session:
        box = container_at(session, name_path)
        layout = box_layout(session, box)
        rows = session.execute(
            select(Specimen.position, Specimen.barcode, Specimen.type, Specimen.status, Specimen.distributable)
            .where(Specimen.container_id == box.id)
        ).all()
    by_index = {pos: {"barcode": bc, "type": t, "status": st, "distributable": d} for pos, bc, t, st, d in rows}
    cells = [{"index": i, "label": layout.label(i), "specimen": by_index.get(i)} for i in range(layout.capacity)]
    return {"path": box.name_path, "rows": layout.rows, "columns": layout.columns, "scheme": layout.scheme.value,
            "temperature_class": box.temperature_class, "used": len(rows), "capacity": layout.capacity,
            "cells": cells}


# --- specimens -----------------------------------------------------------------------------------------

def specimen_row(session: Session, barcode: str, *, lock: bool = False) -> Specimen:
    query = select(Specimen).where(Specimen.barcode == barcode)
    if lock:
        query = query.with_for_update()
    specimen = session.scalar(query)
    if specimen is None:
        raise NotFound(f"specimen {barcode!r} does not exist")
    return specimen


def _event(session: Session, specimen_id: int, kind: str, detail: str, actor: str) -> None:
    session.add(SpecimenEvent(specimen_id=specimen_id, kind=kind, detail=detail, actor=actor))


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


def has_consent_in_force(session: Session, participant_id: int) -> bool:
    return session.scalar(select(Consent.id).where(Consent.participant_id == participant_id,
                                                   Consent.withdrawn_at.is_(None)).limit(1)) is not None


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


def location_label(session: Session, specimen: Specimen) -> str | None:
    if specimen.container_id is None or specimen.position is None:
        return None
    box = session.get(Container, specimen.container_id)
    assert box is not None
    return f"{box.name_path}/{box_layout(session, box).label(specimen.position)}"


def place_specimens(db: Database, barcodes: Sequence[str], *, temperature_class: str | None = None,
                    within: str | None = None, strategy: str = "first", actor: str) -> dict[str, str]:
    """Auto-place unstored specimens in boxes of the right temperature class (default: their type's band),
    first or least-used boxes first, contiguously when one box can take them all."""
    try:
        strategy_ = Strategy(strategy)
    except ValueError:
        raise ValidationFailed(f"strategy must be one of {', '.join(s.value for s in Strategy)}") from None
    with db.transaction() as session:
        specimens = [specimen_row(session, b, lock=True) for b in barcodes]
        if len({s.barcode for s in specimens}) != len(specimens):
            raise ValidationFailed("a barcode is listed twice")
        for specimen in specimens:
            if specimen.container_id is not None:
                raise Conflict(f"{specimen.barcode} is already stored; move it instead")
        temps = {temperature_class or SPECIMEN_TYPES[s.type].default_temperature for s in specimens}
        if len(temps) != 1:
            raise ValidationFailed(f"these specimens belong to several temperature classes {sorted(temps)}; "
                                   "place them separately or name one")
        temp = temps.pop()
        query = select(Container).where(Container.capacity > 0, Container.temperature_class == temp)
        if within:
            query = query.where(in_subtree(session, container_at(session, within).path))
        boxes = list(session.scalars(query.order_by(Container.name_path)))
        occupied: dict[int, set[int]] = {b.id: set() for b in boxes}
        if boxes:
            for cid, pos in session.execute(select(Specimen.container_id, Specimen.position)
                                            .where(Specimen.container_id.in_([b.id for b in boxes]))):
                occupied[cid].add(pos)
        states = [BoxState(b.id, b.temperature_class or "", b.capacity, frozenset(occupied[b.id])) for b in boxes]
        try:
            slots = plan_placement(states, len(specimens), temp, strategy_)
        except InsufficientSpace as exc:
            raise Conflict(str(exc)) from None
        by_id = {b.id: b for b in boxes}
        placed: dict[str, str] = {}
        for specimen, slot in zip(specimens, slots, strict=True):
            box = by_id[slot.box_id]
            specimen.container_id, specimen.position = box.id, slot.index
            placed[specimen.barcode] = f"{box.name_path}/{box_layout(session, box).label(slot.index)}"
            _event(session, specimen.id, "placed", placed[specimen.barcode], actor)
        try:
            session.flush()
        except IntegrityError:
            raise Conflict("a chosen position was taken meanwhile; try again") from None
        ledger.record(session, actor=actor, action="specimen.place", entity_type="specimen",
                      entity_id=specimens[0].barcode if len(specimens) == 1 else f"{len(specimens)} specimens",
                      change=placed)
    return placed


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


# --- search and history ----------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class SpecimenFilter:
    type: str | None = None
    status: str | None = None
    participant: str | None = None
    consent: str | None = None  # DUO code the participant's consent in force carries
    container: str | None = None  # name path of any container; its whole subtree matches
    barcode_prefix: str | None = None


def _filtered(session: Session, flt: SpecimenFilter, *, counting: bool = False) -> Any:
    query = select(Specimen)
    # With a freezer or a participant named, those indexes are the selective ones; SQLite's planner (no
    # statistics after bulk loads) could otherwise prefer (type, status), which matches millions of rows.
    # `type || ''` keeps the same meaning but takes that index out of the running. Counting within a
    # container is the exception: the covering (container_id, type, status, participant_id) index answers it
    # and wants plain columns (the first page instead walks (container_id, position) in storage order).
    narrowed = (bool(flt.participant) or (bool(flt.container) and not counting)) \
        and session.get_bind().dialect.name == "sqlite"
    type_col = Specimen.type.concat("") if narrowed else Specimen.type
    status_col = Specimen.status.concat("") if narrowed else Specimen.status
    if flt.type:
        query = query.where(type_col == flt.type.upper())
    if flt.status:
        query = query.where(status_col == flt.status)
    if flt.barcode_prefix:
        query = query.where(Specimen.barcode.startswith(flt.barcode_prefix))
    if flt.participant:
        pid = session.scalar(select(Participant.id).where(Participant.code == flt.participant))
        query = query.where(Specimen.participant_id == (pid if pid is not None else -1))
    if flt.consent:
        query = query.where(_consenting(Specimen.participant_id, flt.consent))
    if flt.container:
        root = container_at(session, flt.container)
        query = query.where(Specimen.container_id.in_(select(Container.id).where(in_subtree(session, root.path))))
    return query


def _consenting(participant_id: Any, duo_code: str) -> Any:
    """Correlated EXISTS: one probe of ix_bb_consent_code_in_force per candidate, instead of materialising
    the set of every consenting participant (millions) for each search. It selects only indexed columns, so
    the probe never reads the table."""
    return select(ConsentCode.participant_id).where(ConsentCode.participant_id == participant_id,
                                                    ConsentCode.duo_code == duo_code,
                                                    ConsentCode.in_force.is_(True)).exists()


def _count(session: Session, flt: SpecimenFilter) -> int:
    """The exact number of matches. With a consent code on PostgreSQL, matches are first counted per
    participant (a donor's aliquots sit together), so the consent is probed once per participant, not once
    per tube (36 instead of 46 ms for a 100,000-tube freezer); SQLite's probes are cheaper than its grouping."""
    if not flt.consent or session.get_bind().dialect.name != "postgresql":
        return session.scalar(select(func.count()).select_from(_filtered(session, flt, counting=True)
                                                                  .subquery())) or 0
    per_participant = (_filtered(session, replace(flt, consent=None), counting=True)
                       .with_only_columns(Specimen.participant_id.label("pid"), func.count().label("n"))
                       .group_by(Specimen.participant_id).subquery())
    return session.scalar(select(func.coalesce(func.sum(per_participant.c.n), 0))
                          .where(_consenting(per_participant.c.pid, flt.consent))) or 0


def search_specimens(db: Database, flt: SpecimenFilter, *, limit: int = 50, offset: int = 0,
                     with_total: bool = True) -> tuple[int | None, list[dict[str, Any]]]:
    """A page of matching specimens in id order, and the exact number of matches (None if not asked for:
    counting all of a 100 k-tube freezer costs far more than finding the first page)."""
    with db.session() as session:
        query = _filtered(session, flt)
        total = _count(session, flt) if with_total else None
        # Within a container, storage order (box, position) is what people expect, and the (container_id,
        # position) index yields it directly, so the first page needs no sort of the whole freezer.
        order = (Specimen.container_id, Specimen.position, Specimen.id) if flt.container else (Specimen.id,)
        specimens = list(session.scalars(query.order_by(*order).limit(limit).offset(offset)))
        items = specimen_views(session, specimens)
    return total, items


def specimen_views(session: Session, specimens: Sequence[Specimen]) -> list[dict[str, Any]]:
    participant_ids = {s.participant_id for s in specimens if s.participant_id is not None}
    codes = dict(session.execute(select(Participant.id, Participant.code)
                                 .where(Participant.id.in_(participant_ids))).all()) if participant_ids else {}
    parent_ids = {s.parent_id for s in specimens if s.parent_id is not None}
    parents = dict(session.execute(select(Specimen.id, Specimen.barcode)
                                   .where(Specimen.id.in_(parent_ids))).all()) if parent_ids else {}
    box_ids = {s.container_id for s in specimens if s.container_id is not None}
    boxes: dict[int, tuple[str, GridLayout | None]] = {}
    if box_ids:
        for box, ctype in session.execute(select(Container, ContainerType)
                                          .join(ContainerType, Container.type_id == ContainerType.id)
                                          .where(Container.id.in_(box_ids))):
            boxes[box.id] = (box.name_path, layout_of(ctype))
    views = []
    for s in specimens:
        location = None
        if s.container_id is not None and s.position is not None:
            path, layout = boxes[s.container_id]
            location = f"{path}/{layout.label(s.position)}" if layout else path
        views.append({
            "barcode": s.barcode, "participant": codes.get(s.participant_id), "type": s.type,
            "quantity": s.quantity, "unit": s.unit,
            "collected_at": s.collected_at.isoformat() if s.collected_at else None,
            "status": s.status, "distributable": s.distributable, "lineage": s.lineage,
            "parent": parents.get(s.parent_id), "sprec": s.sprec, "freeze_thaw": s.freeze_thaw,
            "location": location,
        })
    return views


def get_specimen(db: Database, barcode: str) -> dict[str, Any]:
    with db.session() as session:
        return specimen_views(session, [specimen_row(session, barcode)])[0]


def _lineage_tree(session: Session, root: Specimen, *, depth: int = 6) -> dict[str, Any]:
    node = {"barcode": root.barcode, "type": root.type, "lineage": root.lineage, "status": root.status,
            "children": []}
    if depth == 0:
        return node
    # Two indexed lookups rather than one OR, which PostgreSQL would answer with a scan of every specimen.
    children = list(session.scalars(select(Specimen).where(Specimen.parent_id == root.id)
                                    .order_by(Specimen.id).limit(500)))
    pool_ids = list(session.scalars(select(PoolMember.pool_id).where(PoolMember.parent_id == root.id).limit(500)))
    if pool_ids:
        children += list(session.scalars(select(Specimen).where(Specimen.id.in_(pool_ids))))
        children.sort(key=lambda child: child.id)
    node["children"] = [_lineage_tree(session, child, depth=depth - 1) for child in children]
    return node


def _ancestors(session: Session, specimen: Specimen) -> list[dict[str, Any]]:
    """Parents up to the primary specimen (pool parents listed at their level)."""
    chain: list[dict[str, Any]] = []
    frontier = [specimen]
    seen: set[int] = {specimen.id}
    while frontier:
        ids = [s.parent_id for s in frontier if s.parent_id is not None]
        pooled = [s.id for s in frontier if s.lineage == "pool"]
        if pooled:
            ids += list(session.scalars(select(PoolMember.parent_id).where(PoolMember.pool_id.in_(pooled))))
        if not ids:
            break
        frontier = [p for p in session.scalars(select(Specimen).where(Specimen.id.in_(ids)).order_by(Specimen.id))
                    if p.id not in seen]
        seen.update(p.id for p in frontier)
        chain.extend({"barcode": p.barcode, "type": p.type, "lineage": p.lineage, "status": p.status}
                     for p in frontier)
    return chain


def specimen_lineage(db: Database, barcode: str) -> dict[str, Any]:
    """Lineage up (to the primary specimen) and down (aliquots, derivatives, pools made from it)."""
    with db.session() as session:
        specimen = specimen_row(session, barcode)
        return {"barcode": barcode, "ancestors": _ancestors(session, specimen),
                "descendants": _lineage_tree(session, specimen)["children"]}


def specimen_history(db: Database, barcode: str) -> dict[str, Any]:
    """A specimen's full story: lineage up and down, moves and status events, reservations, QC, ledger events."""
    with db.session() as session:
        specimen = specimen_row(session, barcode)
        view = specimen_views(session, [specimen])[0]
        events = [{"at": e.occurred_at.isoformat(), "kind": e.kind, "detail": e.detail, "actor": e.actor}
                  for e in session.scalars(select(SpecimenEvent).where(SpecimenEvent.specimen_id == specimen.id)
                                           .order_by(SpecimenEvent.id))]
        reservations = [{"purpose": r.purpose, "by": r.reserved_by, "at": r.reserved_at.isoformat(),
                         "released_at": r.released_at.isoformat() if r.released_at else None}
                        for r in session.scalars(select(Reservation).where(Reservation.specimen_id == specimen.id)
                                                 .order_by(Reservation.id))]
        qc = [{"kind": q.kind, "value": q.value, "unit": q.unit, "method": q.method,
               "at": q.measured_at.isoformat()}
              for q in session.scalars(select(QcMeasurement).where(QcMeasurement.specimen_id == specimen.id)
                                       .order_by(QcMeasurement.id))]
        ancestors = _ancestors(session, specimen)
        descendants = _lineage_tree(session, specimen)["children"]
    _total, ledger_events = ledger.list_events(db, entity_type="specimen", entity_id=barcode, limit=200)
    return {"specimen": view, "ancestors": ancestors, "descendants": descendants, "events": events,
            "reservations": reservations, "qc": qc,
            "ledger": [ledger.event_view(e) for e in ledger_events]}


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


# --- cross-domain queries (exported by lifebank.biobank) ----------------------------------------------

def _chunks(items: list[str], size: int = 900) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def existing_participants(db: Database, codes: Iterable[str]) -> set[str]:
    wanted = list(dict.fromkeys(codes))
    found: set[str] = set()
    with db.session() as session:
        for chunk in _chunks(wanted):
            found.update(session.scalars(select(Participant.code).where(Participant.code.in_(chunk))))
    return found


def specimen_participants(db: Database, barcodes: Iterable[str]) -> dict[str, str]:
    wanted = list(dict.fromkeys(barcodes))
    out: dict[str, str] = {}
    with db.session() as session:
        for chunk in _chunks(wanted):
            out.update(session.execute(
                select(Specimen.barcode, Participant.code).join(Participant, Participant.id == Specimen.participant_id)
                .where(Specimen.barcode.in_(chunk))).all())
    return out


def participants_matching(db: Database, *, consent_code: str | None = None, sex: str | None = None,
                          site: str | None = None) -> set[str]:
    query = select(Participant.code)
    if consent_code:
        query = query.where(Participant.id.in_(
            select(Consent.participant_id).join(ConsentCode, ConsentCode.consent_id == Consent.id)
            .where(ConsentCode.duo_code == consent_code, Consent.withdrawn_at.is_(None))))
    if sex:
        query = query.where(Participant.sex == sex)
    if site:
        query = query.where(Participant.site == site)
    with db.session() as session:
        return set(session.scalars(query))


def participants_with_specimens(db: Database, *, specimen_type: str | None = None,
                                status: str | None = "available", min_quantity: float | None = None) -> set[str]:
    conditions = [Specimen.participant_id == Participant.id]
    if specimen_type:
        conditions.append(Specimen.type == specimen_type.upper())
    if status:
        conditions.append(Specimen.status == status)
    if min_quantity is not None:
        conditions.append(Specimen.quantity >= min_quantity)
    query = select(Participant.code).where(select(Specimen.id).where(and_(*conditions)).exists())
    with db.session() as session:
        return set(session.scalars(query))


def list_participant_codes(db: Database, limit: int) -> list[str]:
    with db.session() as session:
        return list(session.scalars(select(Participant.code).order_by(Participant.code).limit(limit)))
