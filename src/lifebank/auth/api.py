"""HTTP API of users, roles and tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status
from pydantic import BaseModel, Field

from lifebank.auth import service
from lifebank.auth.models import ApiToken, User
from lifebank.errors import NotFound
from lifebank.web.deps import DbDep, PrincipalDep, require
from lifebank.web.pagination import Page, PageParams, page_params

router = APIRouter(tags=["users"])
UserAdmin = Annotated[service.Principal, Depends(require("user.admin"))]


class UserOut(BaseModel):
    username: str
    display_name: str
    roles: list[str]
    is_active: bool
    locale: str | None
    time_zone: str | None = None
    last_login_at: datetime | None = None
    locked_until: datetime | None = None


class UserIn(BaseModel):
    username: str
    password: str = Field(min_length=1)
    roles: list[str]
    display_name: str = ""
    locale: str | None = None


class TokenIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    days: int = Field(default=90, ge=1, le=3650)


class TokenOut(BaseModel):
    token: str
    prefix: str
    expires_at: datetime


class TokenInfo(BaseModel):
    prefix: str
    user: str
    name: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None


class MeOut(UserOut):
    permissions: list[str]


class PasswordIn(BaseModel):
    password: str = Field(min_length=1)


class PreferencesIn(BaseModel):
    locale: str | None = None
    time_zone: str | None = None


def user_out(user: User, locked_until: datetime | None = None) -> UserOut:
    return UserOut(username=user.username, display_name=user.display_name, roles=sorted(user.roles),
                   is_active=user.is_active, locale=user.locale, time_zone=user.time_zone,
                   last_login_at=user.last_login_at, locked_until=locked_until)


def token_info(token: ApiToken) -> TokenInfo:
    return TokenInfo(prefix=token.prefix, user=token.user.username, name=token.name, created_at=token.created_at,
                     expires_at=token.expires_at, revoked_at=token.revoked_at)


@router.get("/me", response_model=MeOut, summary="Who am I, and what may I do")
def me(principal: PrincipalDep, db: DbDep) -> MeOut:
    user = service.get_user(db, principal.username)
    return MeOut(**user_out(user).model_dump(), permissions=sorted(principal.permissions))


@router.put("/me/preferences", response_model=UserOut, summary="Choose your language and time zone")
def set_preferences(body: PreferencesIn, principal: PrincipalDep, db: DbDep) -> UserOut:
    return user_out(service.set_preferences(db, principal.user_id, locale=body.locale, time_zone=body.time_zone))


@router.get("/users", response_model=Page[UserOut])
def list_users(db: DbDep, _: UserAdmin, page: Annotated[PageParams, Depends(page_params)]) -> Page[UserOut]:
    users = service.list_users(db)
    locks = service.lockouts(db)
    items = [user_out(u, locks.get(u.username)) for u in users[page.offset: page.offset + page.limit]]
    return Page(total=len(users), limit=page.limit, offset=page.offset, items=items)


@router.post("/users", response_model=UserOut, status_code=status.HTTP_201_CREATED)
def create_user(body: UserIn, db: DbDep, actor: UserAdmin) -> UserOut:
    user = service.create_user(db, body.username, body.password, body.roles, display_name=body.display_name,
                               locale=body.locale, actor=actor.username)
    return user_out(user)


@router.post("/users/{username}/disable", response_model=UserOut,
             summary="Disable a user (refused for the last active administrator)")
def disable_user(username: str, db: DbDep, actor: UserAdmin) -> UserOut:
    return user_out(service.set_active(db, username, False, actor=actor.username))


@router.post("/users/{username}/enable", response_model=UserOut)
def enable_user(username: str, db: DbDep, actor: UserAdmin) -> UserOut:
    return user_out(service.set_active(db, username, True, actor=actor.username))


class RolesIn(BaseModel):
    roles: list[str] = Field(min_length=1)


@router.put("/users/{username}/roles", response_model=UserOut,
            summary="Replace a user's roles (the last active administrator keeps the admin role)")
def set_roles(username: str, body: RolesIn, db: DbDep, actor: UserAdmin) -> UserOut:
    return user_out(service.set_roles(db, username, body.roles, actor=actor.username))


@router.post("/users/{username}/password", response_model=UserOut,
             summary="Set a new password for a user; their open sessions end")
def reset_password(username: str, body: PasswordIn, db: DbDep, actor: UserAdmin) -> UserOut:
    return user_out(service.reset_password(db, username, body.password, actor=actor.username))


@router.post("/users/{username}/unlock", response_model=UserOut, summary="Lift a login lockout")
def unlock_user(username: str, db: DbDep, actor: UserAdmin) -> UserOut:
    service.unlock(db, username, actor=actor.username)
    return user_out(service.get_user(db, username))


@router.get("/tokens", response_model=list[TokenInfo],
            summary="Your API tokens (an administrator may ask for anyone's with ?user=, or all with ?user=*)")
def list_tokens(db: DbDep, principal: PrincipalDep, user: Annotated[str | None, Query()] = None) -> list[TokenInfo]:
    if user and user != principal.username and not principal.can("user.admin"):
        raise NotFound("no user {username!r}", username=user)
    whose = None if user == "*" else (user or principal.username)
    return [token_info(t) for t in service.list_tokens(db, whose)]


@router.post("/tokens", response_model=TokenOut, status_code=status.HTTP_201_CREATED,
             summary="Issue an API token for yourself; it is shown once")
def create_token(body: TokenIn, db: DbDep, principal: PrincipalDep) -> TokenOut:
    issued = service.create_token(db, principal.username, body.name, days=body.days, actor=principal.username)
    return TokenOut(token=issued.token, prefix=issued.prefix, expires_at=issued.expires_at)


@router.delete("/tokens/{prefix}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_token(prefix: str, db: DbDep, principal: PrincipalDep) -> None:
    if service.token_owner(db, prefix) != principal.username and not principal.can("user.admin"):
        raise NotFound("no API token with prefix {prefix!r}", prefix=prefix)
    service.revoke_token(db, prefix, actor=principal.username)
