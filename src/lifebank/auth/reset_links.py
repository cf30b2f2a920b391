"""One-time password reset links: an administrator issues one, the user sets a new password through it.

A biobank runs without outgoing e-mail (and must not send passwords around): the administrator hands the
link over in person or through the hospital's own channel. The token is 256 random bits, stored only as its
SHA-256; it works once, for `hours` (default 24), and a new link retires the older ones of the same user.
Every refusal says the same thing ("invalid or expired"), so a link cannot be probed for which of those it is.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update

from lifebank.audit.service import record
from lifebank.auth.models import LoginThrottle, PasswordResetLink, User
from lifebank.auth.passwords import check_policy, hash_password
from lifebank.db.base import utcnow
from lifebank.db.engine import Database
from lifebank.errors import NotFound, ValidationFailed
from lifebank.messages import N_, register_labels

RESET_PATH = "/reset/"
register_labels("ledger_action", {"user.reset_link": N_("Password reset link issued"),
                                  "user.password_reset_by_link": N_("Password set through a reset link")})


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_reset_link(db: Database, username: str, *, actor: str, hours: int = 24) -> tuple[str, datetime]:
    """A new link's token and expiry for `username`; older unused links of the user stop working."""
    if not 1 <= hours <= 168:
        raise ValidationFailed("a reset link lasts 1 to 168 hours, not {hours}", hours=hours)
    token = secrets.token_urlsafe(32)
    now = utcnow()
    expires = now + timedelta(hours=hours)
    with db.transaction() as session:
        user = session.scalar(select(User).where(User.username == username.strip().lower()))
        if user is None:
            raise NotFound("no user {username!r}", username=username)
        session.execute(update(PasswordResetLink).where(PasswordResetLink.user_id == user.id,
                                                        PasswordResetLink.used_at.is_(None))
                        .values(used_at=now))
        session.add(PasswordResetLink(token_hash=_digest(token), user_id=user.id, created_by=actor,
                                      created_at=now, expires_at=expires))
        record(session, actor=actor, action="user.reset_link", entity_type="user", entity_id=user.username,
               change={"expires_at": expires.isoformat(timespec="seconds")})
    return token, expires


def link_user(db: Database, token: str) -> str:
    """The username a valid, unused link belongs to (for the form's heading); refused like a bad link else."""
    with db.session() as session:
        link = session.scalar(select(PasswordResetLink).where(PasswordResetLink.token_hash == _digest(token)))
        if link is None or link.used_at is not None or link.expires_at <= utcnow():
            raise ValidationFailed("this password reset link is invalid or has expired; ask an administrator "
                                   "for a new one")
        user = session.get(User, link.user_id)
        assert user is not None  # the foreign key cascades
        return user.username


def reset_with_link(db: Database, token: str, password: str, repeated: str) -> str:
    """Set the password through a link (once); the user's sessions end and any lockout is lifted."""
    now = utcnow()
    with db.transaction() as session:
        link = session.scalar(select(PasswordResetLink).where(PasswordResetLink.token_hash == _digest(token))
                              .with_for_update())
        if link is None or link.used_at is not None or link.expires_at <= now:
            raise ValidationFailed("this password reset link is invalid or has expired; ask an administrator "
                                   "for a new one")
        user = session.get(User, link.user_id)
        assert user is not None
        if password != repeated:
            raise ValidationFailed("the two passwords differ")
        check_policy(password, user.username)
        user.password_hash = hash_password(password)
        link.used_at = now
        from lifebank.auth.service import _end_sessions

        ended = _end_sessions(session, user)
        throttle = session.get(LoginThrottle, user.username)
        if throttle is not None:
            session.delete(throttle)
        record(session, actor=user.username, action="user.password_reset_by_link", entity_type="user",
               entity_id=user.username, change={"sessions_ended": ended})
    return user.username
