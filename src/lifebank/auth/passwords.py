"""Password hashing (Argon2id) and the password policy."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from lifebank.errors import ValidationFailed

_HASHER = PasswordHasher()  # argon2-cffi defaults are Argon2id with RFC 9106 low-memory parameters

MIN_LENGTH = 12
_COMMON = {
    "password1234", "123456789012", "qwertyuiop12", "letmein12345", "administrator", "passwordpassword",
    "lifebank1234", "welcome12345", "changeme1234",
}


def check_policy(password: str, username: str) -> None:
    """NIST SP 800-63B style: length over composition rules, and no obvious guesses."""
    if len(password) < MIN_LENGTH:
        raise ValidationFailed("password is too weak: it needs at least {min} characters", min=MIN_LENGTH)
    if len(set(password)) < 5:
        raise ValidationFailed("password is too weak: it repeats too few different characters")
    if username and username.lower() in password.lower():
        raise ValidationFailed("password is too weak: it contains the username")
    if password.lower() in _COMMON:
        raise ValidationFailed("password is too weak: it is a commonly used password")


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# Verifying against this when a username is unknown keeps the timing of both failures alike. It is the
# `_HASHER.hash("lifebank-dummy-password-for-timing")` of the default parameters, written out: hashing it at
# import cost every `lifebank user|token …` command ~250 ms (tests/cli/test_startup.py checks the parameters).
DUMMY_HASH = "$argon2id$v=19$m=65536,t=3,p=4$HOtbp5ij4ONO8DisSW1klQ$fEnmfOWjrzYXHcUjccTxuYa9585/qUJiuFyksnBvUTU"
