"""Pages of the platform shell: login/logout, dashboard, language switch, user admin, audit log."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from lifebank.audit import service as audit
from lifebank.auth import service as auth
from lifebank.auth.permissions import Role
from lifebank.errors import LifeBankError, PermissionDenied
from lifebank.web.csrf import check_csrf
from lifebank.web.deps import SESSION_COOKIE, DbDep, SettingsDep, optional_principal
from lifebank.web.i18n import LANGUAGES, normalise
from lifebank.web.templating import gettext_for, render

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
            _ = gettext_for(request)
            raise PermissionDenied(_("You do not have permission to open this page."))
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
    _ = gettext_for(request)
    try:
        principal = auth.authenticate(db, settings, username, password)
    except LifeBankError as exc:
        message = _("Too many failed logins. Try again later.") if exc.status == 429 else \
            _("Wrong username or password.")
        return render(request, "login.html", status_code=exc.status, next=_safe_next(next), error=message,
                      username=username)
    token = auth.start_session(db, settings, principal)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax", secure=settings.cookie_secure,
                        max_age=settings.session_hours * 3600, path="/")
    if principal.locale:
        response.set_cookie(LANG_COOKIE, principal.locale, samesite="lax", secure=settings.cookie_secure, path="/")
    return response


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


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard(request: Request, principal: PagePrincipal) -> Response:
    return render(request, "dashboard.html", permissions=sorted(principal.permissions))


@router.get("/admin/users", response_class=HTMLResponse)
def users_page(request: Request, db: DbDep,
               _p: Annotated[auth.Principal, Depends(page_requires("user.admin"))]) -> Response:
    return render(request, "admin_users.html", users=auth.list_users(db), roles=[r.value for r in Role],
                  error=None, created=None)


@router.post("/admin/users", response_class=HTMLResponse)
def users_create(
    request: Request, db: DbDep, principal: Annotated[auth.Principal, Depends(page_requires("user.admin"))],
    username: Annotated[str, Form()], password: Annotated[str, Form()],
    role: Annotated[list[str], Form()], display_name: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf_token)
    error, created = None, None
    try:
        created = auth.create_user(db, username, password, role, display_name=display_name,
                                   actor=principal.username).username
    except LifeBankError as exc:
        error = exc.detail
    return render(request, "admin_users.html", status_code=422 if error else 200, users=auth.list_users(db),
                  roles=[r.value for r in Role], error=error, created=created)


@router.post("/admin/users/{username}/active")
def users_set_active(
    request: Request, username: str, db: DbDep,
    principal: Annotated[auth.Principal, Depends(page_requires("user.admin"))],
    active: Annotated[bool, Form()], csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf_token)
    if username == principal.username and not active:
        raise PermissionDenied(gettext_for(request)("You cannot disable your own account."))
    auth.set_active(db, username, active, actor=principal.username)
    return RedirectResponse("/admin/users", status_code=303)


@router.post("/admin/users/{username}/roles", response_class=HTMLResponse)
def users_set_roles(
    request: Request, username: str, db: DbDep,
    principal: Annotated[auth.Principal, Depends(page_requires("user.admin"))],
    role: Annotated[list[str] | None, Form()] = None, csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf_token)
    try:
        auth.set_roles(db, username, role or [], actor=principal.username)
    except LifeBankError as exc:
        return render(request, "admin_users.html", status_code=exc.status, users=auth.list_users(db),
                      roles=[r.value for r in Role], error=exc.detail, created=None)
    return RedirectResponse("/admin/users", status_code=303)


@router.get("/audit", response_class=HTMLResponse)
def audit_page(
    request: Request, db: DbDep, _p: Annotated[auth.Principal, Depends(page_requires("audit.read"))],
    entity_type: str | None = None, entity_id: str | None = None, page: int = 1, verify: bool = False,
) -> Response:
    limit = 50
    page = max(page, 1)
    total, events = audit.list_events(db, entity_type=entity_type or None, entity_id=entity_id or None,
                                      limit=limit, offset=(page - 1) * limit)
    verdict = audit.verify(db) if verify else None
    return render(request, "audit.html", events=events, total=total, page=page, limit=limit,
                  entity_type=entity_type or "", entity_id=entity_id or "", verdict=verdict)


def login_redirect(request: Request, exc: LoginRedirect) -> Response:
    return RedirectResponse(f"/login?next={quote(exc.next_path)}", status_code=303)


__all__ = ["LANGUAGES", "LoginRedirect", "login_redirect", "page_principal", "page_requires", "router"]
