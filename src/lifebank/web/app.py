"""The ASGI application: API under /api/v1, the server-rendered UI at /, static files, errors, API docs.

Nothing is loaded from a CDN: the UI's scripts and the Swagger UI of `/api/docs` are served from the package
(`static/vendor/`), so every page works offline and behind the Great Firewall.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lifebank import __version__
from lifebank.config import Settings, get_settings
from lifebank.db import migrate
from lifebank.db.engine import Database
from lifebank.domains import domain_modules
from lifebank.errors import LifeBankError
from lifebank.web import dashboard, find, operations, ui
from lifebank.web.csrf import CSRF_COOKIE, csrf_token_valid, new_csrf_token
from lifebank.web.deps import optional_principal
from lifebank.web.i18n import DEFAULT_LANGUAGE, from_accept_language, normalise
from lifebank.web.problems import install_problem_handlers, problem_media_types, problem_responses
from lifebank.web.templating import render

API_PREFIX = "/api/v1"
# Routes anyone may call without credentials; a test walks every other route and proves it needs auth.
PUBLIC_API_PATHS = frozenset({f"{API_PREFIX}/health"})
STATIC_DIR = Path(__file__).parent / "static"
SWAGGER_UI = "/static/vendor/swagger-ui"
OPENAPI_URL = "/api/openapi.json"
# Scripts only from the package's own files (no inline script, no eval): an injected <script> or onclick=
# does not run. Inline style attributes stay allowed (the server-drawn SVG charts and the fill bars use them).
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                           "img-src 'self' data: blob:; font-src 'self'; connect-src 'self'; object-src 'none'; "
                           "base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
# Set on every response that did not set its own (lower-case: ASGI header names).
SECURITY_HEADERS = (("x-content-type-options", "nosniff"), ("x-frame-options", "DENY"),
                    ("referrer-policy", "same-origin"), ("content-security-policy", CONTENT_SECURITY_POLICY))


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _health_router() -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/health", summary="Version and database status (no authentication)")
    def health(request: Request) -> JSONResponse:
        db: Database = request.app.state.db
        status, database = 200, {"dialect": db.dialect, "status": "ok"}
        try:
            migrate.ensure_current(db)
        except LifeBankError as exc:
            status, database = 503, {"dialect": db.dialect, "status": "error", "detail": exc.detail}
        except SQLAlchemyError as exc:  # pragma: no cover - depends on a failing server
            status, database = 503, {"dialect": db.dialect, "status": "error", "detail": str(exc).splitlines()[0]}
        return JSONResponse({"status": "ok" if status == 200 else "degraded", "version": __version__,
                             "database": database}, status_code=status)

    return router


def _shell_router() -> APIRouter:
    """The offline API docs and the favicon (browsers ask for /favicon.ico whatever the page links)."""
    router = APIRouter(include_in_schema=False)

    @router.get("/api/docs")
    def api_docs() -> HTMLResponse:
        # Swagger UI from the package, started by a script file (the CSP allows no inline script), and with no
        # validator badge (it would send the document to validator.swagger.io).
        return HTMLResponse(f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>LifeBank API</title><link rel="icon" href="/favicon.ico">
<link rel="stylesheet" href="{SWAGGER_UI}/swagger-ui.css"></head>
<body><div id="swagger-ui" data-openapi-url="{OPENAPI_URL}"></div>
<script src="{SWAGGER_UI}/swagger-ui-bundle.js"></script><script src="/static/swagger-init.js"></script>
</body></html>""")

    @router.get("/favicon.ico")
    def favicon() -> FileResponse:
        return FileResponse(STATIC_DIR / "favicon.ico", media_type="image/x-icon",
                            headers={"Cache-Control": "public, max-age=86400"})

    return router


def back_link(request: Request, status: int) -> str:
    """Where an error page's "back" link goes: the page the reader came from (same site only), else the
    form's own page for a GET refused for its query (422), else the dashboard."""
    referer = request.headers.get("referer", "")
    base = str(request.base_url)
    if referer.startswith(base):
        path = "/" + referer[len(base):]
        same_page = request.method == "GET" and path == str(request.url).removeprefix(base.rstrip("/"))
        if not same_page and not path.startswith("//"):
            return path
    if status == 422 and request.method == "GET" and request.url.query and not _is_api(request):
        return request.url.path
    return "/dashboard"


@lru_cache(maxsize=512)
def _accept_language(header: str) -> str | None:
    """`from_accept_language`, kept per header text (clients send the same few headers again and again)."""
    return from_accept_language(header)


def _csrf_set_cookie(token: str, secure: bool) -> tuple[bytes, bytes]:
    """The Set-Cookie header of a fresh CSRF token, exactly as `Response.set_cookie` writes it."""
    response = Response()
    response.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="strict", secure=secure, path="/")
    return response.raw_headers[-1]


class RequestContext:
    """Language and CSRF token for every request; security headers on every response.

    Pure ASGI middleware: `@app.middleware("http")` (BaseHTTPMiddleware) ran every request in a task of its own
    with memory streams between it and the app, which cost more CPU than a Beacon answer."""

    def __init__(self, app: ASGIApp, secret_key: str, settings: Settings) -> None:
        self.app = app
        self.secret_key = secret_key
        self.secure_cookie = settings.cookie_secure
        self.default_locale = normalise(settings.default_locale) or DEFAULT_LANGUAGE
        self.headers = [(name.encode(), value.encode()) for name, value in SECURITY_HEADERS]
        self.hsts = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cookie_header = accept = None
        for name, value in scope["headers"]:
            if name == b"cookie":
                cookie_header = value.decode("latin-1") if cookie_header is None else \
                    f"{cookie_header}; {value.decode('latin-1')}"
            elif name == b"accept-language" and accept is None:
                accept = value.decode("latin-1")
        cookies = cookie_parser(cookie_header) if cookie_header else {}
        cookie_token = cookies.get(CSRF_COOKIE)
        fresh = not (cookie_token and csrf_token_valid(self.secret_key, cookie_token))
        state = scope.setdefault("state", {})
        state["csrf_token"] = new_csrf_token(self.secret_key) if fresh else cookie_token
        state["locale"] = (normalise(cookies.get(ui.LANG_COOKIE)) or (accept and _accept_language(accept))
                           or self.default_locale)
        set_cookie = (_csrf_set_cookie(state["csrf_token"], self.secure_cookie)
                      if fresh and not scope["path"].startswith("/api/") else None)
        hsts = self.secure_cookie or scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or ())
                present = {name.lower() for name, _ in headers}
                if set_cookie is not None:
                    headers.append(set_cookie)
                headers += [header for header in self.headers if header[0] not in present]
                if hsts and self.hsts[0] not in present:
                    headers.append(self.hsts)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(settings: Settings | None = None, db: Database | None = None, *, check_schema: bool = True) -> FastAPI:
    settings = settings or get_settings()
    db = db or Database(settings.effective_database_url)
    if check_schema:
        migrate.ensure_current(db)

    app = FastAPI(title="LifeBank", version=__version__, docs_url=None, redoc_url=None, openapi_url=OPENAPI_URL)
    app.state.settings = settings
    app.state.db = db
    app.state.secret_key = settings.effective_secret_key()

    # FastAPI tries the routes in order, every included router's routes one by one (no prefix pruning): a
    # high-rate API under a fixed prefix of its own (the Beacon) comes first, rather than after ~300 others.
    for module in domain_modules("web"):
        if (first := getattr(module, "FIRST_ROUTER", None)) is not None:
            app.include_router(first, include_in_schema=False)
    api = APIRouter(prefix=API_PREFIX, responses=problem_responses())
    api.include_router(_health_router())
    for module in domain_modules("api"):
        api.include_router(module.router)
    app.include_router(api)

    app.include_router(ui.router)
    app.include_router(dashboard.router)
    app.include_router(find.router)
    app.include_router(_shell_router())
    operations.install(app)
    for module in domain_modules("web"):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    def html_error(request: Request, status: int, detail: str, errors: list[str] | None = None) -> HTMLResponse:
        try:  # a path no route matched never met the principal dependency; the page shell still wants it
            optional_principal(request)
        except LifeBankError:
            pass
        return render(request, "error.html", status_code=status, status=status, detail=detail,
                      errors=errors or [], back=back_link(request, status))

    app.state.html_error = html_error
    default_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = problem_media_types(default_openapi(), API_PREFIX)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    install_problem_handlers(app, is_api=_is_api)
    app.add_exception_handler(ui.LoginRedirect, ui.login_redirect)  # type: ignore[arg-type]

    # Outermost of LifeBank's middleware (added last), as the `@app.middleware("http")` function it replaces was.
    app.add_middleware(RequestContext, secret_key=app.state.secret_key, settings=settings)
    return app
