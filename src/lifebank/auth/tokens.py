"""API bearer tokens: issued once (only a hash is kept), listed without their secret, revoked by prefix."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from lifebank.audit.service import SYSTEM_ACTOR, record
from lifebank.auth.models import ApiToken, User
from lifebank.db.base import utcnow
from lifebank.db.engine import Database
from lifebank.errors import AuthenticationRequired, NotFound, ValidationFailed

TOKEN_PREFIX = "lbt"
MAX_DAYS = 3650


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def user_by_name(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username.strip().lower()))
    if user is None:
        raise NotFound("no user {username!r}", username=username)
    return user


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    prefix: str
    expires_at: datetime


def create_token(db: Database, username: str, name: str, *, days: int = 90, actor: str = SYSTEM_ACTOR) -> IssuedToken:
    name = name.strip()
    if not name or len(name) > 100:
        raise ValidationFailed("a token needs a name of 1 to 100 characters")
    if not 1 <= days <= MAX_DAYS:
        raise ValidationFailed("token lifetime {days} days is out of range (1-{max})", days=days, max=MAX_DAYS)
    prefix = secrets.token_hex(4)
    secret = secrets.token_urlsafe(32)
    token = f"{TOKEN_PREFIX}_{prefix}_{secret}"
    expires = utcnow() + timedelta(days=days)
    with db.transaction() as session:
        user = user_by_name(session, username)
        if not user.is_active:
            raise ValidationFailed("user {username!r} is disabled", username=user.username)
        session.add(ApiToken(user_id=user.id, name=name, prefix=prefix, token_hash=sha256(token), expires_at=expires))
        record(session, actor=actor, action="token.create", entity_type="api_token", entity_id=prefix,
               change={"user": user.username, "name": name, "expires_at": expires})
    return IssuedToken(token, prefix, expires)


def token_owner(db: Database, prefix: str) -> str:
    """The username a token belongs to (to decide who may revoke it)."""
    with db.session() as session:
        token = session.scalar(select(ApiToken).where(ApiToken.prefix == prefix))
        if token is None:
            raise NotFound("no API token with prefix {prefix!r}", prefix=prefix)
        return token.user.username


def revoke_token(db: Database, prefix: str, *, actor: str = SYSTEM_ACTOR) -> None:
    with db.transaction() as session:
        token = session.scalar(select(ApiToken).where(ApiToken.prefix == prefix))
        if token is None:
            raise NotFound("no API token with prefix {prefix!r}", prefix=prefix)
        if token.revoked_at is None:
            token.revoked_at = utcnow()
            record(session, actor=actor, action="token.revoke", entity_type="api_token", entity_id=prefix,
                   change={"user": token.user.username, "name": token.name})


def list_tokens(db: Database, username: str | None = None) -> list[ApiToken]:
    with db.session() as session:
        query = select(ApiToken).order_by(ApiToken.created_at)
        if username:
            query = query.where(ApiToken.user_id == user_by_name(session, username).id)
        return list(session.scalars(query))


def token_principal_user(db: Database, token: str) -> User:
    """The user behind a bearer token, or exactly why it is refused."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
        raise AuthenticationRequired("malformed API token")
    with db.session() as session:
        stored = session.scalar(select(ApiToken).where(ApiToken.prefix == parts[1]))
        if stored is None or not hmac.compare_digest(stored.token_hash, sha256(token)):
            raise AuthenticationRequired("unknown API token")
        if stored.revoked_at is not None:
            raise AuthenticationRequired("API token has been revoked")
        if stored.expires_at <= utcnow():
            raise AuthenticationRequired("API token has expired")
        if not stored.user.is_active:
            raise AuthenticationRequired("user {username!r} is disabled", username=stored.user.username)
        return stored.user
