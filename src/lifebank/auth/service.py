"""Use cases of authentication and authorisation. Every state change is ledgered in its transaction."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lifebank.audit.service import SYSTEM_ACTOR, record
from lifebank.auth.models import ApiToken, LoginThrottle, RoleGrant, User, WebSession
from lifebank.auth.passwords import DUMMY_HASH, check_policy, hash_password, verify_password
from lifebank.auth.permissions import Role, parse_role, permissions_of
from lifebank.config import Settings
from lifebank.db.base import utcnow
from lifebank.db.engine import Database
from lifebank.errors import AuthenticationRequired, Conflict, NotFound, TooManyAttempts, ValidationFailed

_USERNAME = re.compile(r"^[a-z][a-z0-9._-]{2,63}$")
TOKEN_PREFIX = "lbt"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is acting, with what rights: what routes and services receive after authentication."""

    user_id: int
    username: str
    roles: frozenset[str]
    locale: str | None = None
    permissions: frozenset[str] = field(default_factory=frozenset)

    def can(self, permission: str) -> bool:
        return permission in self.permissions


def principal_of(user: User) -> Principal:
    return Principal(user.id, user.username, user.roles, user.locale, permissions_of(user.roles))


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _user_by_name(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username.lower()))
    if user is None:
        raise NotFound(f"no user {username!r}")
    return user


# --- users -------------------------------------------------------------------------------------------

def create_user(
    db: Database, username: str, password: str, roles: list[str], *, display_name: str = "",
    locale: str | None = None, actor: str = SYSTEM_ACTOR,
) -> User:
    username = username.strip().lower()
    if not _USERNAME.match(username):
        raise ValidationFailed(
            f"username {username!r} is not valid: 3-64 characters, a letter first, then letters, digits, . _ -"
        )
    if not roles:
        raise ValidationFailed("a user needs at least one role")
    try:
        parsed = sorted({parse_role(r) for r in roles})
    except ValueError as exc:
        raise ValidationFailed(str(exc)) from None
    check_policy(password, username)
    try:
        with db.transaction() as session:
            if session.scalar(select(User.id).where(User.username == username)) is not None:
                raise Conflict(f"user {username!r} already exists")
            user = User(username=username, display_name=display_name or username,
                        password_hash=hash_password(password), locale=locale)
            user.grants = [RoleGrant(role=r.value) for r in parsed]
            session.add(user)
            session.flush()
            record(session, actor=actor, action="user.create", entity_type="user", entity_id=username,
                   change={"roles": [r.value for r in parsed], "locale": locale})
    except IntegrityError:
        raise Conflict(f"user {username!r} already exists") from None
    return user


def list_users(db: Database) -> list[User]:
    with db.session() as session:
        return list(session.scalars(select(User).order_by(User.username)))


def set_active(db: Database, username: str, active: bool, *, actor: str = SYSTEM_ACTOR) -> User:
    with db.transaction() as session:
        user = _user_by_name(session, username)
        user.is_active = active
        if not active:
            now = utcnow()
            for web_session in session.scalars(select(WebSession).where(
                    WebSession.user_id == user.id, WebSession.ended_at.is_(None))):
                web_session.ended_at = now
        record(session, actor=actor, action="user.enable" if active else "user.disable",
               entity_type="user", entity_id=user.username)
    return user


def set_roles(db: Database, username: str, roles: list[str], *, actor: str) -> User:
    try:
        parsed = sorted({parse_role(r) for r in roles})
    except ValueError as exc:
        raise ValidationFailed(str(exc)) from None
    if not parsed:
        raise ValidationFailed("a user needs at least one role")
    with db.transaction() as session:
        user = _user_by_name(session, username)
        user.grants = [g for g in user.grants if g.scope_type is not None] + [RoleGrant(role=r.value) for r in parsed]
        record(session, actor=actor, action="user.roles", entity_type="user", entity_id=user.username,
               change={"roles": [r.value for r in parsed]})
    return user


def set_locale(db: Database, user_id: int, locale: str) -> None:
    with db.transaction() as session:
        user = session.get(User, user_id)
        if user is None:
            raise NotFound(f"no user #{user_id}")
        user.locale = locale
        record(session, actor=user.username, action="user.locale", entity_type="user", entity_id=user.username,
               change={"locale": locale})


# --- login -------------------------------------------------------------------------------------------

def authenticate(db: Database, settings: Settings, username: str, password: str) -> Principal:
    """Check a password, throttling repeated failures per username whether or not the user exists."""
    key = username.strip().lower()[:64]
    now = utcnow()
    with db.transaction() as session:
        throttle = session.get(LoginThrottle, key)
        if throttle and throttle.locked_until and throttle.locked_until > now:
            minutes = max(1, int((throttle.locked_until - now).total_seconds() // 60) + 1)
            raise TooManyAttempts(f"too many failed logins for {key!r}; try again in {minutes} min")
        user = session.scalar(select(User).where(User.username == key))
        valid = verify_password(user.password_hash if user else DUMMY_HASH, password) and user is not None
        if valid and user is not None and user.is_active:
            if throttle:
                session.delete(throttle)
            record(session, actor=user.username, action="auth.login", entity_type="user", entity_id=user.username)
            return principal_of(user)
        window = timedelta(minutes=settings.login_lockout_minutes)
        if throttle is None:
            throttle = LoginThrottle(key=key, failures=0, window_start=now)
            session.add(throttle)
        if now - throttle.window_start > window:
            throttle.failures, throttle.window_start, throttle.locked_until = 0, now, None
        throttle.failures += 1
        if throttle.failures >= settings.login_max_failures:
            throttle.locked_until = now + window
        record(session, actor=SYSTEM_ACTOR, action="auth.login_failed", entity_type="user", entity_id=key,
               change={"failures": throttle.failures})
    if user is not None and valid and not user.is_active:
        raise AuthenticationRequired(f"user {key!r} is disabled")
    raise AuthenticationRequired("wrong username or password")


def start_session(db: Database, settings: Settings, principal: Principal) -> str:
    token = secrets.token_urlsafe(32)
    with db.transaction() as session:
        session.add(WebSession(token_hash=_sha256(token), user_id=principal.user_id,
                               expires_at=utcnow() + timedelta(hours=settings.session_hours)))
    return token


def session_principal(db: Database, token: str) -> Principal | None:
    with db.session() as session:
        web_session = session.scalar(select(WebSession).where(WebSession.token_hash == _sha256(token)))
        if (web_session is None or web_session.ended_at is not None or web_session.expires_at <= utcnow()
                or not web_session.user.is_active):
            return None
        return principal_of(web_session.user)


def end_session(db: Database, token: str) -> None:
    with db.transaction() as session:
        web_session = session.scalar(select(WebSession).where(WebSession.token_hash == _sha256(token)))
        if web_session is not None and web_session.ended_at is None:
            web_session.ended_at = utcnow()
            record(session, actor=web_session.user.username, action="auth.logout", entity_type="user",
                   entity_id=web_session.user.username)


# --- API tokens --------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    prefix: str
    expires_at: datetime


def create_token(db: Database, username: str, name: str, *, days: int = 90, actor: str = SYSTEM_ACTOR) -> IssuedToken:
    if not 1 <= days <= 3650:
        raise ValidationFailed(f"token lifetime {days} days is out of range (1-3650)")
    prefix = secrets.token_hex(4)
    secret = secrets.token_urlsafe(32)
    token = f"{TOKEN_PREFIX}_{prefix}_{secret}"
    expires = utcnow() + timedelta(days=days)
    with db.transaction() as session:
        user = _user_by_name(session, username)
        if not user.is_active:
            raise ValidationFailed(f"user {username!r} is disabled")
        session.add(ApiToken(user_id=user.id, name=name, prefix=prefix, token_hash=_sha256(token), expires_at=expires))
        record(session, actor=actor, action="token.create", entity_type="api_token", entity_id=prefix,
               change={"user": user.username, "name": name, "expires_at": expires})
    return IssuedToken(token, prefix, expires)


def revoke_token(db: Database, prefix: str, *, actor: str = SYSTEM_ACTOR) -> None:
    with db.transaction() as session:
        token = session.scalar(select(ApiToken).where(ApiToken.prefix == prefix))
        if token is None:
            raise NotFound(f"no API token with prefix {prefix!r}")
        if token.revoked_at is None:
            token.revoked_at = utcnow()
            record(session, actor=actor, action="token.revoke", entity_type="api_token", entity_id=prefix)


def list_tokens(db: Database, username: str | None = None) -> list[ApiToken]:
    with db.session() as session:
        query = select(ApiToken).order_by(ApiToken.created_at)
        if username:
            query = query.where(ApiToken.user_id == _user_by_name(session, username).id)
        return list(session.scalars(query))


def token_principal(db: Database, token: str) -> Principal:
    """Resolve a bearer token or say exactly why it is refused."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
        raise AuthenticationRequired("malformed API token")
    with db.session() as session:
        stored = session.scalar(select(ApiToken).where(ApiToken.prefix == parts[1]))
        if stored is None or not hmac.compare_digest(stored.token_hash, _sha256(token)):
            raise AuthenticationRequired("unknown API token")
        if stored.revoked_at is not None:
            raise AuthenticationRequired("API token has been revoked")
        if stored.expires_at <= utcnow():
            raise AuthenticationRequired("API token has expired")
        if not stored.user.is_active:
            raise AuthenticationRequired(f"user {stored.user.username!r} is disabled")
        return principal_of(stored.user)


def has_users(db: Database) -> bool:
    with db.session() as session:
        return session.scalar(select(User.id).limit(1)) is not None


ALL_ROLES = [r.value for r in Role]
