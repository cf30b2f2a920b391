"""HTTP API of users, roles and tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, Field

from lifebank.auth import service
from lifebank.auth.models import User
from lifebank.web.deps import DbDep, PrincipalDep, require
from lifebank.web.pagination import Page, PageParams, page_params

router = APIRouter(tags=["users"])


class UserOut(BaseModel):
    username: str
    display_name: str
    roles: list[str]
    is_active: bool
    locale: str | None


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


class MeOut(UserOut):
    permissions: list[str]


def user_out(user: User) -> UserOut:
    return UserOut(username=user.username, display_name=user.display_name, roles=sorted(user.roles),
                   is_active=user.is_active, locale=user.locale)


@router.get("/me", response_model=MeOut, summary="Who am I, and what may I do")
def me(principal: PrincipalDep, db: DbDep) -> MeOut:
    user = next(u for u in service.list_users(db) if u.id == principal.user_id)
    return MeOut(**user_out(user).model_dump(), permissions=sorted(principal.permissions))


@router.get("/users", response_model=Page[UserOut])
def list_users(
    db: DbDep, _: Annotated[object, Depends(require("user.admin"))],
    page: Annotated[PageParams, Depends(page_params)],
) -> Page[UserOut]:
    users = service.list_users(db)
    items = [user_out(u) for u in users[page.offset: page.offset + page.limit]]
    return Page(total=len(users), limit=page.limit, offset=page.offset, items=items)


@router.post("/users", response_model=UserOut, status_code=status.HTTP_201_CREATED)
def create_user(body: UserIn, db: DbDep, actor: Annotated[object, Depends(require("user.admin"))]) -> UserOut:
    user = service.create_user(db, body.username, body.password, body.roles, display_name=body.display_name,
                               locale=body.locale, actor=actor.username)  # type: ignore[attr-defined]
    return user_out(user)


@router.post("/users/{username}/disable", response_model=UserOut)
def disable_user(username: str, db: DbDep, actor: Annotated[object, Depends(require("user.admin"))]) -> UserOut:
    return user_out(service.set_active(db, username, False, actor=actor.username))  # type: ignore[attr-defined]


class RolesIn(BaseModel):
    roles: list[str] = Field(min_length=1)


@router.put("/users/{username}/roles", response_model=UserOut)
def set_roles(username: str, body: RolesIn, db: DbDep,
              actor: Annotated[object, Depends(require("user.admin"))]) -> UserOut:
    return user_out(service.set_roles(db, username, body.roles, actor=actor.username))  # type: ignore[attr-defined]


@router.post("/users/{username}/enable", response_model=UserOut)
def enable_user(username: str, db: DbDep, actor: Annotated[object, Depends(require("user.admin"))]) -> UserOut:
    return user_out(service.set_active(db, username, True, actor=actor.username))  # type: ignore[attr-defined]


@router.post("/tokens", response_model=TokenOut, status_code=status.HTTP_201_CREATED,
             summary="Issue an API token for yourself; it is shown once")
def create_token(body: TokenIn, db: DbDep, principal: PrincipalDep) -> TokenOut:
    issued = service.create_token(db, principal.username, body.name, days=body.days, actor=principal.username)
    return TokenOut(token=issued.token, prefix=issued.prefix, expires_at=issued.expires_at)


@router.delete("/tokens/{prefix}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_token(prefix: str, db: DbDep, principal: PrincipalDep) -> None:
    owned = {t.prefix for t in service.list_tokens(db, principal.username)}
    if prefix not in owned and not principal.can("user.admin"):
        from lifebank.errors import NotFound

        raise NotFound(f"no API token with prefix {prefix!r}")
    service.revoke_token(db, prefix, actor=principal.username)
