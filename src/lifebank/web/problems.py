"""RFC 9457 problem documents: the one error shape of the HTTP API."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from lifebank.errors import LifeBankError, RowsRejected

PROBLEM_JSON = "application/problem+json"


def problem(status: int, title: str, detail: str, **extra: Any) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    headers = {"WWW-Authenticate": 'Bearer realm="lifebank"'} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(part) for part in loc if part not in {"body", "query", "path"}) or str(loc)


def request_language(request: Request) -> str | None:
    """The language the request's reader gets (set by the app's middleware; English without it)."""
    return getattr(request.state, "locale", None)


def install_problem_handlers(app: FastAPI, *, is_api: Any) -> None:
    """API paths answer with problem+json; UI paths are left to the UI's own HTML error pages."""

    @app.exception_handler(LifeBankError)
    async def _domain_error(request: Request, exc: LifeBankError) -> Any:
        language = request_language(request)
        if not is_api(request) and hasattr(request.app.state, "html_error"):
            return request.app.state.html_error(request, exc.status, exc.render(language))
        extra = {"errors": [e.as_dict(language) for e in exc.errors]} if isinstance(exc, RowsRejected) else {}
        return problem(exc.status, exc.title, exc.render(language), **extra)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Any:
        errors = [{"field": _field_path(e["loc"]), "reason": e["msg"]} for e in exc.errors()]
        detail = "; ".join(f"{e['field']}: {e['reason']}" for e in errors)
        return problem(422, "Validation failed", detail, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Any:
        if not is_api(request) and hasattr(request.app.state, "html_error"):
            return request.app.state.html_error(request, exc.status_code, str(exc.detail))
        titles = {401: "Authentication required", 403: "Forbidden", 404: "Not found", 405: "Method not allowed"}
        return problem(exc.status_code, titles.get(exc.status_code, "Error"), str(exc.detail))
