"""Each participant's consent in force as one stored signature (biobank_0006), for issue 11's consent matching.

The DUO rules decide a consent by its codes, scope text and (for a time limit, TS) its date. A bank's
participants share a handful of those, so `bb_consent_signature` keeps each distinct one once and
`bb_participant.consent_signature_id` points at the participant's consent in force (None: never given, or
withdrawn). Grouping an access request's million candidates by consent is then a read of one indexed column,
not of every consent's code rows.

Kept in the consent writer's own transaction: `participants._add_consent` (a new version is the one in force)
and `participants.withdraw_consent` (every version withdrawn: none in force) call `set_signature`, and the
participant import writes the column with the rows (`signature_ids` first). Both consent writes lock the
participant row before they touch the consents, so two writes to one participant's consent run one after the
other and the last one's signature is the one that stays.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from lifebank.biobank.models import ConsentSignature, Participant

TIME_LIMIT = "DUO:0000025"  # TS: the only term whose decision reads the consent date

SignatureKey = tuple[str, date | None, str]  # (codes sorted and ';'-joined, date when TS, scope)


def signature_key(codes: Iterable[str], consent_date: date | None, scope: str | None) -> SignatureKey:
    """What the consent rules read of a consent: its codes in one order, the date only when TS needs it."""
    ordered = sorted(set(codes))
    return ";".join(ordered), consent_date if TIME_LIMIT in ordered else None, scope or ""


def digest(key: SignatureKey) -> str:
    joined, day, scope = key
    return hashlib.sha256(f"{joined}\x1f{day.isoformat() if day else ''}\x1f{scope}".encode()).hexdigest()


def signature_ids(session: Session, keys: Iterable[SignatureKey]) -> dict[SignatureKey, int]:
    """The id of each signature, created when new (INSERT … ON CONFLICT DO NOTHING: two writers adding the same
    signature at once both end up with the one row)."""
    wanted = {digest(k): k for k in dict.fromkeys(keys)}
    if not wanted:
        return {}
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    rows = [{"digest": d, "codes": k[0], "consent_date": k[1], "scope": k[2]} for d, k in wanted.items()]
    session.execute(insert(ConsentSignature).values(rows).on_conflict_do_nothing(index_elements=["digest"]))
    found = session.execute(
        select(ConsentSignature.digest, ConsentSignature.id).where(ConsentSignature.digest.in_(list(wanted)))
    )
    return {wanted[d]: i for d, i in found}


def set_signature(session: Session, participant_id: int, key: SignatureKey | None) -> None:
    """Point the participant at the signature of their consent in force (None: no consent in force)."""
    signature = None if key is None else signature_ids(session, [key])[key]
    session.execute(
        update(Participant)
        .where(Participant.id == participant_id)
        .values(consent_signature_id=signature)
        .execution_options(synchronize_session=False)
    )


def signatures(session: Session, ids: Sequence[int]) -> dict[int, tuple[tuple[str, ...], date | None, str]]:
    """Signature id -> (codes, date (TS only), scope)."""
    out: dict[int, tuple[tuple[str, ...], date | None, str]] = {}
    wanted = sorted(set(ids))
    for start in range(0, len(wanted), 5000):
        for sid, codes, day, scope in session.execute(
            select(
                ConsentSignature.id, ConsentSignature.codes, ConsentSignature.consent_date, ConsentSignature.scope
            ).where(ConsentSignature.id.in_(wanted[start : start + 5000]))
        ):
            out[sid] = (tuple(codes.split(";")) if codes else (), _date(day), scope or "")
    return out


def _date(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


__all__ = ["SignatureKey", "digest", "set_signature", "signature_ids", "signature_key", "signatures"]
