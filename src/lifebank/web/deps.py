"""FastAPI dependencies: the database, the settings and the acting principal with its permissions.

API calls authenticate with `Authorization: Bearer <token>`; the browser UI's session cookie is
accepted too (unsafe methods then need the CSRF header), so HTMX pages can call the same API.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request

from lifebank.auth import service as auth
from lifebank.auth.permissions import PERMISSIONS
from lifebank.config import Settings
from lifebank.db.engine import Database
from lifebank.errors import AuthenticationRequired, PermissionDenied
from lifebank.web.csrf import check_csrf

SESSION_COOKIE = "lifebank_session"


def get_db(request: Request) -> Database:
    return request.app.state.db


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


DbDep = Annotated[Database, Depends(get_db)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def optional_principal(request: Request) -> auth.Principal | None:
    """The principal behind a bearer token or a session cookie, or None when neither is sent."""
    if "principal" in request.scope.get("state", {}):
        return request.state.principal
    db: Database = request.app.state.db
    header = request.headers.get("authorization", "")
    principal: auth.Principal | None = None
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise AuthenticationRequired("use 'Authorization: Bearer <token>'")
        principal = auth.token_principal(db, token.strip())
    elif cookie := request.cookies.get(SESSION_COOKIE):
        principal = auth.session_principal(db, cookie)
        # API writes carry the token in a header; UI form handlers check the form field themselves.
        unsafe = request.method not in {"GET", "HEAD", "OPTIONS"}
        if principal is not None and unsafe and request.url.path.startswith("/api/"):
            check_csrf(request)
    request.state.principal = principal
    return principal


def current_principal(request: Request) -> auth.Principal:
    principal = optional_principal(request)
    if principal is None:
        raise AuthenticationRequired("authentication required: send a bearer token or log in")
    return principal


PrincipalDep = Annotated[auth.Principal, Depends(current_principal)]


def require(permission: str) -> Callable[..., auth.Principal]:
    """Dependency factory: the principal, provided it holds `permission` (deny by default)."""
    if permission not in PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}: add it to lifebank.auth.permissions first")

    def _check(principal: PrincipalDep) -> auth.Principal:
        if not principal.can(permission):
            raise PermissionDenied("permission {permission!r} is required", permission=permission)
        return principal

    _check.__name__ = f"require_{permission.replace('.', '_')}"
    return _check
