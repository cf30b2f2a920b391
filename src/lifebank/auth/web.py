"""Pages of users and accounts: the administrator's user list and user page, and everyone's own account.

Every form answers in the page: a mistake (no role chosen, a weak password, the last administrator's
guard) is shown inline in the reader's language, never as a problem document; a success redirects back
with a short note, so reloading the page does not repeat the action.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote
from zoneinfo import available_timezones

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from lifebank.auth import organisations as orgs
from lifebank.auth import reset_pages
from lifebank.auth import service as auth
from lifebank.auth.permissions import ROLE_PERMISSIONS, Role
from lifebank.auth.scopes import SCOPABLE_PERMISSIONS, OrganisationKind, ScopeType
from lifebank.db.base import utcnow
from lifebank.errors import Conflict, LifeBankError, NotFound, PermissionDenied
from lifebank.messages import Msg
from lifebank.web.csrf import check_csrf
from lifebank.web.deps import DbDep, SettingsDep
from lifebank.web.i18n import normalise
from lifebank.web.templating import NavItem, render
from lifebank.web.ui import LANG_COOKIE, PagePrincipal, page_requires

router = APIRouter(include_in_schema=False)
router.include_router(reset_pages.router)
NAV = [NavItem("My account", "/account", None, 97), NavItem("Organisations", "/admin/organisations", "user.admin", 91)]
UserAdmin = Annotated[auth.Principal, Depends(page_requires("user.admin"))]
ROLES = [r.value for r in Role]
SCOPABLE_ROLES = [r.value for r in Role if ROLE_PERMISSIONS[r] & SCOPABLE_PERMISSIONS]
KINDS = [k.value for k in OrganisationKind]
COMMON_ZONES = ["Asia/Shanghai", "Asia/Hong_Kong", "Asia/Taipei", "Asia/Singapore", "Asia/Tokyo", "Europe/London",
                "Europe/Berlin", "America/New_York", "America/Los_Angeles", "UTC"]


def _users_page(request: Request, db: DbDep, *, error: LifeBankError | None = None, created: str | None = None,
                form: dict[str, object] | None = None) -> Response:
    return render(request, "admin_users.html", status_code=error.status if error else 200,
                  users=auth.list_users(db), locks=auth.lockouts(db), roles=ROLES, error=error, created=created,
                  form=form or {"roles": []}, organisations=orgs.list_organisations(db))


@router.get("/admin/users", response_class=HTMLResponse)
def users_page(request: Request, db: DbDep, _p: UserAdmin, created: str | None = None) -> Response:
    return _users_page(request, db, created=created)


@router.post("/admin/users", response_class=HTMLResponse)
def users_create(
    request: Request, db: DbDep, principal: UserAdmin,
    username: Annotated[str, Form()] = "", password: Annotated[str, Form()] = "",
    role: Annotated[list[str] | None, Form()] = None, display_name: Annotated[str, Form()] = "",
    organisation: Annotated[str, Form()] = "", csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf_token)
    try:
        created = auth.create_user(db, username, password, role or [], display_name=display_name,
                                   actor=principal.username, organisation=organisation or None)
    except LifeBankError as exc:
        return _users_page(request, db, error=exc, form={"username": username, "display_name": display_name,
                                                         "roles": role or [], "organisation": organisation})
    return RedirectResponse(f"/admin/users?created={created.username}", status_code=303)


def _user_page(request: Request, db: DbDep, principal: auth.Principal, username: str, *,
               error: LifeBankError | None = None, done: str | None = None) -> Response:
    user = auth.get_user(db, username)
    return render(request, "admin_user.html", status_code=error.status if error else 200, user=user,
                  locked_until=auth.lockouts(db).get(user.username), tokens=auth.list_tokens(db, user.username),
                  roles=ROLES, error=error, done=DONE.get(done or ""), now=utcnow(),
                  is_self=user.username == principal.username, organisations=orgs.list_organisations(db),
                  scopable_roles=SCOPABLE_ROLES, scope_types=[t.value for t in ScopeType])


@router.get("/admin/users/{username}", response_class=HTMLResponse)
def user_page(request: Request, username: str, db: DbDep, principal: UserAdmin, done: str | None = None) -> Response:
    return _user_page(request, db, principal, username, done=done)


def _act(request: Request, db: DbDep, principal: auth.Principal, username: str, done: str, action: object) -> Response:
    """Run one admin action on a user; a refusal is shown on the user's page, a success redirects back to it."""
    try:
        action()  # type: ignore[operator]
    except LifeBankError as exc:
        if isinstance(exc, NotFound):
            raise
        return _user_page(request, db, principal, username, error=exc)
    return RedirectResponse(f"/admin/users/{username}?done={done}", status_code=303)


@router.post("/admin/users/{username}/roles", response_class=HTMLResponse)
def users_set_roles(request: Request, username: str, db: DbDep, principal: UserAdmin,
                    role: Annotated[list[str] | None, Form()] = None,
                    csrf_token: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, csrf_token)
    return _act(request, db, principal, username, "roles",
                lambda: auth.set_roles(db, username, role or [], actor=principal.username))


@router.post("/admin/users/{username}/active", response_class=HTMLResponse)
def users_set_active(request: Request, username: str, db: DbDep, principal: UserAdmin,
                     active: Annotated[str, Form()] = "", csrf_token: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, csrf_token)
    enable = active.lower() in {"true", "1", "on", "yes"}

    def change() -> None:
        if username == principal.username and not enable:
            raise PermissionDenied("you cannot disable your own account")
        auth.set_active(db, username, enable, actor=principal.username)

    return _act(request, db, principal, username, "enabled" if enable else "disabled", change)


@router.post("/admin/users/{username}/password", response_class=HTMLResponse)
def users_reset_password(request: Request, username: str, db: DbDep, principal: UserAdmin,
                         password: Annotated[str, Form()] = "", csrf_token: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, csrf_token)
    return _act(request, db, principal, username, "password",
                lambda: auth.reset_password(db, username, password, actor=principal.username))


@router.post("/admin/users/{username}/unlock", response_class=HTMLResponse)
def users_unlock(request: Request, username: str, db: DbDep, principal: UserAdmin,
                 csrf_token: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, csrf_token)
    return _act(request, db, principal, username, "unlocked",
                lambda: auth.unlock(db, username, actor=principal.username))


@router.post("/admin/users/{username}/tokens/{prefix}/revoke", response_class=HTMLResponse)
def users_revoke_token(request: Request, username: str, prefix: str, db: DbDep, principal: UserAdmin,
                       csrf_token: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, csrf_token)

    def revoke() -> None:
        if auth.token_owner(db, prefix) != username:
            raise NotFound("no API token with prefix {prefix!r}", prefix=prefix)
        auth.revoke_token(db, prefix, actor=principal.username)

    return _act(request, db, principal, username, "revoked", revoke)


@router.post("/admin/users/{username}/organisation", response_class=HTMLResponse)
def users_set_organisation(request: Request, username: str, db: DbDep, principal: UserAdmin,
                           organisation: Annotated[str, Form()] = "",
                           csrf_token: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, csrf_token)
    return _act(request, db, principal, username, "organisation",
                lambda: orgs.set_user_organisation(db, username, organisation or None, actor=principal.username))


@router.post("/admin/users/{username}/scoped-roles", response_class=HTMLResponse)
def users_grant_scoped_role(request: Request, username: str, db: DbDep, principal: UserAdmin,
                            role: Annotated[str, Form()] = "", scope_type: Annotated[str, Form()] = "site",
                            scope_name: Annotated[str, Form()] = "",
                            csrf_token: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, csrf_token)
    scope = f"{scope_type}:{scope_name}"
    return _act(request, db, principal, username, "scoped",
                lambda: orgs.grant_scoped_role(db, username, role, scope, actor=principal.username))


@router.post("/admin/users/{username}/scoped-roles/remove", response_class=HTMLResponse)
def users_revoke_scoped_role(request: Request, username: str, db: DbDep, principal: UserAdmin,
                             role: Annotated[str, Form()] = "", scope: Annotated[str, Form()] = "",
                             csrf_token: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, csrf_token)

    def revoke() -> None:
        try:
            orgs.revoke_scoped_role(db, username, role, scope, actor=principal.username)
        except NotFound as exc:  # a stale page: shown inline, not as an error page
            raise Conflict(exc.message) from None

    return _act(request, db, principal, username, "unscoped", revoke)


# --- organisations -----------------------------------------------------------------------------------

def _organisations_page(request: Request, db: DbDep, *, error: LifeBankError | None = None,
                        created: str | None = None, form: dict[str, object] | None = None) -> Response:
    return render(request, "auth/organisations.html", status_code=error.status if error else 200,
                  organisations=orgs.list_organisations(db), members=orgs.members_by_organisation(db),
                  kinds=KINDS, error=error, created=created, form=form or {})


@router.get("/admin/organisations", response_class=HTMLResponse)
def organisations_page(request: Request, db: DbDep, _p: UserAdmin, created: str | None = None) -> Response:
    return _organisations_page(request, db, created=created)


@router.post("/admin/organisations", response_class=HTMLResponse)
def organisations_create(
    request: Request, db: DbDep, principal: UserAdmin, name: Annotated[str, Form()] = "",
    country: Annotated[str, Form()] = "", kind: Annotated[str, Form()] = "company",
    for_profit: Annotated[str, Form()] = "", csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf_token)
    profit = {"yes": True, "no": False}.get(for_profit)  # '' : the kind's default
    try:
        org = orgs.create_organisation(db, name, country=country or None, kind=kind, for_profit=profit,
                                       actor=principal.username)
    except LifeBankError as exc:
        return _organisations_page(request, db, error=exc, form={"name": name, "country": country, "kind": kind,
                                                                 "for_profit": for_profit})
    return RedirectResponse(f"/admin/organisations?created={quote(org.name)}", status_code=303)


# --- one's own account -------------------------------------------------------------------------------

def _account_page(request: Request, db: DbDep, principal: auth.Principal, *, error: LifeBankError | None = None,
                  issued: auth.IssuedToken | None = None, done: str | None = None,
                  form: dict[str, object] | None = None) -> Response:
    user = auth.get_user(db, principal.username)
    return render(request, "account.html", status_code=error.status if error else 200, user=user,
                  tokens=auth.list_tokens(db, principal.username), error=error, issued=issued,
                  done=DONE.get(done or ""), now=utcnow(),
                  zones=COMMON_ZONES, all_zones=sorted(available_timezones()), form=form or {})


@router.get("/account", response_class=HTMLResponse)
def account_page(request: Request, db: DbDep, principal: PagePrincipal, done: str | None = None) -> Response:
    return _account_page(request, db, principal, done=done)


@router.post("/account/preferences", response_class=HTMLResponse)
def account_preferences(request: Request, db: DbDep, settings: SettingsDep, principal: PagePrincipal,
                        language: Annotated[str, Form()] = "", time_zone: Annotated[str, Form()] = "",
                        csrf_token: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, csrf_token)
    locale = normalise(language)
    try:
        auth.set_preferences(db, principal.user_id, locale=locale, time_zone=time_zone)
    except LifeBankError as exc:
        return _account_page(request, db, principal, error=exc, form={"time_zone": time_zone})
    response = RedirectResponse("/account?done=preferences", status_code=303)
    if locale:
        response.set_cookie(LANG_COOKIE, locale, samesite="lax", secure=settings.cookie_secure, path="/",
                            max_age=365 * 24 * 3600)
    return response


@router.post("/account/tokens", response_class=HTMLResponse)
def account_create_token(request: Request, db: DbDep, principal: PagePrincipal,
                         name: Annotated[str, Form()] = "", days: Annotated[str, Form()] = "90",
                         csrf_token: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, csrf_token)
    try:
        lifetime = int(days) if days.strip().isdigit() else -1
        issued = auth.create_token(db, principal.username, name, days=lifetime, actor=principal.username)
    except LifeBankError as exc:
        return _account_page(request, db, principal, error=exc, form={"name": name, "days": days})
    # Shown in this answer only: the secret is never stored, so it cannot be shown again.
    return _account_page(request, db, principal, issued=issued)


@router.post("/account/tokens/{prefix}/revoke", response_class=HTMLResponse)
def account_revoke_token(request: Request, prefix: str, db: DbDep, principal: PagePrincipal,
                         csrf_token: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, csrf_token)
    try:
        if auth.token_owner(db, prefix) != principal.username:
            raise NotFound("no API token with prefix {prefix!r}", prefix=prefix)
        auth.revoke_token(db, prefix, actor=principal.username)
    except LifeBankError as exc:
        return _account_page(request, db, principal, error=exc)
    return RedirectResponse("/account?done=revoked", status_code=303)


DONE = {
    "roles": Msg("Roles saved."),
    "enabled": Msg("User enabled."),
    "disabled": Msg("User disabled; their sessions ended."),
    "password": Msg("New password set; the user's sessions ended."),
    "unlocked": Msg("Login lockout lifted."),
    "revoked": Msg("API token revoked."),
    "organisation": Msg("Organisation saved."),
    "scoped": Msg("Scoped role granted."),
    "unscoped": Msg("Scoped role taken away."),
    "preferences": Msg("Preferences saved."),
}

__all__ = ["DONE", "NAV", "router"]
