"""Use cases of authentication and authorisation. Every state change is ledgered in its transaction.

One rule guards the whole platform: there is always at least one active administrator. It lives here, in
the service, so the pages, the API and the CLI all obey it — an admin who removes their own admin role, or
disables the last other admin, would otherwise lock everyone out of user management for good.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lifebank.audit.service import SYSTEM_ACTOR, record, serialise_writers
from lifebank.auth.models import LoginThrottle, RoleGrant, User, WebSession
from lifebank.auth.passwords import DUMMY_HASH, check_policy, hash_password, verify_password
from lifebank.auth.permissions import ROLE_PERMISSIONS, Role, parse_role, permissions_of
from lifebank.auth.scopes import Scope, ScopeRef, ScopeType, scoped_permissions
from lifebank.auth.tokens import (
    TOKEN_PREFIX,
    IssuedToken,
    create_token,
    list_tokens,
    revoke_token,
    sha256,
    token_owner,
    token_principal_user,
    user_by_name,
)
from lifebank.config import Settings
from lifebank.db.base import utcnow
from lifebank.db.engine import Database
from lifebank.errors import AuthenticationRequired, Conflict, NotFound, TooManyAttempts, ValidationFailed
from lifebank.messages import N_, register_labels

_USERNAME = re.compile(r"^[a-z][a-z0-9._-]{2,63}$")

register_labels("ledger_action", {
    "user.create": N_("User created"),
    "user.enable": N_("User enabled"),
    "user.disable": N_("User disabled"),
    "user.roles": N_("Roles changed"),
    "user.locale": N_("Language chosen"),
    "user.preferences": N_("Preferences changed"),
    "user.password_reset": N_("Password reset"),
    "user.unlock": N_("User unlocked"),
    "auth.login": N_("Logged in"),
    "auth.login_failed": N_("Failed login"),
    "auth.logout": N_("Logged out"),
    "token.create": N_("API token created"),
    "token.revoke": N_("API token revoked"),
})
register_labels("entity_type", {"user": N_("User"), "api_token": N_("API token")})


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is acting, with what rights: what routes and services receive after authentication."""

    user_id: int
    username: str
    roles: frozenset[str]
    locale: str | None = None
    permissions: frozenset[str] = field(default_factory=frozenset)
    time_zone: str | None = None  # read by lifebank.web.templating.time_zone_of
    organisation_id: int | None = None  # lifebank.auth.organisation_of_user names it
    # Permissions held only through scoped grants -> where they apply (absent: everywhere, or not at all).
    scopes: Mapping[str, Scope] = field(default_factory=dict, compare=False, hash=False)
    scoped_grants: tuple[str, ...] = ()  # 'technician@site:Hangzhou', for display

    def can(self, permission: str) -> bool:
        """Held everywhere (a global grant). Scoped grants never satisfy this: only routes that filter by
        scope ask `can_within` — deny by default for every route that does not."""
        return permission in self.permissions

    def can_within(self, permission: str) -> bool:
        """Held everywhere or within some sites/collections (then filter by `scope_of`)."""
        return permission in self.permissions or permission in self.scopes

    def scope_of(self, permission: str) -> Scope | None:
        """Where `permission` applies: None means everywhere (a global grant); a Scope limits it to those
        sites and collections; a permission not held at all gets the empty Scope, which matches nothing."""
        if permission in self.permissions:
            return None
        return self.scopes.get(permission, Scope())


def principal_of(user: User) -> Principal:
    """The principal of a user: global roles' permissions, plus what scoped grants confer (limited)."""
    granted = permissions_of(user.roles)
    refs = [(g.role, ScopeRef(ScopeType(g.scope_type), g.scope_id or "")) for g in user.scoped_grants
            if g.scope_type in {t.value for t in ScopeType}]
    scopes = scoped_permissions(refs, ROLE_PERMISSIONS, granted)  # type: ignore[arg-type]
    return Principal(user.id, user.username, user.roles, user.locale, granted, user.time_zone,
                     organisation_id=user.organisation_id, scopes=scopes,
                     scoped_grants=tuple(f"{role}@{ref}" for role, ref in refs))


class AccountDisabled(AuthenticationRequired):
    """The password was right but the account is disabled: said plainly, since the caller proved who they are."""

    def __init__(self, username: str) -> None:
        super().__init__("user {username!r} is disabled", username=username)
        self.username = username


class LockedOut(TooManyAttempts):
    """Too many failed logins for a name (known or not); `until` says when the next attempt is heard."""

    def __init__(self, username: str, until: datetime, now: datetime) -> None:
        minutes = max(1, int((until - now).total_seconds() // 60) + 1)
        super().__init__("too many failed logins for {username!r}; try again in {minutes} min (after {until} UTC)",
                         username=username, minutes=minutes, until=until.strftime("%Y-%m-%d %H:%M"))
        self.until = until


# --- users -------------------------------------------------------------------------------------------

def _parse_roles(roles: list[str]) -> list[Role]:
    parsed = sorted({parse_role(r) for r in roles if r})
    if not parsed:
        raise ValidationFailed("a user needs at least one role")
    return parsed


def create_user(
    db: Database, username: str, password: str, roles: list[str], *, display_name: str = "",
    locale: str | None = None, actor: str = SYSTEM_ACTOR, organisation: str | None = None,
    scopes: list[str] | None = None,
) -> User:
    """Create a user. With `scopes` (`site:NAME`, `collection:PATH`) every role is granted in those scopes
    only; with `organisation` the user works for that (existing) organisation."""
    from lifebank.auth.organisations import organisation_by_name, scoped_grants_for

    username = username.strip().lower()
    if not _USERNAME.match(username):
        raise ValidationFailed("username {username!r} is not valid: 3-64 characters, a letter first, "
                               "then letters, digits, . _ -", username=username)
    parsed = _parse_roles(roles)
    grants = scoped_grants_for([r.value for r in parsed], scopes) if scopes else \
        [RoleGrant(role=r.value) for r in parsed]
    check_policy(password, username)
    try:
        with db.transaction() as session:
            if session.scalar(select(User.id).where(User.username == username)) is not None:
                raise Conflict("user {username!r} already exists", username=username)
            org = organisation_by_name(session, organisation) if organisation else None
            user = User(username=username, display_name=display_name.strip() or username,
                        password_hash=hash_password(password), locale=locale,
                        organisation_id=org.id if org else None)
            user.grants = grants
            session.add(user)
            session.flush()
            session.refresh(user)  # loads the organisation, so the detached user can still name it
            change: dict[str, object] = {"roles": [r.value for r in parsed], "locale": locale}
            if org is not None:
                change["organisation"] = org.name
            if scopes:
                change["scopes"] = sorted({f"{g.scope_type}:{g.scope_id}" for g in grants})
            record(session, actor=actor, action="user.create", entity_type="user", entity_id=username,
                   change=change)
    except IntegrityError:
        raise Conflict("user {username!r} already exists", username=username) from None
    return user


def list_users(db: Database) -> list[User]:
    with db.session() as session:
        return list(session.scalars(select(User).order_by(User.username)))


def get_user(db: Database, username: str) -> User:
    with db.session() as session:
        return user_by_name(session, username)


def _ensure_an_admin_remains(session: Session, user: User, *, keeps_admin: bool, stays_active: bool) -> None:
    """Refuse a change that would leave no active administrator (called after `serialise_writers`)."""
    if not (user.is_active and Role.ADMIN.value in user.roles) or (keeps_admin and stays_active):
        return
    others = session.scalar(
        select(func.count(User.id.distinct())).join(RoleGrant, RoleGrant.user_id == User.id)
        .where(User.is_active.is_(True), User.id != user.id, RoleGrant.role == Role.ADMIN.value,
               RoleGrant.scope_type.is_(None))) or 0
    if others == 0:
        raise Conflict("{username} is the last active administrator: give another active user the admin role "
                       "first", username=user.username)


def _end_sessions(session: Session, user: User) -> int:
    now = utcnow()
    ended = 0
    for web_session in session.scalars(select(WebSession).where(
            WebSession.user_id == user.id, WebSession.ended_at.is_(None))):
        web_session.ended_at = now
        ended += 1
    return ended


def set_active(db: Database, username: str, active: bool, *, actor: str = SYSTEM_ACTOR) -> User:
    with db.transaction() as session:
        serialise_writers(session)
        user = user_by_name(session, username)
        _ensure_an_admin_remains(session, user, keeps_admin=True, stays_active=active)
        if user.is_active == active:
            return user
        user.is_active = active
        change = {} if active else {"sessions_ended": _end_sessions(session, user)}
        record(session, actor=actor, action="user.enable" if active else "user.disable",
               entity_type="user", entity_id=user.username, change=change)
    return user


def set_roles(db: Database, username: str, roles: list[str], *, actor: str) -> User:
    """Replace a user's (global) roles; the last active admin keeps theirs (said before "no role left")."""
    parsed = sorted({parse_role(r) for r in roles if r})
    with db.transaction() as session:
        serialise_writers(session)
        user = user_by_name(session, username)
        _ensure_an_admin_remains(session, user, keeps_admin=Role.ADMIN in parsed, stays_active=True)
        parsed = _parse_roles([r.value for r in parsed])
        before = sorted(user.roles)
        wanted = {r.value for r in parsed}
        # Keep the grants that stay (the unique constraint forbids re-inserting one before its delete flushes).
        user.grants = [g for g in user.grants if g.scope_type is not None or g.role in wanted] + \
            [RoleGrant(role=role) for role in sorted(wanted - user.roles)]
        session.flush()
        record(session, actor=actor, action="user.roles", entity_type="user", entity_id=user.username,
               change={"before": before, "roles": [r.value for r in parsed]})
    return user


def change_roles(db: Database, username: str, *, add: list[str], remove: list[str], actor: str) -> User:
    """Add and remove roles (what `lifebank user roles NAME --add … --remove …` does)."""
    adding = {parse_role(r).value for r in add}
    removing = {parse_role(r).value for r in remove}
    with db.session() as session:
        current = set(user_by_name(session, username).roles)
    return set_roles(db, username, sorted((current | adding) - removing), actor=actor)


def reset_password(db: Database, username: str, password: str, *, actor: str) -> User:
    """An administrator sets a new password: the user's open sessions end and any lockout is lifted."""
    with db.transaction() as session:
        user = user_by_name(session, username)
        check_policy(password, user.username)
        user.password_hash = hash_password(password)
        ended = _end_sessions(session, user)
        throttle = session.get(LoginThrottle, user.username)
        if throttle is not None:
            session.delete(throttle)
        record(session, actor=actor, action="user.password_reset", entity_type="user", entity_id=user.username,
               change={"sessions_ended": ended})
    return user


def unlock(db: Database, username: str, *, actor: str) -> bool:
    """Lift a login lockout (and forget the failures counted); False when there was none to lift."""
    key = username.strip().lower()[:64]
    with db.transaction() as session:
        user_by_name(session, key)
        throttle = session.get(LoginThrottle, key)
        if throttle is None:
            return False
        was_locked = throttle.locked_until is not None and throttle.locked_until > utcnow()
        session.delete(throttle)
        record(session, actor=actor, action="user.unlock", entity_type="user", entity_id=key,
               change={"failures": throttle.failures, "was_locked": was_locked})
    return was_locked


def lockouts(db: Database) -> dict[str, datetime]:
    """Usernames locked out right now, with the time the lock ends."""
    now = utcnow()
    with db.session() as session:
        rows = session.execute(select(LoginThrottle.key, LoginThrottle.locked_until)
                               .where(LoginThrottle.locked_until > now))
        return {key: until for key, until in rows}


def valid_time_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationFailed("unknown time zone {zone!r} (use an IANA name such as Asia/Shanghai)",
                               zone=name) from None
    return name


def set_locale(db: Database, user_id: int, locale: str) -> None:
    with db.transaction() as session:
        user = session.get(User, user_id)
        if user is None:
            raise NotFound("no user #{id}", id=user_id)
        if user.locale == locale:
            return
        user.locale = locale
        record(session, actor=user.username, action="user.locale", entity_type="user", entity_id=user.username,
               change={"locale": locale})


def set_preferences(db: Database, user_id: int, *, locale: str | None, time_zone: str | None) -> User:
    """A user's own language and time zone (None: the site's defaults)."""
    zone = valid_time_zone(time_zone.strip()) if time_zone and time_zone.strip() else None
    with db.transaction() as session:
        user = session.get(User, user_id)
        if user is None:
            raise NotFound("no user #{id}", id=user_id)
        user.locale, user.time_zone = locale, zone
        record(session, actor=user.username, action="user.preferences", entity_type="user",
               entity_id=user.username, change={"locale": locale, "time_zone": zone})
    return user


# --- login -------------------------------------------------------------------------------------------

def authenticate(db: Database, settings: Settings, username: str, password: str, *,
                 address: str | None = None) -> Principal:
    """Check a password, throttling repeated failures per username whether or not the user exists, and per
    client address when the caller knows it.

    A wrong password says only "wrong username or password", whether the name exists or not; only the
    right password of a disabled account is told that the account is disabled. The per-name limit stops
    guessing one account's password; the per-address limit (`LIFEBANK_LOGIN_MAX_FAILURES_PER_ADDRESS`,
    default 20 in the lockout window) stops one client trying a few common passwords on every name, which
    stays under any per-name limit.
    """
    key = username.strip().lower()[:64]
    origin = f"@{address}"[:64] if address else None
    now = utcnow()
    with db.transaction() as session:
        throttle = session.get(LoginThrottle, key)
        if throttle and throttle.locked_until and throttle.locked_until > now:
            raise LockedOut(key, throttle.locked_until, now)
        from_address = session.get(LoginThrottle, origin) if origin else None
        if from_address and from_address.locked_until and from_address.locked_until > now:
            raise LockedOut(key, from_address.locked_until, now)
        user = session.scalar(select(User).where(User.username == key))
        valid = verify_password(user.password_hash if user else DUMMY_HASH, password) and user is not None
        if valid and user is not None and user.is_active:
            if throttle:
                session.delete(throttle)
            user.last_login_at = now
            record(session, actor=user.username, action="auth.login", entity_type="user", entity_id=user.username)
            return principal_of(user)
        window = timedelta(minutes=settings.login_lockout_minutes)
        throttle = _count_failure(session, throttle, key, now, window, settings.login_max_failures)
        if origin:
            _count_failure(session, from_address, origin, now, window, settings.login_max_failures_per_address)
        record(session, actor=SYSTEM_ACTOR, action="auth.login_failed", entity_type="user", entity_id=key,
               change={"failures": throttle.failures})
    if user is not None and valid and not user.is_active:
        raise AccountDisabled(key)
    raise AuthenticationRequired("wrong username or password")


def _count_failure(session: Session, throttle: LoginThrottle | None, key: str, now: datetime, window: timedelta,
                   limit: int) -> LoginThrottle:
    """One more failure for a name or an address; at `limit` failures inside the window it is locked."""
    if throttle is None:
        throttle = LoginThrottle(key=key, failures=0, window_start=now)
        session.add(throttle)
    if now - throttle.window_start > window:
        throttle.failures, throttle.window_start, throttle.locked_until = 0, now, None
    throttle.failures += 1
    if throttle.failures >= limit:
        throttle.locked_until = now + window
    return throttle


def start_session(db: Database, settings: Settings, principal: Principal) -> str:
    token = secrets.token_urlsafe(32)
    with db.transaction() as session:
        session.add(WebSession(token_hash=sha256(token), user_id=principal.user_id,
                               expires_at=utcnow() + timedelta(hours=settings.session_hours)))
    return token


def session_principal(db: Database, token: str) -> Principal | None:
    with db.session() as session:
        web_session = session.scalar(select(WebSession).where(WebSession.token_hash == sha256(token)))
        if (web_session is None or web_session.ended_at is not None or web_session.expires_at <= utcnow()
                or not web_session.user.is_active):
            return None
        return principal_of(web_session.user)


def end_session(db: Database, token: str) -> None:
    with db.transaction() as session:
        web_session = session.scalar(select(WebSession).where(WebSession.token_hash == sha256(token)))
        if web_session is not None and web_session.ended_at is None:
            web_session.ended_at = utcnow()
            record(session, actor=web_session.user.username, action="auth.logout", entity_type="user",
                   entity_id=web_session.user.username)


def token_principal(db: Database, token: str) -> Principal:
    """Resolve a bearer token or say exactly why it is refused."""
    return principal_of(token_principal_user(db, token))


def has_users(db: Database) -> bool:
    with db.session() as session:
        return session.scalar(select(User.id).limit(1)) is not None


ALL_ROLES = [r.value for r in Role]

__all__ = [
    "ALL_ROLES", "TOKEN_PREFIX", "AccountDisabled", "IssuedToken", "LockedOut", "Principal", "authenticate",
    "change_roles", "create_token", "create_user", "end_session", "get_user", "has_users", "list_tokens",
    "list_users", "lockouts", "principal_of", "reset_password", "revoke_token", "session_principal",
    "set_active", "set_locale", "set_preferences", "set_roles", "start_session", "token_owner",
    "token_principal", "unlock",
]
