"""Users, role grants, API tokens, browser sessions and login throttling."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lifebank.db.base import Base, UTCDateTime, utcnow


class Organisation(Base):
    """Who a user works for: the bank itself, a hospital, a company, a university (issue 11).

    A partner sees only its own organisation's requests, shipments and exports; `for_profit` is what the DUO
    modifier NPU (not-for-profit use only) is checked against, `country` (ISO 3166-1 alpha-2) whether a
    request is domestic or international (China's HGR rules)."""

    __tablename__ = "auth_organisation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True, nullable=False)
    country: Mapped[str] = mapped_column(String(2), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)  # scopes.OrganisationKind
    for_profit: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class User(Base):
    __tablename__ = "auth_user"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    display_name: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    password_hash: Mapped[str] = mapped_column(String(200), nullable=False)
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    locale: Mapped[str | None] = mapped_column(String(16))
    time_zone: Mapped[str | None] = mapped_column(String(64))  # IANA name; None: the site's LIFEBANK_TIME_ZONE
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("auth_organisation.id"), index=True)

    organisation: Mapped[Organisation | None] = relationship(lazy="joined")
    grants: Mapped[list[RoleGrant]] = relationship(back_populates="user", cascade="all, delete-orphan",
                                                   lazy="selectin")

    @property
    def roles(self) -> frozenset[str]:
        return frozenset(g.role for g in self.grants if g.scope_type is None)

    @property
    def scoped_grants(self) -> list[RoleGrant]:
        return sorted((g for g in self.grants if g.scope_type is not None),
                      key=lambda g: (g.role, g.scope_type or "", g.scope_id or ""))


class RoleGrant(Base):
    __tablename__ = "auth_role_grant"
    __table_args__ = (UniqueConstraint("user_id", "role", "scope_type", "scope_id", name="uq_auth_role_grant"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("auth_user.id", ondelete="CASCADE"), nullable=False, index=True)
    role: Mapped[str] = mapped_column(String(32), nullable=False)
    # A site or a collection (lifebank.auth.scopes); NULL means the role applies everywhere.
    scope_type: Mapped[str | None] = mapped_column(String(32))
    scope_id: Mapped[str | None] = mapped_column(String(64))

    user: Mapped[User] = relationship(back_populates="grants")


class ApiToken(Base):
    __tablename__ = "auth_api_token"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("auth_user.id", ondelete="CASCADE"), nullable=False, index=True)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    prefix: Mapped[str] = mapped_column(String(16), unique=True, nullable=False)
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(lazy="joined")


class WebSession(Base):
    __tablename__ = "auth_web_session"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    user_id: Mapped[int] = mapped_column(ForeignKey("auth_user.id", ondelete="CASCADE"), nullable=False, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(lazy="joined")


class LoginThrottle(Base):
    """Failed logins per username (known or not), so guessing is slowed for every account alike."""

    __tablename__ = "auth_login_throttle"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PasswordResetLink(Base):
    """A one-time link an administrator gives a user to set a new password themselves (no e-mail needed).

    Only the SHA-256 of the token is stored; a link works once, until `expires_at`, and issuing a new one for
    the same user retires the older ones.
    """

    __tablename__ = "auth_password_reset"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    user_id: Mapped[int] = mapped_column(ForeignKey("auth_user.id", ondelete="CASCADE"), nullable=False, index=True)
    created_by: Mapped[str] = mapped_column(String(100), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
