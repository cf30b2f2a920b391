"""Participants and their consent: register a participant, record and withdraw consent, view and list them.

A participant is known by a pseudonymous code only. Withdrawing consent blocks distribution of every one of the
participant's specimens in the same transaction. The cross-domain queries that other domains reach through
`lifebank.biobank` (existing codes, participants matching consent/sex/site, participants with specimens) live
here too, as does `has_consent_in_force`, which specimen registration checks.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from sqlalchemy import and_, func, select, update
from sqlalchemy.orm import Session

from lifebank.audit import service as ledger
from lifebank.biobank._common import _chunks
from lifebank.biobank.duo import parse_duo_codes
from lifebank.biobank.models import Consent, ConsentCode, Participant, Specimen
from lifebank.db.base import utcnow
from lifebank.db.engine import Database
from lifebank.errors import Conflict, NotFound, ValidationFailed

SEXES = {"F", "M", "O", "U"}


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
