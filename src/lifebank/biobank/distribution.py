"""What the access-request workflow (issue 11) asks of the biobank: candidates with their consent in force,
specimens that can be allocated, their storage places, and the specimen side of reserving, distributing and
taking back material for a request.

These are the biobank's *published* functions for distribution (exported from `lifebank.biobank`): the
access domain never reads the `bb_` tables itself. Functions that change specimens take the caller's
session, so that the access domain's own rows (allocations, shipments) and the specimens' statuses commit or
roll back together — the "reserve in one transaction" the issue asks for. Every change writes the
specimen's own event and one ledger event per batch, in that same transaction.

Built for scale: a million candidates' consents come back in one grouped query (the codes of each consent
aggregated by the database), and allocations of thousands of tubes are flipped with set-based conditional
UPDATEs, so two fulfilments racing for a tube cannot both win (`... WHERE status = 'available'`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import String, and_, any_, bindparam, exists, func, select, type_coerce, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from lifebank.audit import service as ledger
from lifebank.biobank._common import _chunks
from lifebank.biobank.models import (
    Consent,
    ConsentCode,
    Container,
    ContainerType,
    Participant,
    Reservation,
    Specimen,
)
from lifebank.biobank.specimen_types import SpecimenStatus
from lifebank.biobank.storage_layout import GridLayout, LabelScheme
from lifebank.db.base import utcnow
from lifebank.db.engine import Database, is_postgresql
from lifebank.errors import Conflict
from lifebank.messages import N_, Msg, register_labels

register_labels("specimen_event", {"returned": N_("Returned by the recipient")})
register_labels("ledger_action", {"specimen.distribute": N_("Specimens distributed"),
                                  "specimen.reserve_for_request": N_("Specimens reserved for a request"),
                                  "specimen.release_for_request": N_("Reservations of a request released"),
                                  "specimen.return": N_("Distributed specimens returned or destroyed")})


@dataclass(frozen=True, slots=True)
class ConsentInForce:
    """A participant's consent in force as the consent rules read it: DUO codes (sorted), date and the
    free-text scope (which may name a disease, countries… see `lifebank.access.consent_details`)."""

    codes: tuple[str, ...]
    consent_date: date | None
    scope: str


@dataclass(frozen=True, slots=True)
class SpecimenCandidate:
    """A specimen that meets a request's type (and volume) criteria, with what allocation weighs."""

    barcode: str
    participant: str
    type: str
    quantity: float | None
    unit: str
    sprec: str | None
    freeze_thaw: int
    container_id: int | None
    position: int | None


@dataclass(frozen=True, slots=True)
class StoragePlace:
    """Where a tube sits: the box's path of names split into its parts, the box path and the position."""

    parts: tuple[str, ...]
    box: str
    position_index: int
    position: str

    @property
    def label(self) -> str:
        return f"{self.box}/{self.position}"


def _among(session: Session, column: Any, values: list[Any]) -> Any:
    """`column IN (values)` for a list of thousands: on PostgreSQL one array parameter (`= ANY(:values)`),
    since psycopg spends longer parsing 5,000 separate parameters than the database spends on the query;
    SQLite's IN list is cheap."""
    if is_postgresql(session):
        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
    return column.in_(values)


def _candidate_filter(specimen_types: Sequence[str] | None, min_quantity: float | None) -> Any:
    conditions = [Specimen.participant_id == Participant.id, Specimen.status == SpecimenStatus.AVAILABLE.value]
    if specimen_types:
        conditions.append(Specimen.type.in_([t.upper() for t in specimen_types]))
    if min_quantity is not None:
        conditions.append(Specimen.quantity >= min_quantity)
    return exists().where(and_(*conditions))


def candidate_participants(db: Database, *, participant_codes: Iterable[str] | None = None,
                           specimen_types: Sequence[str] | None = None,
                           min_quantity: float | None = None) -> list[str]:
    """The participants a request is checked for: the given codes (a cohort's members) that exist, or the
    participants holding an available specimen of one of `specimen_types` (at least `min_quantity`)."""
    with db.session() as session:
        if participant_codes is not None:
            found: list[str] = []
            for chunk in _chunks(list(dict.fromkeys(participant_codes))):
                found += session.scalars(select(Participant.code).where(_among(session, Participant.code, chunk)))
            return sorted(found)
        query = select(Participant.code).where(_candidate_filter(specimen_types, min_quantity))
        return list(session.scalars(query.order_by(Participant.code)))


def consents_in_force(db: Database, *, participant_codes: Iterable[str] | None = None,
                      specimen_types: Sequence[str] | None = None,
                      min_quantity: float | None = None) -> dict[str, ConsentInForce | None]:
    """Candidate participant code -> their consent in force (None: never given or withdrawn).

    Candidates as in `candidate_participants`. The in-force consent is the latest version not withdrawn;
    its codes are aggregated by the database (one row per participant), and equal consents share one
    `ConsentInForce` object, so the consent rules decide each pattern once.
    """
    codes_list = None if participant_codes is None else list(dict.fromkeys(participant_codes))
    with db.session() as session:
        aggregate = (func.string_agg(ConsentCode.duo_code, ";") if is_postgresql(session)
                     else func.group_concat(ConsentCode.duo_code, ";"))
        # One row per candidate and consent not withdrawn; the outer joins keep candidates without one (NULL
        # codes). A superseded version (rare) is dropped below, keeping the highest consent id per participant,
        # which is cheaper than a NOT EXISTS probe per participant. The date comes as text and is parsed once
        # per consent pattern, not once per participant.
        base = (select(Participant.code, Consent.id, type_coerce(Consent.consent_date, String), Consent.scope,
                       aggregate)
                .select_from(Participant)
                .outerjoin(Consent, and_(Consent.participant_id == Participant.id, Consent.withdrawn_at.is_(None)))
                .outerjoin(ConsentCode, ConsentCode.consent_id == Consent.id)
                .group_by(Participant.code, Consent.id, Consent.consent_date, Consent.scope))
        if is_postgresql(session):  # SQLite's plan scans participants in code order already; PostgreSQL hashes
            base = base.order_by(Participant.code, Consent.id)
        connection = session.connection()
        rows: list[Any] = []
        if codes_list is not None:
            for chunk in _chunks(codes_list, 5000):
                rows += connection.execute(base.where(_among(session, Participant.code, chunk))).all()
        else:
            rows = connection.execute(base.where(_candidate_filter(specimen_types, min_quantity))).all()
    shared: dict[tuple[Any, ...], ConsentInForce] = {}
    found: dict[str, ConsentInForce | None] = {}
    latest: dict[str, int] = {}
    in_order, last = True, ""
    get = shared.get
    for code, consent_id, consent_date, scope, joined in rows:
        if code in found:  # several versions not withdrawn: the newest is in force
            if consent_id is None or consent_id < latest[code]:
                continue
        elif code < last:
            in_order = False
        last = code
        if joined is None:
            found[code] = None
            continue
        latest[code] = consent_id
        key = (joined, consent_date, scope)
        record = get(key)
        if record is None:
            record = shared[key] = ConsentInForce(tuple(sorted(set(joined.split(";")))), _date(consent_date),
                                                  scope or "")
        found[code] = record
    return found if in_order else dict(sorted(found.items()))


def _date(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def allocatable_specimens(db: Database, participant_codes: Iterable[str], *, specimen_type: str,
                          min_quantity: float | None = None, max_freeze_thaw: int | None = None,
                          sprec_prefix: str | None = None) -> tuple[list[SpecimenCandidate], dict[str, int]]:
    """Available, distributable specimens of these participants meeting the criteria, in participant and
    barcode order, and how many available specimens of that type each participant holds in all (what the
    "never the last aliquot" rule weighs, whatever the criteria)."""
    wanted = list(dict.fromkeys(participant_codes))
    out: list[SpecimenCandidate] = []
    held: dict[str, int] = {}
    type_code = specimen_type.upper()
    available = SpecimenStatus.AVAILABLE.value
    with db.session() as session:
        for chunk in _chunks(wanted, 5000):
            ids = dict(session.execute(select(Participant.id, Participant.code)
                                       .where(_among(session, Participant.code, chunk))).all())
            if not ids:
                continue
            mine = [_among(session, Specimen.participant_id, list(ids)), _same_type(type_code),
                    Specimen.status == available]
            held.update((ids[pid], n) for pid, n in session.execute(
                select(Specimen.participant_id, func.count()).where(*mine).group_by(Specimen.participant_id)))
            query = (select(Specimen.barcode, Specimen.participant_id, Specimen.type, Specimen.quantity,
                            Specimen.unit, Specimen.sprec, Specimen.freeze_thaw, Specimen.container_id,
                            Specimen.position)
                     .where(*mine, *_criteria(min_quantity, max_freeze_thaw, sprec_prefix)))
            found = [SpecimenCandidate(row[0], ids[row[1]], *row[2:]) for row in session.execute(query)]
            out += sorted(found, key=lambda c: (c.participant, c.barcode))
    return out, held


def _same_type(type_code: str) -> Any:
    """`type = X` written as `type || '' = X`: a few thousand participants' tubes are found through the
    participant index; with a plain `type = X` SQLite prefers the (type, status) index and reads every tube
    of that type in the bank (2 M rows at 10 M specimens) for each slice."""
    return Specimen.type.concat("") == type_code


def _criteria(min_quantity: float | None, max_freeze_thaw: int | None, sprec_prefix: str | None) -> list[Any]:
    conditions: list[Any] = [Specimen.distributable.is_(True)]
    if min_quantity is not None:
        conditions.append(Specimen.quantity >= min_quantity)
    if max_freeze_thaw is not None:
        conditions.append(Specimen.freeze_thaw <= max_freeze_thaw)
    if sprec_prefix:
        conditions.append(Specimen.sprec.like(sprec_prefix.upper() + "%"))
    return conditions


def allocatable_counts(db: Database, *, specimen_type: str, min_quantity: float | None = None,
                       max_freeze_thaw: int | None = None, sprec_prefix: str | None = None,
                       participant_codes: Iterable[str] | None = None) -> dict[str, int]:
    """Participant code -> how many available, distributable specimens meeting the criteria they hold (all
    participants holding one, or only these): one grouped count, for feasibility figures."""
    query = (select(Participant.code, func.count()).join(Specimen, Specimen.participant_id == Participant.id)
             .where(Specimen.type == specimen_type.upper(), Specimen.status == SpecimenStatus.AVAILABLE.value,
                    *_criteria(min_quantity, max_freeze_thaw, sprec_prefix))
             .group_by(Participant.code))
    counts: dict[str, int] = {}
    with db.session() as session:
        if participant_codes is None:
            counts.update(session.execute(query).all())
        else:
            for chunk in _chunks(list(dict.fromkeys(participant_codes)), 5000):
                counts.update(session.execute(
                    query.where(_among(session, Participant.code, chunk), _same_type(specimen_type.upper()))).all())
    return counts


def storage_places(db: Database, barcodes: Iterable[str]) -> dict[str, StoragePlace]:
    """Barcode -> where it is stored (tubes not in a box are left out), for pick lists and manifests."""
    wanted = list(dict.fromkeys(barcodes))
    places: dict[str, StoragePlace] = {}
    layouts: dict[int, GridLayout] = {}
    labels: dict[tuple[int, int], str] = {}  # (box type, index) -> "A1": a few hundred distinct among many tubes
    with db.session() as session:
        for chunk in _chunks(wanted, 5000):
            rows = session.execute(
                select(Specimen.barcode, Specimen.position, Container.name_path, ContainerType.id,
                       ContainerType.rows, ContainerType.columns, ContainerType.scheme)
                .join(Container, Container.id == Specimen.container_id)
                .join(ContainerType, ContainerType.id == Container.type_id)
                .where(_among(session, Specimen.barcode, chunk), Specimen.position.is_not(None)))
            for barcode, index, path, type_id, n_rows, n_cols, scheme in rows:
                layout = layouts.get(type_id)
                if layout is None:
                    layout = layouts[type_id] = GridLayout(n_rows or 1, n_cols or 1,
                                                           LabelScheme(scheme or LabelScheme.LETTER_NUMBER))
                label = labels.get((type_id, index))
                if label is None:
                    label = labels[(type_id, index)] = layout.label(index)
                places[barcode] = StoragePlace(tuple(path.split("/")), path, index, label)
    return places


def _events(session: Session, ids: Iterable[int], kind: str, detail: str, actor: str) -> None:
    _insert_for(session, "bb_specimen_event (specimen_id, kind, detail, actor, occurred_at)", list(ids),
                (kind, detail, actor, utcnow()))


def _insert_for(session: Session, target: str, ids: list[int], values: tuple[Any, ...]) -> None:
    """One row per specimen id with the same other values, straight through the driver: on PostgreSQL one
    INSERT … SELECT over an array of ids, on SQLite the driver's executemany (a loop in C). For 10,000 tubes
    this is a few milliseconds; SQLAlchemy's executemany built a parameter dict per row."""
    if not ids:
        return
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        marks = ", ".join(["%s"] * len(values))
        connection.exec_driver_sql(f"INSERT INTO {target} SELECT unnest(%s::bigint[]), {marks}", (ids, *values))
    else:
        marks = ", ".join("?" * (len(values) + 1))
        stamp = tuple(_sqlite_value(v) for v in values)
        connection.exec_driver_sql(f"INSERT INTO {target} VALUES ({marks})", [(i, *stamp) for i in ids])


def _sqlite_value(value: Any) -> Any:
    """A timestamp as SQLAlchemy's SQLite DateTime stores it (UTC text, as the import writes it), else the value."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


def _flip(session: Session, barcodes: Sequence[str], before: str, after: str, *,
          distributable_only: bool) -> dict[str, int]:
    """Set-based conditional UPDATE: barcode -> id of the tubes that were `before` and are now `after`.

    Through the driver: on PostgreSQL one statement over an array of barcodes, on SQLite one per 5,000."""
    flipped: dict[str, int] = {}
    if not barcodes:
        return flipped
    moves = ", container_id = NULL, position = NULL" if after in (SpecimenStatus.DISTRIBUTED.value,
                                                                 SpecimenStatus.DESTROYED.value) else ""
    only = " AND distributable" if distributable_only else ""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        flipped.update(connection.exec_driver_sql(
            f"UPDATE bb_specimen SET status = %s{moves} WHERE barcode = ANY(%s) AND status = %s{only} "
            "RETURNING barcode, id", (after, list(barcodes), before)).all())
        return flipped
    for chunk in _chunks(list(barcodes), 5000):
        marks = ", ".join("?" * len(chunk))
        flipped.update(connection.exec_driver_sql(
            f"UPDATE bb_specimen SET status = ?{moves} WHERE barcode IN ({marks}) AND status = ?{only} "
            "RETURNING barcode, id", (after, *chunk, before)).all())
    return flipped


def _refuse_missing(session: Session, barcodes: Sequence[str], flipped: dict[str, int], doing: Msg) -> None:
    missing = [b for b in barcodes if b not in flipped]
    if missing:
        shown = missing[:20]
        status = dict(session.execute(select(Specimen.barcode, Specimen.status).where(Specimen.barcode.in_(shown)))
                      .all())
        detail = ", ".join(f"{b} ({status.get(b, '?')})" for b in shown)
        raise Conflict(Msg("{count} specimen cannot be {doing}: {barcodes}",
                           plural="{count} specimens cannot be {doing}: {barcodes}", count=len(missing),
                           doing=doing, barcodes=detail))


def reserve_for_request(session: Session, barcodes: Sequence[str], *, request_ref: str, actor: str) -> None:
    """Reserve these available, distributable tubes for a request, all or none, in the caller's transaction.

    Of two fulfilments racing for a tube, the second one's UPDATE waits for the first one's row lock (or the
    SQLite write lock), then matches no row: it is refused with the tube named, and its transaction rolls back.
    """
    barcodes = list(dict.fromkeys(barcodes))
    flipped = _flip(session, barcodes, SpecimenStatus.AVAILABLE.value, SpecimenStatus.RESERVED.value,
                    distributable_only=True)
    _refuse_missing(session, barcodes, flipped, Msg(N_("reserved (taken or not distributable)")))
    _insert_for(session, "bb_reservation (specimen_id, purpose, reserved_by, reserved_at)", list(flipped.values()),
                (request_ref, actor, utcnow()))
    _events(session, flipped.values(), "reserved", request_ref, actor)
    ledger.record(session, actor=actor, action="specimen.reserve_for_request", entity_type="access_request",
                  entity_id=request_ref, change={"count": len(barcodes), "barcodes": barcodes[:1000]})


def release_for_request(session: Session, barcodes: Sequence[str], *, request_ref: str, reason: str,
                        actor: str) -> list[str]:
    """Make reserved tubes of a request available again (a withdrawal, a cancelled allocation)."""
    barcodes = list(dict.fromkeys(barcodes))
    flipped = _flip(session, barcodes, SpecimenStatus.RESERVED.value, SpecimenStatus.AVAILABLE.value,
                    distributable_only=False)
    if flipped:
        session.execute(update(Reservation).where(_among(session, Reservation.specimen_id, list(flipped.values())),
                                                  Reservation.released_at.is_(None)).values(released_at=utcnow()))
        _events(session, flipped.values(), "released", f"{request_ref}: {reason}", actor)
        ledger.record(session, actor=actor, action="specimen.release_for_request", entity_type="access_request",
                      entity_id=request_ref, change={"barcodes": list(flipped), "reason": reason})
    return list(flipped)


def not_distributable(db: Database, barcodes: Iterable[str]) -> set[str]:
    """Which of these tubes may no longer leave the bank (their participant withdrew consent)."""
    wanted = list(dict.fromkeys(barcodes))
    out: set[str] = set()
    with db.session() as session:
        for chunk in _chunks(wanted, 5000):
            out.update(session.scalars(select(Specimen.barcode).where(_among(session, Specimen.barcode, chunk),
                                                                      Specimen.distributable.is_(False))))
    return out


def mark_distributed(session: Session, barcodes: Sequence[str], *, request_ref: str, actor: str) -> None:
    """Reserved, distributable tubes leave the bank for a request: status `distributed`, out of their box,
    the request id in each tube's history. All or none."""
    barcodes = list(dict.fromkeys(barcodes))
    flipped = _flip(session, barcodes, SpecimenStatus.RESERVED.value, SpecimenStatus.DISTRIBUTED.value,
                    distributable_only=True)
    _refuse_missing(session, barcodes, flipped, Msg(N_("distributed (not reserved, or consent withdrawn)")))
    session.execute(update(Reservation).where(_among(session, Reservation.specimen_id, list(flipped.values())),
                                              Reservation.released_at.is_(None)).values(released_at=utcnow()))
    _events(session, flipped.values(), "distributed", request_ref, actor)
    ledger.record(session, actor=actor, action="specimen.distribute", entity_type="access_request",
                  entity_id=request_ref, change={"count": len(barcodes), "barcodes": barcodes[:1000]})


def record_return(session: Session, barcodes: Sequence[str], *, request_ref: str, outcome: str, note: str,
                  actor: str) -> None:
    """Distributed tubes come back (`returned`: available again, to be placed) or were destroyed by the
    recipient (`destroyed`, the certificate named in `note`)."""
    barcodes = list(dict.fromkeys(barcodes))
    target = SpecimenStatus.AVAILABLE.value if outcome == "returned" else SpecimenStatus.DESTROYED.value
    flipped = _flip(session, barcodes, SpecimenStatus.DISTRIBUTED.value, target, distributable_only=False)
    _refuse_missing(session, barcodes, flipped, Msg(N_("returned (not distributed)")))
    _events(session, flipped.values(), "returned" if outcome == "returned" else "destroyed",
            f"{request_ref}: {note}", actor)
    ledger.record(session, actor=actor, action="specimen.return", entity_type="access_request",
                  entity_id=request_ref, change={"outcome": outcome, "barcodes": barcodes[:1000], "note": note})


def holdings_by_type(db: Database) -> list[tuple[str, int, int]]:
    """(specimen type, specimens held in the bank, participants) — the HGR report's holdings."""
    held = [SpecimenStatus.AVAILABLE.value, SpecimenStatus.RESERVED.value, SpecimenStatus.IN_USE.value]
    with db.session() as session:
        return [tuple(r) for r in session.execute(  # type: ignore[misc]
            select(Specimen.type, func.count(), func.count(func.distinct(Specimen.participant_id)))
            .where(Specimen.status.in_(held)).group_by(Specimen.type).order_by(Specimen.type))]


def collected_by_type(db: Database, start: datetime, end: datetime) -> list[tuple[str, int, int]]:
    """(specimen type, specimens collected in [start, end), participants) — the HGR report's new collections."""
    with db.session() as session:
        return [tuple(r) for r in session.execute(  # type: ignore[misc]
            select(Specimen.type, func.count(), func.count(func.distinct(Specimen.participant_id)))
            .where(Specimen.collected_at >= start, Specimen.collected_at < end, Specimen.lineage == "primary")
            .group_by(Specimen.type).order_by(Specimen.type))]


def specimen_types_of(db: Database, barcodes: Iterable[str]) -> dict[str, str]:
    """Barcode -> specimen type code, for the barcodes that exist."""
    wanted = list(dict.fromkeys(barcodes))
    out: dict[str, str] = {}
    with db.session() as session:
        for chunk in _chunks(wanted, 5000):
            out.update(session.execute(select(Specimen.barcode, Specimen.type)
                                       .where(_among(session, Specimen.barcode, chunk))).all())
    return out


__all__ = ["ConsentInForce", "SpecimenCandidate", "StoragePlace", "allocatable_counts",
           "allocatable_specimens", "candidate_participants",
           "collected_by_type", "consents_in_force", "holdings_by_type", "mark_distributed", "not_distributable",
           "record_return", "release_for_request", "reserve_for_request", "specimen_types_of", "storage_places"]
