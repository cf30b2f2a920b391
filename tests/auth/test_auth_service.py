"""Users, passwords, throttling and sessions, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lifebank.audit import service as audit
from lifebank.auth import service as auth
from lifebank.auth.passwords import check_policy, hash_password, verify_password
from lifebank.auth.permissions import PERMISSIONS, ROLE_PERMISSIONS, Role, permissions_of
from lifebank.config import Settings
from lifebank.errors import AuthenticationRequired, Conflict, ValidationFailed

PASSWORD = "Correct-horse-battery-9"


def test_passwords_are_argon2id_hashes() -> None:
    hashed = hash_password(PASSWORD)
    assert hashed.startswith("$argon2id$")
    assert verify_password(hashed, PASSWORD)
    assert not verify_password(hashed, PASSWORD + "x")


@pytest.mark.parametrize("weak", ["short", "aaaaaaaaaaaaaaaa", "password1234", "xx-alice-1234567"])
def test_weak_passwords_are_refused(weak: str) -> None:
    with pytest.raises(ValidationFailed, match="too weak"):
        check_policy(weak, "alice")


def test_duplicate_user_is_refused_and_nothing_half_written(db) -> None:
    auth.create_user(db, "alice", PASSWORD, ["technician"])
    with pytest.raises(Conflict, match="'alice' already exists"):
        auth.create_user(db, "Alice", PASSWORD, ["admin"])
    assert [u.username for u in auth.list_users(db)] == ["alice"]
    assert audit.list_events(db)[0] == 1


def test_throttling_locks_after_repeated_failures(db) -> None:
    settings = Settings(login_max_failures=3, login_lockout_minutes=15)
    auth.create_user(db, "bob", PASSWORD, ["clinician"])
    for _ in range(3):
        with pytest.raises(AuthenticationRequired, match="wrong username or password"):
            auth.authenticate(db, settings, "bob", "not-the-password")
    from lifebank.errors import TooManyAttempts

    with pytest.raises(TooManyAttempts, match="try again in"):
        auth.authenticate(db, settings, "bob", PASSWORD)  # even the right password waits
    assert audit.verify(db).ok


def test_disabled_user_cannot_log_in_and_loses_sessions(db) -> None:
    settings = Settings()
    auth.create_user(db, "carol", PASSWORD, ["researcher"])
    principal = auth.authenticate(db, settings, "carol", PASSWORD)
    token = auth.start_session(db, settings, principal)
    assert auth.session_principal(db, token) is not None
    auth.set_active(db, "carol", False)
    assert auth.session_principal(db, token) is None
    with pytest.raises(AuthenticationRequired, match="disabled"):
        auth.authenticate(db, settings, "carol", PASSWORD)


def test_every_role_maps_to_known_permissions_and_deny_by_default() -> None:
    for role in Role:
        assert ROLE_PERMISSIONS[role] <= PERMISSIONS
    assert permissions_of(frozenset()) == frozenset()
    assert "user.admin" not in permissions_of(frozenset({"biobank_manager", "technician"}))
    assert permissions_of(frozenset({"admin"})) == PERMISSIONS


@given(st.text(min_size=0, max_size=11))
def test_any_password_shorter_than_twelve_is_weak(password: str) -> None:
    with pytest.raises(ValidationFailed):
        check_policy(password, "someone")
