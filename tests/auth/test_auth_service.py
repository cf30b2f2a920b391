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


# --- the last active administrator ---------------------------------------------------------------------

def test_the_last_active_admin_keeps_the_role_and_stays_enabled(db) -> None:
    auth.create_user(db, "root", PASSWORD, ["admin"])
    auth.create_user(db, "tess", PASSWORD, ["technician"])
    with pytest.raises(Conflict, match="root is the last active administrator"):
        auth.set_roles(db, "root", ["technician"], actor="root")
    with pytest.raises(Conflict, match="last active administrator"):
        auth.set_active(db, "root", False, actor="root")
    with pytest.raises(Conflict, match="last active administrator"):
        auth.change_roles(db, "root", add=[], remove=["admin"], actor="root")
    assert auth.get_user(db, "root").roles == {"admin"} and auth.get_user(db, "root").is_active
    events_before = audit.list_events(db)[0]

    auth.set_roles(db, "tess", ["technician", "admin"], actor="root")  # a second admin...
    auth.set_active(db, "tess", False, actor="root")  # ...who is disabled does not count
    with pytest.raises(Conflict, match="last active administrator"):
        auth.set_roles(db, "root", ["researcher"], actor="root")
    auth.set_active(db, "tess", True, actor="root")
    auth.set_roles(db, "root", ["researcher"], actor="tess")  # now there is another active admin
    assert auth.get_user(db, "root").roles == {"researcher"}
    assert audit.list_events(db)[0] == events_before + 4
    assert audit.verify(db).ok


def test_roles_change_keeps_grants_that_stay_and_refuses_unknown_roles(db) -> None:
    auth.create_user(db, "uma", PASSWORD, ["technician", "researcher"])
    user = auth.change_roles(db, "uma", add=["clinician"], remove=["researcher"], actor="t")
    assert user.roles == {"technician", "clinician"}
    with pytest.raises(ValidationFailed, match="unknown role 'wizard'; roles are admin, biobank_manager"):
        auth.change_roles(db, "uma", add=["wizard"], remove=[], actor="t")
    with pytest.raises(ValidationFailed, match="at least one role"):
        auth.change_roles(db, "uma", add=[], remove=["technician", "clinician"], actor="t")
    detail = audit.event_detail(db, audit.list_events(db, entity_id="uma")[1][0].seq)
    assert detail.change == {"before": ["researcher", "technician"], "roles": ["clinician", "technician"]}
    assert detail.change_matches_digest is True


# --- login: disabled, locked out, unlocked, reset ------------------------------------------------------

def test_a_disabled_user_with_the_right_password_is_told_so_and_a_wrong_one_is_not(db) -> None:
    settings = Settings()
    auth.create_user(db, "vera", PASSWORD, ["researcher"])
    auth.set_active(db, "vera", False)
    with pytest.raises(auth.AccountDisabled, match="'vera' is disabled"):
        auth.authenticate(db, settings, "vera", PASSWORD)
    with pytest.raises(AuthenticationRequired) as wrong:
        auth.authenticate(db, settings, "vera", "not-the-password")
    assert not isinstance(wrong.value, auth.AccountDisabled)
    assert wrong.value.detail == "wrong username or password"


def test_lockout_says_until_when_for_known_and_unknown_names_alike(db) -> None:
    from lifebank.db.base import utcnow

    settings = Settings(login_max_failures=2, login_lockout_minutes=10)
    auth.create_user(db, "wade", PASSWORD, ["clinician"])
    for name in ("wade", "nobody"):
        for _ in range(2):
            with pytest.raises(AuthenticationRequired, match="wrong username or password"):
                auth.authenticate(db, settings, name, "not-the-password")
        with pytest.raises(auth.LockedOut) as locked:
            auth.authenticate(db, settings, name, PASSWORD)
        remaining = (locked.value.until - utcnow()).total_seconds()
        assert 9 * 60 < remaining <= 10 * 60
        assert "try again in 10 min (after " in locked.value.detail
    assert set(auth.lockouts(db)) == {"wade", "nobody"}


def test_unlock_and_password_reset_by_an_admin(db) -> None:
    settings = Settings(login_max_failures=1, login_lockout_minutes=30)
    auth.create_user(db, "xena", PASSWORD, ["technician"])
    principal = auth.authenticate(db, settings, "xena", PASSWORD)
    assert auth.get_user(db, "xena").last_login_at is not None
    session_token = auth.start_session(db, settings, principal)
    with pytest.raises(AuthenticationRequired):
        auth.authenticate(db, settings, "xena", "wrong-password-1")
    with pytest.raises(auth.LockedOut):
        auth.authenticate(db, settings, "xena", PASSWORD)
    assert auth.unlock(db, "xena", actor="root") is True
    assert auth.unlock(db, "xena", actor="root") is False
    assert auth.authenticate(db, settings, "xena", PASSWORD).username == "xena"

    new_password = "Another-long-passphrase-7"
    with pytest.raises(ValidationFailed, match="too weak"):
        auth.reset_password(db, "xena", "short", actor="root")
    auth.reset_password(db, "xena", new_password, actor="root")
    assert auth.session_principal(db, session_token) is None  # her open session ended
    assert auth.authenticate(db, settings, "xena", new_password).username == "xena"
    with pytest.raises(AuthenticationRequired, match="wrong username or password"):
        auth.authenticate(db, settings, "xena", PASSWORD)
    actions = [e.action for e in audit.list_events(db, entity_type="user", entity_id="xena")[1]]
    assert "user.password_reset" in actions and "user.unlock" in actions
    reset = next(e for e in audit.list_events(db, entity_id="xena")[1] if e.action == "user.password_reset")
    assert audit.event_detail(db, reset.seq).change == {"sessions_ended": 1}


def test_preferences_set_the_principals_time_zone(db) -> None:
    settings = Settings()
    user = auth.create_user(db, "yara", PASSWORD, ["clinician"])
    auth.set_preferences(db, user.id, locale="zh_Hans", time_zone="Europe/Berlin")
    principal = auth.authenticate(db, settings, "yara", PASSWORD)
    assert principal.time_zone == "Europe/Berlin" and principal.locale == "zh_Hans"
    with pytest.raises(ValidationFailed, match="unknown time zone 'Mars/Olympus'"):
        auth.set_preferences(db, user.id, locale=None, time_zone="Mars/Olympus")
    auth.set_preferences(db, user.id, locale=None, time_zone="")
    assert auth.get_user(db, "yara").time_zone is None


def test_role_labels_are_registered_for_every_role() -> None:
    from lifebank.messages import labels_of

    assert set(labels_of("role")) == {r.value for r in Role}
    from lifebank.messages import label

    assert label("role", "biobank_manager", "zh_Hans") == "生物样本库经理"
