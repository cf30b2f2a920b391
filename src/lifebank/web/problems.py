"""RFC 9457 problem documents: the one error shape of the HTTP API; and the UI's error pages.

API paths (`/api/...`) answer problem+json, `detail` in the request's language. Every other path is a page
a person reads: it gets the HTML error page in the user's language, never raw JSON — including a request
FastAPI itself refuses (a query value of the wrong type, a form posted without a required field), whose
pydantic reasons are English: those are mapped to catalogue sentences naming the field.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from lifebank.errors import LifeBankError, RowsRejected
from lifebank.messages import N_, Msg, labels_of, register_labels

PROBLEM_JSON = "application/problem+json"

# pydantic error type -> the catalogue sentence a user reads after the field's name. `{…}` parameters come
# from the error's context (pydantic's `ctx`); a type not listed here falls back to "is not valid".
VALIDATION_REASONS: dict[str, str] = {
    "missing": N_("this field is required"),
    "int_parsing": N_("must be a whole number"),
    "int_type": N_("must be a whole number"),
    "int_from_float": N_("must be a whole number"),
    "float_parsing": N_("must be a number"),
    "float_type": N_("must be a number"),
    "decimal_parsing": N_("must be a number"),
    "bool_parsing": N_("must be yes or no"),
    "bool_type": N_("must be yes or no"),
    "enum": N_("must be one of {expected}"),
    "literal_error": N_("must be one of {expected}"),
    "string_too_long": N_("must be at most {max_length} characters long"),
    "string_too_short": N_("must be at least {min_length} characters long"),
    "string_pattern_mismatch": N_("does not have the expected form"),
    "string_type": N_("must be text"),
    "too_long": N_("must have at most {max_length} entries"),
    "too_short": N_("must have at least {min_length} entries"),
    "greater_than": N_("must be greater than {gt}"),
    "greater_than_equal": N_("must be at least {ge}"),
    "less_than": N_("must be less than {lt}"),
    "less_than_equal": N_("must be at most {le}"),
    "date_parsing": N_("must be a date such as 2026-03-01"),
    "date_from_datetime_parsing": N_("must be a date such as 2026-03-01"),
    "date_type": N_("must be a date such as 2026-03-01"),
    "datetime_parsing": N_("must be a date and time such as 2026-03-01 08:30"),
    "datetime_from_date_parsing": N_("must be a date and time such as 2026-03-01 08:30"),
    "datetime_type": N_("must be a date and time such as 2026-03-01 08:30"),
    "json_invalid": N_("is not valid JSON"),
    "list_type": N_("must be a list"),
    "uuid_parsing": N_("is not a valid identifier"),
}
INVALID = N_("is not valid")

# Names of request fields as a person reads them. Domains may add theirs: register_labels("field", {...}).
register_labels("field", {
    "file": N_("File"),
    "page": N_("Page"),
    "limit": N_("Limit"),
    "offset": N_("Offset"),
    "q": N_("Search text"),
    "username": N_("Username"),
    "password": N_("Password"),
    "role": N_("Role"),
    "max_mismatches": N_("Maximum mismatches"),
})

_STATUS_SENTENCES: dict[int, str] = {
    401: N_("Please log in."),
    403: N_("You do not have permission to open this page."),
    404: N_("There is no page at this address."),
    405: N_("This page cannot be opened this way."),
    500: N_("Something went wrong on the server. The error has been logged."),
}


def problem(status: int, title: str, detail: str, **extra: Any) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    headers = {"WWW-Authenticate": 'Bearer realm="lifebank"'} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(part) for part in loc if part not in {"body", "query", "path"}) or str(loc)


def field_name(loc: tuple[Any, ...] | list[Any]) -> Msg | str:
    """The field as a person reads it: its registered label (translated when rendered), else its name."""
    parts = [str(part) for part in loc if part not in {"body", "query", "path", "header", "cookie", "form"}]
    name = parts[-1] if parts and not parts[-1].isdigit() else (parts[-2] if len(parts) > 1 else _field_path(loc))
    english = labels_of("field").get(name)
    return Msg(english) if english else name


def validation_reason(error: Mapping[str, Any]) -> Msg:
    """Why pydantic refused one value, as a catalogue sentence ("must be a whole number")."""
    template = VALIDATION_REASONS.get(str(error.get("type")), INVALID)
    context: Mapping[str, Any] = error.get("ctx") or {}
    if not _placeholders(template) <= set(context):  # a context pydantic did not send: say less, not "{le}"
        template = INVALID
    return Msg(template, **{key: str(value) for key, value in context.items()})


def validation_messages(errors: Any) -> list[Msg]:
    """One catalogue message per refused field: "{field}: {reason}", e.g. "Maximum mismatches: must be a
    whole number" — the same in every language, with the field's own label."""
    messages: list[Msg] = []
    for error in errors:
        message = Msg("{field}: {reason}", field=field_name(error.get("loc", ())), reason=validation_reason(error))
        if message not in messages:
            messages.append(message)
    return messages


class ProblemDocument(BaseModel):
    """RFC 9457 problem details, as every error of `/api/v1` answers (`errors` lists refused rows or fields)."""

    model_config = ConfigDict(extra="allow")

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[dict[str, Any]] | None = None


_PROBLEM_STATUSES = {400: "Bad request", 401: "Authentication required", 403: "Forbidden", 404: "Not found",
                     409: "Conflict", 422: "Validation failed", 429: "Too many attempts"}


def problem_responses() -> dict[int | str, dict[str, Any]]:
    """The error responses every API operation may give (its router's `responses`), all problem documents."""
    return {status: {"model": ProblemDocument, "description": title} for status, title in _PROBLEM_STATUSES.items()}


def problem_media_types(document: dict[str, Any], prefix: str) -> dict[str, Any]:
    """Declare the 4xx/5xx responses under `prefix` as `application/problem+json` (FastAPI writes every model
    response as application/json) and FastAPI's default 422 as the problem document it really is."""
    problem_ref = {"$ref": "#/components/schemas/ProblemDocument"}
    for path, operations in document.get("paths", {}).items():
        if not path.startswith(prefix):
            continue
        for operation in operations.values():
            for status, response in (operation.get("responses") or {}).items():
                if str(status)[0] in "45":
                    response["content"] = {PROBLEM_JSON: {"schema": problem_ref}}
    schemas = document.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        if not any(unused in str(op) for ops in document.get("paths", {}).values() for op in ops.values()):
            schemas.pop(unused, None)
    return document


def _placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def status_sentence(status: int) -> Msg:
    return Msg(_STATUS_SENTENCES.get(status, N_("Something went wrong.")))


def request_language(request: Request) -> str | None:
    """The language the request's reader gets (set by the app's middleware; English without it)."""
    return getattr(request.state, "locale", None)


def install_problem_handlers(app: FastAPI, *, is_api: Callable[[Request], bool]) -> None:
    """API paths answer with problem+json; UI paths get the UI's HTML error page (`app.state.html_error`)."""

    def page(request: Request) -> Any:
        return None if is_api(request) else getattr(request.app.state, "html_error", None)

    @app.exception_handler(LifeBankError)
    async def _domain_error(request: Request, exc: LifeBankError) -> Any:
        language = request_language(request)
        if html_error := page(request):
            return html_error(request, exc.status, exc.render(language))
        extra = {"errors": [e.as_dict(language) for e in exc.errors]} if isinstance(exc, RowsRejected) else {}
        return problem(exc.status, exc.title, exc.render(language), **extra)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Any:
        if html_error := page(request):
            language = request_language(request)
            lines = [message.render(language) for message in validation_messages(exc.errors())]
            return html_error(request, 422, "", errors=lines)
        language = request_language(request)
        errors = [{"field": _field_path(e["loc"]), "reason": validation_reason(e).render(language)}
                  for e in exc.errors()]
        detail = "; ".join(message.render(language) for message in validation_messages(exc.errors()))
        return problem(422, "Validation failed", detail, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Any:
        if html_error := page(request):
            # Starlette's own details ("Not Found") are English status phrases: say it in the reader's words.
            standard = str(exc.detail) == _phrase(exc.status_code)
            detail = status_sentence(exc.status_code).render(request_language(request)) if standard \
                else str(exc.detail)
            return html_error(request, exc.status_code, detail)
        titles = {401: "Authentication required", 403: "Forbidden", 404: "Not found", 405: "Method not allowed"}
        return problem(exc.status_code, titles.get(exc.status_code, "Error"), str(exc.detail))

    @app.exception_handler(OverflowError)
    async def _number_out_of_range(request: Request, exc: OverflowError) -> Any:
        """A number no database column can hold (an id of 2**70 in a path or a query): the caller's mistake, not
        a server error. SQLite's driver raises OverflowError; PostgreSQL's "out of range" arrives below."""
        return _out_of_range(request)

    @app.exception_handler(DBAPIError)
    async def _database_refused_a_value(request: Request, exc: DBAPIError) -> Any:
        if _is_value_out_of_range(exc):
            return _out_of_range(request)
        raise exc  # any other database error is a bug: the 500 handler answers, the log keeps the traceback

    def _out_of_range(request: Request) -> Any:
        sentence = Msg("a number in the request is out of range")
        if html_error := page(request):
            return html_error(request, 422, sentence.render(request_language(request)))
        return problem(422, "Validation failed", sentence.render(request_language(request)))

    @app.exception_handler(Exception)
    async def _server_error(request: Request, exc: Exception) -> Any:
        """A bug: the reader gets a page (or a problem document) in their language, the log the traceback
        (Starlette re-raises the exception after this response, so it is logged as before)."""
        if html_error := page(request):
            return html_error(request, 500, status_sentence(500).render(request_language(request)))
        return problem(500, "Internal server error", status_sentence(500).render(request_language(request)))


def _is_value_out_of_range(exc: DBAPIError) -> bool:
    """PostgreSQL's SQLSTATE 22003 (numeric value out of range) and SQLite's OverflowError, wrapped."""
    original = getattr(exc, "orig", None)
    return isinstance(original, OverflowError) or getattr(original, "sqlstate", None) == "22003"


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""
