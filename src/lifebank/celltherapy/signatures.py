"""Electronic signatures on custody transfers, in the spirit of 21 CFR Part 11 (11.50, 11.200) and China's
GMP annex on computerised systems: the signer re-enters their password at the moment of signing; the record
keeps the signer, the time and the meaning ("handed over", "received", "released", ...), and is ledgered with
the step it signs.

The password is checked by the platform's own `auth.service.authenticate`, so the login throttle applies to
signatures too (five wrong passwords lock the name for a while) and a refused signature is ledgered twice:
by authentication (`auth.login_failed`) and here, against the order (`celltherapy.signature.refused`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from lifebank.celltherapy._common import ledger_refusal, settings_or_default
from lifebank.config import Settings
from lifebank.db.base import utcnow
from lifebank.db.engine import Database
from lifebank.errors import AuthenticationRequired, LifeBankError, PermissionDenied

SIGN_PERMISSION = "celltherapy.record"


@dataclass(frozen=True, slots=True)
class SignedBy:
    """A signer who has just proved who they are; the step assigns the meaning."""

    username: str
    signed_at: datetime


def sign(db: Database, username: str, password: str, *, order: str, settings: Settings | None = None) -> SignedBy:
    """Re-authenticate `username` with `password` for a signature on `order`; refusals are ledgered."""
    from lifebank.auth import service as auth

    try:
        principal = auth.authenticate(db, settings_or_default(settings), username, password)
    except LifeBankError as exc:
        ledger_refusal(db, actor=username.strip().lower()[:64] or "?", action="celltherapy.signature.refused",
                       entity_id=order, error=exc)
        raise AuthenticationRequired("electronic signature of {username} refused: {reason}", username=username,
                                     reason=exc.message) from None
    if not principal.can(SIGN_PERMISSION):
        error = PermissionDenied("{username} may not sign chain-of-custody steps", username=principal.username)
        ledger_refusal(db, actor=principal.username, action="celltherapy.signature.refused", entity_id=order,
                       error=error)
        raise error
    return SignedBy(principal.username, utcnow())
