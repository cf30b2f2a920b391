"""The HTML shell over real HTTP: CSRF on every form, sessions, forbidden pages."""

from __future__ import annotations

import re

from lifebank.auth import service as auth

PASSWORD = "Correct-horse-battery-9"


def _csrf(client, path: str = "/login") -> str:
    page = client.get(path)
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def test_login_without_csrf_token_is_refused(client, db) -> None:
    auth.create_user(db, "hank", PASSWORD, ["technician"])
    client.get("/login")
    response = client.post("/login", data={"username": "hank", "password": PASSWORD}, follow_redirects=False)
    assert response.status_code == 403
    assert "CSRF" in response.text


def test_login_session_and_logout(client, db) -> None:
    auth.create_user(db, "ivy", PASSWORD, ["technician"])
    token = _csrf(client)
    wrong = client.post("/login", data={"username": "ivy", "password": "nope", "csrf_token": token})
    assert wrong.status_code == 401 and "Wrong username or password." in wrong.text
    ok = client.post("/login", data={"username": "ivy", "password": PASSWORD, "csrf_token": token},
                     follow_redirects=False)
    assert ok.status_code == 303 and ok.headers["location"] == "/dashboard"
    cookie = ok.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert client.get("/dashboard").status_code == 200
    assert client.get("/api/v1/me").json()["username"] == "ivy"  # the session also works for the API
    forbidden = client.get("/admin/users")
    assert forbidden.status_code == 403 and "Access denied" in forbidden.text
    assert client.post("/logout", data={"csrf_token": token}, follow_redirects=False).status_code == 303
    assert client.get("/dashboard", follow_redirects=False).headers["location"] == "/login?next=/dashboard"


def test_cookie_session_api_writes_need_the_csrf_header(client, db) -> None:
    auth.create_user(db, "jack", PASSWORD, ["admin"])
    token = _csrf(client)
    client.post("/login", data={"username": "jack", "password": PASSWORD, "csrf_token": token})
    body = {"name": "x"}
    assert client.post("/api/v1/tokens", json=body).status_code == 403
    assert client.post("/api/v1/tokens", json=body, headers={"X-CSRF-Token": token}).status_code == 201


def test_admin_creates_user_in_the_ui_with_clear_errors(client, db) -> None:
    auth.create_user(db, "kate", PASSWORD, ["admin"])
    token = _csrf(client)
    client.post("/login", data={"username": "kate", "password": PASSWORD, "csrf_token": token})
    weak = client.post("/admin/users", data={"username": "leo", "password": "short", "role": ["technician"],
                                            "csrf_token": token})
    assert weak.status_code == 422 and "too weak" in weak.text
    made = client.post("/admin/users", data={"username": "leo", "password": PASSWORD + "x", "role": ["technician"],
                                            "csrf_token": token})
    assert made.status_code == 200 and "User leo created." in made.text
    assert [u.username for u in auth.list_users(db)] == ["kate", "leo"]


def test_unknown_page_is_a_404_page(client) -> None:
    response = client.get("/no/such/page")
    assert response.status_code == 404 and "Page not found" in response.text
    api = client.get("/api/v1/no-such")
    assert api.status_code == 404 and api.headers["content-type"].startswith("application/problem+json")


def test_admin_changes_roles_and_disables_then_enables(client, db) -> None:
    auth.create_user(db, "pia", PASSWORD, ["admin"])
    auth.create_user(db, "quin", PASSWORD, ["technician"])
    token = _csrf(client)
    client.post("/login", data={"username": "pia", "password": PASSWORD, "csrf_token": token})
    changed = client.post("/admin/users/quin/roles", data={"role": ["researcher", "clinician"], "csrf_token": token},
                          follow_redirects=False)
    assert changed.status_code == 303
    quin = next(u for u in auth.list_users(db) if u.username == "quin")
    assert quin.roles == {"researcher", "clinician"}
    empty = client.post("/admin/users/quin/roles", data={"csrf_token": token})
    assert empty.status_code == 422 and "at least one role" in empty.text
    assert client.post("/admin/users/quin/active", data={"active": "false", "csrf_token": token},
                       follow_redirects=False).status_code == 303
    assert not next(u for u in auth.list_users(db) if u.username == "quin").is_active
    client.post("/admin/users/quin/active", data={"active": "true", "csrf_token": token})
    assert next(u for u in auth.list_users(db) if u.username == "quin").is_active
    own = client.post("/admin/users/pia/active", data={"active": "false", "csrf_token": token})
    assert own.status_code == 403
    no_csrf = client.post("/admin/users/quin/active", data={"active": "false"})
    assert no_csrf.status_code == 403
