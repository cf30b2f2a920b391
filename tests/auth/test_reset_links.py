"""One-time password reset links: issued by an administrator, used once by the user, then dead."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import update

from lifebank.audit import service as audit
from lifebank.auth import reset_links
from lifebank.auth import service as auth
from lifebank.auth.models import PasswordResetLink
from lifebank.errors import ValidationFailed

PASSWORD = "Correct-horse-battery-9"
NEW = "Violet-lantern-harbour-42"


def _csrf(client, path: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text).group(1)


def test_a_link_works_once_and_retires_older_links(db, settings) -> None:
    auth.create_user(db, "yara", PASSWORD, ["technician"])
    old, _ = reset_links.issue_reset_link(db, "yara", actor="admin")
    token, expires = reset_links.issue_reset_link(db, "yara", actor="admin", hours=2)
    assert timedelta(hours=1, minutes=59) < expires - auth.utcnow() <= timedelta(hours=2)
    with pytest.raises(ValidationFailed, match="invalid or has expired"):
        reset_links.link_user(db, old)  # the newer link retired it
    with pytest.raises(ValidationFailed, match="differ"):
        reset_links.reset_with_link(db, token, NEW, NEW + "x")
    with pytest.raises(ValidationFailed):
        reset_links.reset_with_link(db, token, "short", "short")  # the password policy still applies
    assert reset_links.reset_with_link(db, token, NEW, NEW) == "yara"
    assert auth.authenticate(db, settings, "yara", NEW).username == "yara"
    with pytest.raises(ValidationFailed, match="invalid or has expired"):
        reset_links.reset_with_link(db, token, PASSWORD, PASSWORD)  # used
    actions = [e.action for e in audit.list_events(db, entity_type="user", entity_id="yara", limit=20)[1]]
    assert "user.password_reset_by_link" in actions and actions.count("user.reset_link") == 2


def test_an_expired_link_is_refused_like_an_unknown_one(db) -> None:
    auth.create_user(db, "zane", PASSWORD, ["technician"])
    token, _ = reset_links.issue_reset_link(db, "zane", actor="admin")
    with db.transaction() as session:
        session.execute(update(PasswordResetLink).values(expires_at=auth.utcnow() - timedelta(seconds=1)))
    for candidate in (token, "no-such-token"):
        with pytest.raises(ValidationFailed, match="invalid or has expired"):
            reset_links.reset_with_link(db, candidate, NEW, NEW)


def test_admin_issues_a_link_in_the_ui_and_the_user_sets_a_password_without_logging_in(client, db) -> None:
    auth.create_user(db, "boss", PASSWORD, ["admin"])
    auth.create_user(db, "uma", PASSWORD, ["technician"])
    uma_session = auth.start_session(db, client.app.state.settings, auth.authenticate(
        db, client.app.state.settings, "uma", PASSWORD))
    token = _csrf(client, "/login")
    client.post("/login", data={"username": "boss", "password": PASSWORD, "csrf_token": token})
    issued = client.post("/admin/users/uma/reset-link", data={"csrf_token": token})
    assert issued.status_code == 200
    link = re.search(r'id="reset-link" type="text" readonly value="([^"]+)"', issued.text).group(1)
    path = link[link.index("/reset/"):]
    client.post("/logout", data={"csrf_token": token})
    client.cookies.clear()
    form = client.get(path, headers={"Accept-Language": "zh-CN"})
    assert form.status_code == 200 and "uma" in form.text
    token = _csrf(client, path)
    mismatch = client.post(path, data={"password": NEW, "repeated": "other", "csrf_token": token})
    assert mismatch.status_code == 422 and 'id="reset-error"' in mismatch.text
    done = client.post(path, data={"password": NEW, "repeated": NEW, "csrf_token": token})
    assert done.status_code == 200 and 'id="reset-done"' in done.text
    assert auth.session_principal(db, uma_session) is None  # her other sessions ended
    again = client.get(path)
    assert again.status_code == 422 and "invalid or has expired" in again.text


def test_api_issues_a_link_for_administrators_only(client, db, users) -> None:
    auth.create_user(db, "vic", PASSWORD, ["technician"])
    made = client.post("/api/v1/users/vic/reset-link?hours=3", headers=users.headers("admin"))
    assert made.status_code == 201 and made.json()["path"].startswith("/reset/")
    assert client.post("/api/v1/users/vic/reset-link", headers=users.headers("biobank_manager")).status_code == 403
    assert client.post("/api/v1/users/vic/reset-link?hours=999", headers=users.headers("admin")).status_code == 422
