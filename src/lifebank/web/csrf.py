"""CSRF protection by the signed double-submit pattern.

A random token lives in a SameSite=Strict cookie; every unsafe request must echo it in the form field
`csrf_token` or the `X-CSRF-Token` header. A cross-site page can neither read the cookie nor forge the
echo, and the same mechanism covers the login form before any session exists.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from fastapi import Request

from lifebank.errors import PermissionDenied

CSRF_COOKIE = "lifebank_csrf"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"


def new_csrf_token(secret: str) -> str:
    nonce = secrets.token_urlsafe(24)
    signature = hmac.new(secret.encode(), nonce.encode(), hashlib.sha256).hexdigest()[:32]
    return f"{nonce}.{signature}"


def csrf_token_valid(secret: str, token: str) -> bool:
    nonce, _, signature = token.partition(".")
    expected = hmac.new(secret.encode(), nonce.encode(), hashlib.sha256).hexdigest()[:32]
    return bool(nonce) and hmac.compare_digest(signature, expected)


def check_csrf(request: Request, form_value: str | None = None) -> None:
    cookie = request.cookies.get(CSRF_COOKIE, "")
    sent = form_value or request.headers.get(CSRF_HEADER, "")
    secret = request.app.state.secret_key
    if not cookie or not sent or not hmac.compare_digest(cookie, sent) or not csrf_token_valid(secret, cookie):
        raise PermissionDenied("CSRF check failed: reload the page and try again")
