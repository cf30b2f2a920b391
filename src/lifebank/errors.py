"""Domain errors shared by every package.

Services raise these; the HTTP layer turns them into RFC 9457 problem documents and the CLI into one
clear line and a non-zero exit, once, at the edge.
"""

from __future__ import annotations


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
