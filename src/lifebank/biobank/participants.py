"""Participants and their consent: register a participant, record and withdraw consent, view and list them.

A participant is known by a pseudonymous code only. Withdrawing consent blocks distribution of every one of the
participant's specimens in the same transaction. The cross-domain queries that other domains reach through
`lifebank.biobank` (existing codes, participants matching consent/sex/site, participants with specimens) live
here too, as does `has_consent_in_force`, which specimen registration checks.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import and_, exists, false, func, not_, or_, select, update
from sqlalchemy.orm import Session

from lifebank.audit import service as ledger
from lifebank.biobank._common import _chunks
from lifebank.biobank.consent_signatures import set_signature, signature_key
from lifebank.biobank.duo import UnknownDuoTerm, parse_duo_codes
from lifebank.biobank.models import Consent, ConsentCode, Participant, Reservation, Specimen
from lifebank.db.base import utcnow
from lifebank.db.engine import Database
from lifebank.errors import Conflict, NotFound, ValidationFailed
from lifebank.messages import N_, Msg, register_labels

SEXES = {"F", "M", "O", "U"}
CONSENT_STATUSES = ("in_force", "withdrawn", "none")
register_labels("consent_status", {"in_force": N_("Consent in force"), "withdrawn": N_("Consent withdrawn"),
                                   "none": N_("No consent recorded")})
# How a list of participants may be sorted: the key a user picks -> the column.
SORTS = {"code": Participant.code, "site": Participant.site, "sex": Participant.sex,
         "birth_year": Participant.birth_year, "registered": Participant.created_at}
PREVIEW_LIMIT = 200  # rows a withdrawal preview lists (the counts are always exact)


def participant_row(session: Session, code: str, *, lock: bool = False) -> Participant:
    """The participant by code; `lock` takes the row lock (PostgreSQL) that consent writes serialise on."""
    query = select(Participant).where(Participant.code == code)
    participant = session.scalar(query.with_for_update() if lock else query)
    if participant is None:
        raise NotFound("participant {code!r} does not exist", code=code)
    return participant


def check_participant_fields(sex: str, birth_year: int | None, site: str) -> Msg | None:
    if sex not in SEXES:
        return Msg("sex {sex!r} must be one of F, M, O, U", sex=sex)
    if birth_year is not None and not 1900 <= birth_year <= utcnow().year:
        return Msg("birth year {year} is out of range 1900..{this_year}", year=birth_year, this_year=utcnow().year)
    if not site or len(site) > 64:
        return Msg("site is required (at most 64 characters)")
    return None


def _checked_new_participant(code: str, sex: str, birth_year: int | None, site: str) -> None:
    if not code or len(code) > 32 or not code.replace("-", "").replace("_", "").isalnum():
        raise ValidationFailed("participant code {code!r} must be 1-32 letters, digits, '-' or '_'", code=code)
    if error := check_participant_fields(sex, birth_year, site):
        raise ValidationFailed(error)


def _checked_duo_codes(duo_codes: Sequence[str] | str) -> list[str]:
    try:
        codes = parse_duo_codes(duo_codes if isinstance(duo_codes, str) else ";".join(duo_codes))
    except UnknownDuoTerm as exc:
        raise ValidationFailed(exc.message) from None
    if not codes:
        raise ValidationFailed("a consent needs at least one DUO code")
    return codes


def _add_participant(session: Session, code: str, sex: str, birth_year: int | None, site: str,
                     actor: str) -> Participant:
    if session.scalar(select(Participant.id).where(Participant.code == code)) is not None:
        raise Conflict("participant {code!r} already exists", code=code)
    participant = Participant(code=code, sex=sex, birth_year=birth_year, site=site)
    session.add(participant)
    session.flush()
    ledger.record(session, actor=actor, action="participant.register", entity_type="participant",
                  entity_id=code, change={"sex": sex, "birth_year": birth_year, "site": site})
    return participant


def _add_consent(session: Session, participant: Participant, codes: list[str], consent_date: date, scope: str,
                 actor: str) -> Consent:
    latest = session.scalar(select(func.max(Consent.version)).where(Consent.participant_id == participant.id))
    consent = Consent(participant_id=participant.id, version=(latest or 0) + 1, consent_date=consent_date,
                      scope=scope)
    session.add(consent)
    session.flush()
    session.add_all([ConsentCode(consent_id=consent.id, duo_code=code, participant_id=participant.id,
                                 in_force=True) for code in codes])
    set_signature(session, participant.id, signature_key(codes, consent_date, scope))  # the newest is in force
    ledger.record(session, actor=actor, action="consent.record", entity_type="participant",
                  entity_id=participant.code, change={"version": consent.version, "codes": codes,
                                                      "date": consent_date.isoformat(), "scope": scope})
    return consent


def register_participant(db: Database, code: str, *, sex: str, birth_year: int | None, site: str,
                         actor: str) -> Participant:
    """A participant is known by a pseudonymous code only: this domain never holds a name."""
    _checked_new_participant(code, sex, birth_year, site)
    with db.transaction() as session:
        return _add_participant(session, code, sex, birth_year, site, actor)


def register_participant_with_consent(db: Database, code: str, *, sex: str, birth_year: int | None, site: str,
                                      duo_codes: Sequence[str] | str, consent_date: date, scope: str = "",
                                      actor: str) -> Participant:
    """Register a participant and their first consent in one transaction: a participant enrolled at the desk
    is never left in the bank without the consent that allowed the enrolment (two ledger events, one commit)."""
    _checked_new_participant(code, sex, birth_year, site)
    codes = _checked_duo_codes(duo_codes)
    with db.transaction() as session:
        participant = _add_participant(session, code, sex, birth_year, site, actor)
        _add_consent(session, participant, codes, consent_date, scope, actor)
    return participant


def record_consent(db: Database, participant_code: str, *, duo_codes: Sequence[str] | str, consent_date: date,
                   scope: str = "", actor: str) -> Consent:
    """Add a new consent version; the newest unwithdrawn version is the one in force."""
    codes = _checked_duo_codes(duo_codes)
    with db.transaction() as session:
        return _add_consent(session, participant_row(session, participant_code, lock=True), codes, consent_date,
                            scope, actor)


def _open_reservations(session: Session, participant_id: int) -> Any:
    return (select(Specimen.barcode, Reservation.purpose, Reservation.reserved_by, Reservation.reserved_at)
            .join(Reservation, Reservation.specimen_id == Specimen.id)
            .where(Specimen.participant_id == participant_id, Reservation.released_at.is_(None)))


def withdrawal_preview(db: Database, participant_code: str) -> dict[str, Any]:
    """What withdrawing this participant's consent would block, before anyone confirms it: the specimens that
    stop being distributable and the open reservations on their specimens (counts exact, lists capped)."""
    with db.session() as session:
        participant = participant_row(session, participant_code)
        in_force = session.scalar(select(func.count()).where(Consent.participant_id == participant.id,
                                                             Consent.withdrawn_at.is_(None))) or 0
        distributable = (Specimen.participant_id == participant.id, Specimen.distributable.is_(True))
        blocked = session.scalar(select(func.count()).where(*distributable)) or 0
        specimens = [{"barcode": b, "type": t, "status": st} for b, t, st in session.execute(
            select(Specimen.barcode, Specimen.type, Specimen.status).where(*distributable)
            .order_by(Specimen.barcode).limit(PREVIEW_LIMIT))]
        reservations_query = _open_reservations(session, participant.id)
        reservations = session.scalar(select(func.count()).select_from(reservations_query.subquery())) or 0
        reserved = [{"barcode": b, "purpose": p, "reserved_by": by, "reserved_at": at} for b, p, by, at in
                    session.execute(reservations_query.order_by(Specimen.barcode).limit(PREVIEW_LIMIT))]
    return {"participant": participant_code, "consents_in_force": in_force, "specimens_blocked": blocked,
            "specimens": specimens, "reservations_affected": reservations, "reservations": reserved,
            "shown_limit": PREVIEW_LIMIT}


def withdraw_consent(db: Database, participant_code: str, *, reason: str = "", actor: str) -> int:
    """Withdraw every consent of the participant and, in the same transaction, make each of their
    specimens not distributable. Returns how many specimens were blocked."""
    with db.transaction() as session:
        participant = participant_row(session, participant_code, lock=True)
        now = utcnow()
        withdrawn = session.execute(
            update(Consent).where(Consent.participant_id == participant.id, Consent.withdrawn_at.is_(None))
            .values(withdrawn_at=now, withdrawal_reason=reason)
        ).rowcount
        if not withdrawn:
            raise Conflict("participant {code!r} has no consent in force to withdraw", code=participant_code)
        session.execute(update(ConsentCode).where(ConsentCode.participant_id == participant.id)
                        .values(in_force=False))
        set_signature(session, participant.id, None)
        reservations = session.scalar(select(func.count()).select_from(
            _open_reservations(session, participant.id).subquery())) or 0
        blocked = session.execute(
            update(Specimen).where(Specimen.participant_id == participant.id).values(distributable=False)
        ).rowcount
        ledger.record(session, actor=actor, action="consent.withdraw", entity_type="participant",
                      entity_id=participant_code, change={"reason": reason, "consents": withdrawn,
                                                          "specimens_blocked": blocked,
                                                          "reservations_affected": reservations})
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
                             "withdrawn_at": consent.withdrawn_at.isoformat() if consent.withdrawn_at else None,
                             "withdrawal_reason": consent.withdrawal_reason})
        specimens = session.scalar(select(func.count()).where(Specimen.participant_id == participant.id)) or 0
        blocked = session.scalar(select(func.count()).where(Specimen.participant_id == participant.id,
                                                            Specimen.distributable.is_(False))) or 0
    status = "none" if not consents else "withdrawn" if all(c["withdrawn_at"] for c in consents) else "in_force"
    return {"code": participant.code, "sex": participant.sex, "birth_year": participant.birth_year,
            "site": participant.site, "consents": consents, "specimens": specimens,
            "consent_status": status, "specimens_not_distributable": blocked}


# --- the list: filters, sort, pages and export -----------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ParticipantFilter:
    code: str | None = None  # a prefix of the participant code
    site: str | None = None
    consent_code: str | None = None  # a DUO id or shorthand that a consent in force carries
    consent_status: str | None = None  # in_force, withdrawn or none
    scope: Any = None  # the reader's lifebank.auth.Scope when their grant is scoped; None: everyone


def _consent_in_force() -> Any:
    return exists().where(Consent.participant_id == Participant.id, Consent.withdrawn_at.is_(None))


def _any_consent() -> Any:
    return exists().where(Consent.participant_id == Participant.id)


def _participants_query(flt: ParticipantFilter) -> Any:
    """The filter as a query; an unknown consent code or status is a user error naming it (never 0 rows)."""
    query = select(Participant)
    if flt.code:
        query = query.where(Participant.code.startswith(flt.code.strip(), autoescape=True))
    if flt.site:
        query = query.where(Participant.site == flt.site.strip())
    if flt.consent_code:
        try:
            codes = parse_duo_codes(flt.consent_code)
        except UnknownDuoTerm as exc:
            raise ValidationFailed(exc.message) from None
        for code in codes:
            query = query.where(exists().where(ConsentCode.participant_id == Participant.id,
                                               ConsentCode.duo_code == code, ConsentCode.in_force.is_(True)))
    if flt.consent_status:
        if flt.consent_status not in CONSENT_STATUSES:
            raise ValidationFailed("consent status {status!r} is not one of {choices}", status=flt.consent_status,
                                   choices=", ".join(CONSENT_STATUSES))
        query = query.where(_consent_in_force() if flt.consent_status == "in_force" else
                            and_(_any_consent(), not_(_consent_in_force())) if flt.consent_status == "withdrawn"
                            else not_(_any_consent()))
    if flt.scope is not None:
        query = query.where(participant_in_scope(flt.scope))
    return query


def participant_in_scope(scope: Any) -> Any:
    """SQL condition: collected at one of the scope's sites, or holding a specimen kept under one of its
    collections (storage paths). An empty scope matches nobody (deny by default)."""
    from lifebank.biobank.storage import containers_under

    conditions: list[Any] = []
    if scope.sites:
        conditions.append(Participant.site.in_(sorted(scope.sites)))
    if scope.collections:
        conditions.append(exists().where(Specimen.participant_id == Participant.id,
                                         Specimen.container_id.in_(containers_under(scope.collections))))
    return or_(*conditions) if conditions else false()


def _ordered(query: Any, sort: str, descending: bool) -> Any:
    if sort not in SORTS:
        raise ValidationFailed("sort {sort!r} is not one of {choices}", sort=sort, choices=", ".join(SORTS))
    column = SORTS[sort]
    return query.order_by(column.desc() if descending else column, Participant.code)


def _rows(session: Session, participants: Sequence[Participant]) -> list[dict[str, Any]]:
    """List rows with each participant's consent status and specimen count (one grouped query each)."""
    ids = [p.id for p in participants]
    in_force = set(session.scalars(select(Consent.participant_id).where(
        Consent.participant_id.in_(ids), Consent.withdrawn_at.is_(None)))) if ids else set()
    consented = set(session.scalars(select(Consent.participant_id).where(Consent.participant_id.in_(ids)))) \
        if ids else set()
    counts = dict(session.execute(select(Specimen.participant_id, func.count()).where(
        Specimen.participant_id.in_(ids)).group_by(Specimen.participant_id)).all()) if ids else {}
    return [{"code": p.code, "sex": p.sex, "birth_year": p.birth_year, "site": p.site,
             "consent_status": "in_force" if p.id in in_force else "withdrawn" if p.id in consented else "none",
             "specimens": counts.get(p.id, 0), "registered": p.created_at} for p in participants]


def list_participants(db: Database, flt: ParticipantFilter | None = None, *, site: str | None = None,
                      sort: str = "code", descending: bool = False, limit: int = 50,
                      offset: int = 0) -> tuple[int, list[dict[str, Any]]]:
    """A page of participants matching `flt` (or `site` alone), sorted, and the exact number of matches."""
    flt = flt or ParticipantFilter(site=site)
    query = _participants_query(flt)
    with db.session() as session:
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        page = list(session.scalars(_ordered(query, sort, descending).limit(limit).offset(offset)))
        items = _rows(session, page)
    return total, items


def iter_participants(db: Database, flt: ParticipantFilter, *, sort: str = "code", descending: bool = False,
                      chunk: int = 2000) -> Iterator[dict[str, Any]]:
    """Every matching participant, in order, read a chunk at a time (for exports of the whole list).

    The filter is checked here, when called, so a wrong filter is an error answer rather than a download
    that breaks off; the rows are then read as the response is written, one short session per chunk."""
    query = _ordered(_participants_query(flt), sort, descending)

    def chunks() -> Iterator[dict[str, Any]]:
        offset = 0
        while True:
            with db.session() as session:
                page = list(session.scalars(query.limit(chunk).offset(offset)))
                rows = _rows(session, page)
            yield from rows
            if len(page) < chunk:
                return
            offset += chunk

    return chunks()


def has_consent_in_force(session: Session, participant_id: int) -> bool:
    return session.scalar(select(Consent.id).where(Consent.participant_id == participant_id,
                                                   Consent.withdrawn_at.is_(None)).limit(1)) is not None


def existing_participants(db: Database, codes: Iterable[str]) -> set[str]:
    wanted = list(dict.fromkeys(codes))
    found: set[str] = set()
    with db.session() as session:
        for chunk in _chunks(wanted):
            found.update(session.scalars(select(Participant.code).where(Participant.code.in_(chunk))))
    return found


def _codes_among(db: Database, query: Any, among: Iterable[str] | None) -> set[str]:
    """Run a participant-code query over the whole bank, or only over `among` (in chunks): a cohort that has
    already narrowed its candidates (e.g. to the carriers of a variant) asks about those, not 100,000 others."""
    with db.session() as session:
        if among is None:
            return set(session.scalars(query))
        found: set[str] = set()
        for chunk in _chunks(sorted(set(among))):
            found.update(session.scalars(query.where(Participant.code.in_(chunk))))
        return found


def participants_matching(db: Database, *, consent_code: str | None = None, sex: str | None = None,
                          site: str | None = None, among: Iterable[str] | None = None) -> set[str]:
    query = select(Participant.code)
    if consent_code:
        query = query.where(Participant.id.in_(
            select(Consent.participant_id).join(ConsentCode, ConsentCode.consent_id == Consent.id)
            .where(ConsentCode.duo_code == consent_code, Consent.withdrawn_at.is_(None))))
    if sex:
        query = query.where(Participant.sex == sex)
    if site:
        query = query.where(Participant.site == site)
    return _codes_among(db, query, among)


def participants_with_specimens(db: Database, *, specimen_type: str | None = None,
                                status: str | None = "available", min_quantity: float | None = None,
                                among: Iterable[str] | None = None) -> set[str]:
    conditions = [Specimen.participant_id == Participant.id]
    if specimen_type:
        conditions.append(Specimen.type == specimen_type.upper())
    if status:
        conditions.append(Specimen.status == status)
    if min_quantity is not None:
        conditions.append(Specimen.quantity >= min_quantity)
    query = select(Participant.code).where(select(Specimen.id).where(and_(*conditions)).exists())
    return _codes_among(db, query, among)


def list_participant_codes(db: Database, limit: int) -> list[str]:
    with db.session() as session:
        return list(session.scalars(select(Participant.code).order_by(Participant.code).limit(limit)))
