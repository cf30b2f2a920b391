"""Login hardening: failures throttled per address as well as per name; a session id cannot be fixed in advance."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from lifebank.auth import service as auth
from lifebank.config import Settings
from lifebank.web.app import create_app

PASSWORD = "Correct-horse-battery-9"


def _csrf(client, path: str = "/login") -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text).group(1)


def test_one_address_spraying_many_names_is_locked_out(settings: Settings, db) -> None:
    """Three wrong passwords on each of eight names stays under the per-name limit (5) but not under the
    per-address one (set to 10 here): the eleventh attempt, even with the right password, is refused."""
    auth.create_user(db, "victim", PASSWORD, ["technician"])
    tight = settings.model_copy(update={"login_max_failures_per_address": 10})
    for attempt in range(10):
        with pytest.raises(auth.AuthenticationRequired):
            auth.authenticate(db, tight, f"name{attempt % 8}", "Summer2026!", address="198.51.100.7")
    with pytest.raises(auth.LockedOut):
        auth.authenticate(db, tight, "victim", PASSWORD, address="198.51.100.7")
    # another address, and the user's own account, are not affected
    assert auth.authenticate(db, tight, "victim", PASSWORD, address="203.0.113.5").username == "victim"


def test_the_login_form_counts_failures_per_client_address(settings: Settings, db) -> None:
    auth.create_user(db, "wendy", PASSWORD, ["technician"])
    tight = settings.model_copy(update={"login_max_failures_per_address": 3})
    with TestClient(create_app(tight, db), client=("192.0.2.44", 4000)) as client:
        token = _csrf(client)
        for name in ("a1", "a2", "a3"):
            client.post("/login", data={"username": name, "password": "x" * 12, "csrf_token": token})
        refused = client.post("/login", data={"username": "wendy", "password": PASSWORD, "csrf_token": token},
                              follow_redirects=False)
        assert refused.status_code == 429 and "Too many failed logins" in refused.text


def test_a_session_id_set_before_login_is_never_the_one_after(client, db) -> None:
    auth.create_user(db, "xavier", PASSWORD, ["technician"])
    planted = "attacker-chosen-session-id"
    client.cookies.set("lifebank_session", planted)
    token = _csrf(client)
    answer = client.post("/login", data={"username": "xavier", "password": PASSWORD, "csrf_token": token},
                         follow_redirects=False)
    issued = answer.cookies.get("lifebank_session")
    assert answer.status_code == 303 and issued and issued != planted
    assert auth.session_principal(db, planted) is None and auth.session_principal(db, issued).username == "xavier"
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    client.post("/logout", data={"csrf_token": token})
    assert auth.session_principal(db, issued) is None  # logging out ends the session server-side
