"""HTTP API of users, roles and tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status
from pydantic import BaseModel, Field

from lifebank.auth import organisations, service
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
    organisation: str | None = None
    scoped_roles: list[str] = []  # 'technician@site:Hangzhou'


class UserIn(BaseModel):
    username: str
    password: str = Field(min_length=1)
    roles: list[str]
    display_name: str = ""
    locale: str | None = None
    organisation: str | None = None
    scopes: list[str] = Field(default=[], description="site:NAME or collection:STORAGE/PATH; the roles apply "
                                                      "there only")


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
    permissions: list[str]  # held everywhere
    # held through scoped grants only: permission -> {"sites": [...], "collections": [...]}
    scoped_permissions: dict[str, dict[str, list[str]]] = {}


class PasswordIn(BaseModel):
    password: str = Field(min_length=1)


class PreferencesIn(BaseModel):
    locale: str | None = None
    time_zone: str | None = None


def user_out(user: User, locked_until: datetime | None = None) -> UserOut:
    return UserOut(username=user.username, display_name=user.display_name, roles=sorted(user.roles),
                   is_active=user.is_active, locale=user.locale, time_zone=user.time_zone,
                   last_login_at=user.last_login_at, locked_until=locked_until,
                   organisation=user.organisation.name if user.organisation else None,
                   scoped_roles=[f"{g.role}@{g.scope_type}:{g.scope_id}" for g in user.scoped_grants])


def token_info(token: ApiToken) -> TokenInfo:
    return TokenInfo(prefix=token.prefix, user=token.user.username, name=token.name, created_at=token.created_at,
                     expires_at=token.expires_at, revoked_at=token.revoked_at)


@router.get("/me", response_model=MeOut, summary="Who am I, and what may I do")
def me(principal: PrincipalDep, db: DbDep) -> MeOut:
    user = service.get_user(db, principal.username)
    scoped = {p: {"sites": sorted(scope.sites), "collections": sorted(scope.collections)}
              for p, scope in sorted(principal.scopes.items())}
    return MeOut(**user_out(user).model_dump(), permissions=sorted(principal.permissions),
                 scoped_permissions=scoped)


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
                               locale=body.locale, actor=actor.username, organisation=body.organisation,
                               scopes=body.scopes or None)
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


class ResetLinkOut(BaseModel):
    path: str
    expires_at: datetime


@router.post("/users/{username}/reset-link", response_model=ResetLinkOut, status_code=201,
             summary="Issue a one-time password reset link (path /reset/<token>); older links of the user stop")
def reset_link(username: str, db: DbDep, actor: UserAdmin, hours: int = 24) -> ResetLinkOut:
    from lifebank.auth.reset_links import RESET_PATH, issue_reset_link

    token, expires = issue_reset_link(db, username, actor=actor.username, hours=hours)
    return ResetLinkOut(path=RESET_PATH + token, expires_at=expires)


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


# --- organisations and scoped grants ------------------------------------------------------------------

class OrganisationIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    country: str | None = Field(default=None, description="ISO 3166-1 alpha-2 (default CN)")
    kind: str = Field(default="company", description="bank, hospital, company or university")
    for_profit: bool | None = Field(default=None, description="default: a company is for-profit, others not")


class OrganisationOut(BaseModel):
    id: int
    name: str
    country: str
    kind: str
    for_profit: bool
    members: list[str] = []


class UserOrganisationIn(BaseModel):
    organisation: str | None = None


class ScopedRoleIn(BaseModel):
    role: str
    scope: str = Field(description="site:NAME or collection:STORAGE/PATH")


def organisation_out(org: organisations.OrganisationView, members: list[str] | None = None) -> OrganisationOut:
    return OrganisationOut(id=org.id, name=org.name, country=org.country, kind=org.kind, for_profit=org.for_profit,
                           members=members or [])


@router.get("/organisations", response_model=list[OrganisationOut], tags=["organisations"])
def list_organisations(db: DbDep, _: UserAdmin) -> list[OrganisationOut]:
    return [organisation_out(o) for o in organisations.list_organisations(db)]


@router.post("/organisations", response_model=OrganisationOut, status_code=status.HTTP_201_CREATED,
             tags=["organisations"], summary="Register an organisation (a company is for-profit by default)")
def create_organisation(body: OrganisationIn, db: DbDep, actor: UserAdmin) -> OrganisationOut:
    return organisation_out(organisations.create_organisation(
        db, body.name, country=body.country, kind=body.kind, for_profit=body.for_profit, actor=actor.username))


@router.get("/organisations/{name}", response_model=OrganisationOut, tags=["organisations"],
            summary="An organisation and its users (administrators; anyone for their own organisation)")
def get_organisation(name: str, db: DbDep, principal: PrincipalDep) -> OrganisationOut:
    with db.session() as session:
        try:
            org = organisations.organisation_by_name(session, name)
        except NotFound:
            if principal.can("user.admin"):
                raise
            org = None
        if org is None or (org.id != principal.organisation_id and not principal.can("user.admin")):
            # Another organisation's existence is not disclosed: the same answer as an unknown name.
            raise NotFound("organisation {name!r} does not exist", name=name)
        return organisation_out(org, organisations.organisation_members(session, org.id))


@router.put("/users/{username}/organisation", response_model=UserOut,
            summary="Say which organisation a user works for (null: none)")
def set_user_organisation(username: str, body: UserOrganisationIn, db: DbDep, actor: UserAdmin) -> UserOut:
    return user_out(organisations.set_user_organisation(db, username, body.organisation, actor=actor.username))


@router.post("/users/{username}/scoped-roles", response_model=UserOut, status_code=status.HTTP_201_CREATED,
             summary="Grant a role limited to a site or a collection")
def grant_scoped_role(username: str, body: ScopedRoleIn, db: DbDep, actor: UserAdmin) -> UserOut:
    return user_out(organisations.grant_scoped_role(db, username, body.role, body.scope, actor=actor.username))


@router.delete("/users/{username}/scoped-roles", response_model=UserOut,
               summary="Take away a role granted in a site or a collection")
def revoke_scoped_role(username: str, db: DbDep, actor: UserAdmin, role: Annotated[str, Query()],
                       scope: Annotated[str, Query()]) -> UserOut:
    return user_out(organisations.revoke_scoped_role(db, username, role, scope, actor=actor.username))
