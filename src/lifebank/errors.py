"""Domain errors shared by every package.

Services raise these; the HTTP layer turns them into RFC 9457 problem documents and the CLI into one
clear line and a non-zero exit, once, at the edge. The message is a catalogue template with named
parameters (`NotFound("specimen {barcode} does not exist", barcode=b)`, see `lifebank.messages`): `detail`
is its English text, `render(language)` the text in the reader's language.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lifebank.messages import Msg


class LifeBankError(Exception):
    """Base of every error a user can cause; `status` is the HTTP status the API answers with."""

    status: int = 400
    title: str = "Bad request"

    def __init__(self, message: str | Msg, /, **params: Any) -> None:
        self.message = message if isinstance(message, Msg) else Msg(message, **params)
        self.detail = str(self.message)
        super().__init__(self.detail)

    def render(self, language: str | None = None) -> str:
        """The message in `language` (None: English)."""
        return self.message.render(language)


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
    reason: str | Msg  # a catalogue message: Msg("unknown allele {allele}", allele=…)

    def as_dict(self, language: str | None = None) -> dict[str, object]:
        reason = self.reason.render(language) if isinstance(self.reason, Msg) else self.reason
        return {"line": self.line, "column": self.column, "reason": reason}

    def message(self) -> Msg:
        return Msg("line {line}, column {column}: {reason}", line=self.line, column=self.column,
                   reason=self.reason)

    def __str__(self) -> str:
        return str(self.message())


class RowsRejected(ValidationFailed):
    """An input with bad rows: nothing was written, and `errors` names every bad row.

    The one shape of "your file is wrong" across importers: the API answers it as problem+json with an
    `errors` list, the CLI prints one line per row (or the list, with `--format json`).
    """

    title = "Import rejected"
    SHOWN = 10

    def __init__(self, what: str | Msg, errors: Sequence[RowError], rows: int | None = None, *,
                 title: str = "Import rejected") -> None:
        self.title = title
        self.errors = list(errors)
        count = len(self.errors)
        shown = [e.message() for e in self.errors[: self.SHOWN]]
        more = Msg(" (and {n} more)", n=count - self.SHOWN) if count > self.SHOWN else ""
        if rows is None:
            summary = Msg("{what} rejected, nothing written: {count} error: {shown}{more}",
                          plural="{what} rejected, nothing written: {count} errors: {shown}{more}", count=count,
                          what=what, shown=shown, more=more)
        else:
            summary = Msg("{what} rejected, nothing written: {count} error in {rows} rows: {shown}{more}",
                          plural="{what} rejected, nothing written: {count} errors in {rows} rows: {shown}{more}",
                          count=count, rows=rows, what=what, shown=shown, more=more)
        super().__init__(summary)
