"""Domain errors shared by every package.

Services raise these; the HTTP layer turns them into RFC 9457 problem documents and the CLI into one
clear line and a non-zero exit, once, at the edge.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class LifeBankError(Exception):
    """Base of every error a user can cause; `status` is the HTTP status the API answers with."""

    status: int = 400
    title: str = "Bad request"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class ConfigError(LifeBankError):
    status = 500
    title = "Configuration error"


class DatabaseUnavailable(LifeBankError):
    status = 503
    title = "Database unavailable"


class SchemaOutdated(LifeBankError):
    status = 503
    title = "Database schema outdated"


class NotFound(LifeBankError):
    status = 404
    title = "Not found"


class Conflict(LifeBankError):
    status = 409
    title = "Conflict"


class ValidationFailed(LifeBankError):
    status = 422
    title = "Validation failed"


class PermissionDenied(LifeBankError):
    status = 403
    title = "Forbidden"


class AuthenticationRequired(LifeBankError):
    status = 401
    title = "Authentication required"


class TooManyAttempts(LifeBankError):
    status = 429
    title = "Too many attempts"


@dataclass(frozen=True, slots=True)
class RowError:
    """One bad row (or record) of an input file: where it is and why it was refused."""

    line: int  # 1-based line number in the file as the user sees it (a CSV header is line 1)
    column: str
    reason: str

    def as_dict(self) -> dict[str, object]:
        return {"line": self.line, "column": self.column, "reason": self.reason}

    def __str__(self) -> str:
        return f"line {self.line}, column {self.column}: {self.reason}"


class RowsRejected(ValidationFailed):
    """An input with bad rows: nothing was written, and `errors` names every bad row.

    The one shape of "your file is wrong" across importers: the API answers it as problem+json with an
    `errors` list, the CLI prints one line per row (or the list, with `--format json`).
    """

    title = "Import rejected"
    SHOWN = 10

    def __init__(self, what: str, errors: Sequence[RowError], rows: int | None = None, *,
                 title: str = "Import rejected") -> None:
        self.title = title
        self.errors = list(errors)
        shown = "; ".join(str(e) for e in self.errors[: self.SHOWN])
        more = f" (and {len(self.errors) - self.SHOWN} more)" if len(self.errors) > self.SHOWN else ""
        counted = f" in {rows} rows" if rows is not None else ""
        super().__init__(f"{what} rejected, nothing written: {len(self.errors)} error(s){counted}: {shown}{more}")
