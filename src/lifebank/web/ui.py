"""Pages of the platform shell: login/logout, dashboard, language switch.

Users and accounts are pages of `lifebank.auth.web`, the audit log of `lifebank.audit.web`.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from lifebank.auth import service as auth
from lifebank.errors import LifeBankError, PermissionDenied
from lifebank.messages import Msg
from lifebank.web.csrf import check_csrf
from lifebank.web.deps import SESSION_COOKIE, DbDep, SettingsDep, optional_principal
from lifebank.web.i18n import LANGUAGES, normalise
from lifebank.web.templating import local_time, render, time_zone_of

router = APIRouter(include_in_schema=False)
LANG_COOKIE = "lifebank_lang"


class LoginRedirect(Exception):
    """Raised by page dependencies when nobody is logged in; answered with a redirect to /login."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


def page_principal(request: Request) -> auth.Principal:
    principal = optional_principal(request)
    if principal is None:
        raise LoginRedirect(request.url.path)
    return principal


def page_requires(permission: str):  # noqa: ANN201 - returns a FastAPI dependency
    def _check(request: Request) -> auth.Principal:
        principal = page_principal(request)
        if not principal.can(permission):
            raise PermissionDenied("You do not have permission to open this page.")
        return principal

    return _check


def page_requires_within(permission: str):  # noqa: ANN201 - returns a FastAPI dependency
    """Like `page_requires`, but also admits a holder of `permission` through a site or collection grant: the
    page must then filter what it shows by `principal.scope_of(permission)` (as the API's `require_within`)."""
    def _check(request: Request) -> auth.Principal:
        principal = page_principal(request)
        if not principal.can_within(permission):
            raise PermissionDenied("You do not have permission to open this page.")
        return principal

    return _check


PagePrincipal = Annotated[auth.Principal, Depends(page_principal)]


def _safe_next(path: str | None) -> str:
    return path if path and path.startswith("/") and not path.startswith("//") else "/dashboard"


@router.get("/")
def home(request: Request) -> Response:
    return RedirectResponse("/dashboard" if optional_principal(request) else "/login", status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/dashboard") -> Response:
    if optional_principal(request):
        return RedirectResponse(_safe_next(next), status_code=303)
    return render(request, "login.html", next=_safe_next(next), error=None)


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request, db: DbDep, settings: SettingsDep,
    username: Annotated[str, Form()] = "", password: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "/dashboard",
) -> Response:
    check_csrf(request, csrf_token)
    try:
        principal = auth.authenticate(db, settings, username, password,
                                      address=request.client.host if request.client else None)
    except LifeBankError as exc:
        return render(request, "login.html", status_code=exc.status, next=_safe_next(next),
                      error=_login_refusal(request, exc), username=username)
    token = auth.start_session(db, settings, principal)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax", secure=settings.cookie_secure,
                        max_age=settings.session_hours * 3600, path="/")
    if principal.locale:
        response.set_cookie(LANG_COOKIE, principal.locale, samesite="lax", secure=settings.cookie_secure, path="/")
    return response


def _login_refusal(request: Request, exc: LifeBankError) -> Msg:
    """What the login form says: a lockout names its end in the reader's time; a wrong password or an
    unknown name get the same words (no hint which names exist); only the right password of a disabled
    account learns that the account is disabled."""
    if isinstance(exc, auth.LockedOut):
        return Msg("Too many failed logins. Try again after {time}.",
                   time=local_time(exc.until, time_zone_of(request)))
    if isinstance(exc, auth.AccountDisabled):
        return Msg("Your account is disabled. Ask an administrator to enable it.")
    return Msg("Wrong username or password.")


@router.post("/logout")
def logout(request: Request, db: DbDep, csrf_token: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, csrf_token)
    if token := request.cookies.get(SESSION_COOKIE):
        auth.end_session(db, token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.post("/language")
def switch_language(
    request: Request, db: DbDep, settings: SettingsDep,
    language: Annotated[str, Form()], csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/dashboard",
) -> Response:
    check_csrf(request, csrf_token)
    chosen = normalise(language) or "en"
    if principal := optional_principal(request):
        auth.set_locale(db, principal.user_id, chosen)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(LANG_COOKIE, chosen, samesite="lax", secure=settings.cookie_secure, path="/",
                        max_age=365 * 24 * 3600)
    return response


def login_redirect(request: Request, exc: LoginRedirect) -> Response:
    return RedirectResponse(f"/login?next={quote(exc.next_path)}", status_code=303)


__all__ = ["LANGUAGES", "LoginRedirect", "login_redirect", "page_principal", "page_requires",
           "page_requires_within", "router"]
