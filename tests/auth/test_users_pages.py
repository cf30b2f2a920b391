"""Users, accounts and tokens through real HTTP (pages and API), on SQLite and PostgreSQL."""

from __future__ import annotations

import re

import pytest

from lifebank.audit import service as audit
from lifebank.auth import service as auth
from lifebank.config import Settings
from lifebank.errors import AuthenticationRequired

PASSWORD = "Correct-horse-battery-9"


def _csrf(client, path: str = "/login") -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text).group(1)


def _login(client, username: str, password: str = PASSWORD, language: str | None = None) -> str:
    token = _csrf(client)
    if language:
        client.cookies.set("lifebank_lang", language)
    response = client.post("/login", data={"username": username, "password": password, "csrf_token": token},
                           follow_redirects=False)
    assert response.status_code == 303, response.text
    return token


def _fail_logins(db, settings: Settings, username: str) -> None:
    """Fail as many logins as it takes to lock the name out."""
    for _ in range(settings.login_max_failures):
        with pytest.raises(AuthenticationRequired):
            auth.authenticate(db, settings, username, "wrong-password-x")


def test_user_creation_errors_are_inline_in_the_readers_language(client, db) -> None:
    auth.create_user(db, "kate", PASSWORD, ["admin"])
    token = _login(client, "kate", language="zh_Hans")
    no_role = client.post("/admin/users", data={"username": "leo", "password": PASSWORD, "csrf_token": token})
    assert no_role.status_code == 422
    assert no_role.headers["content-type"].startswith("text/html")
    assert "用户至少需要一个角色" in no_role.text and 'value="leo"' in no_role.text
    empty = client.post("/admin/users", data={"csrf_token": token})
    assert empty.status_code == 422 and "text/html" in empty.headers["content-type"]
    page = client.get("/admin/users")
    assert "管理员" in page.text and ">admin<" not in page.text  # roles by their label


def test_last_admin_guard_is_shown_inline_on_the_user_page(client, db) -> None:
    auth.create_user(db, "root", PASSWORD, ["admin"])
    auth.create_user(db, "tom", PASSWORD, ["technician"])
    token = _login(client, "root")
    demote = client.post("/admin/users/root/roles", data={"role": ["technician"], "csrf_token": token})
    assert demote.status_code == 409 and "text/html" in demote.headers["content-type"]
    assert "root is the last active administrator" in demote.text
    assert auth.get_user(db, "root").roles == {"admin"}
    api = client.put("/api/v1/users/root/roles", json={"roles": ["technician"]}, headers={"X-CSRF-Token": token})
    assert api.status_code == 409 and "last active administrator" in api.json()["detail"]
    self_disable = client.post("/admin/users/root/active", data={"active": "false", "csrf_token": token})
    assert self_disable.status_code == 403 and "cannot disable your own account" in self_disable.text
    disabled = client.post("/admin/users/tom/active", data={"active": "false", "csrf_token": token})
    assert disabled.status_code == 200 and "User disabled; their sessions ended." in disabled.text
    assert not auth.get_user(db, "tom").is_active


def test_admin_resets_a_password_unlocks_and_sees_last_login(client, db, app) -> None:
    settings: Settings = app.state.settings
    auth.create_user(db, "root", PASSWORD, ["admin"])
    auth.create_user(db, "una", PASSWORD, ["technician"])
    auth.authenticate(db, settings, "una", PASSWORD)
    una_session = auth.start_session(db, settings, auth.authenticate(db, settings, "una", PASSWORD))
    _fail_logins(db, settings, "una")
    token = _login(client, "root")
    users = client.get("/admin/users").text
    assert "locked until" in users
    page = client.get("/admin/users/una").text
    assert "locked until" in page and 'id="unlock"' in page and "never" not in page.split("Last login")[1][:80]
    weak = client.post("/admin/users/una/password", data={"password": "short", "csrf_token": token})
    assert weak.status_code == 422 and "too weak" in weak.text
    new_password = "Bench-tablet-passphrase-42"
    done = client.post("/admin/users/una/password", data={"password": new_password, "csrf_token": token})
    assert done.status_code == 200 and "New password set" in done.text
    assert auth.session_principal(db, una_session) is None
    assert "una" not in auth.lockouts(db)  # a reset lifts the lockout too
    assert auth.authenticate(db, settings, "una", new_password).username == "una"
    _fail_logins(db, settings, "una")
    unlocked = client.post("/admin/users/una/unlock", data={"csrf_token": token})
    assert unlocked.status_code == 200 and "Login lockout lifted." in unlocked.text
    actions = [e.action for e in audit.list_events(db, entity_id="una")[1]]
    assert actions[:2] == ["user.unlock", "auth.login_failed"] and "user.password_reset" in actions
    assert client.get("/admin/users/nobody").status_code == 404


def test_login_says_disabled_and_when_a_lockout_ends(client, db, app) -> None:
    settings: Settings = app.state.settings
    auth.create_user(db, "vic", PASSWORD, ["technician"])
    auth.set_active(db, "vic", False)
    token = _csrf(client)
    disabled = client.post("/login", data={"username": "vic", "password": PASSWORD, "csrf_token": token})
    assert disabled.status_code == 401 and "Your account is disabled." in disabled.text
    wrong = client.post("/login", data={"username": "vic", "password": "guess-guess-1", "csrf_token": token})
    assert "Wrong username or password." in wrong.text and "disabled" not in wrong.text.split("<main")[1]
    for _ in range(settings.login_max_failures):
        last = client.post("/login", data={"username": "ghost", "password": "guess-guess-1", "csrf_token": token})
    assert last.status_code == 401
    locked = client.post("/login", data={"username": "ghost", "password": "guess-guess-1", "csrf_token": token})
    assert locked.status_code == 429
    until = auth.lockouts(db)["ghost"]
    from zoneinfo import ZoneInfo

    shanghai = until.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M")
    assert f"Try again after {shanghai}." in locked.text  # the site's zone: nobody is logged in


def test_tokens_in_the_ui_own_and_by_an_admin(client, db) -> None:
    auth.create_user(db, "root", PASSWORD, ["admin"])
    auth.create_user(db, "wen", PASSWORD, ["researcher"])
    token = _login(client, "wen")
    assert "No API tokens." in client.get("/account").text
    made = client.post("/account/tokens", data={"name": "R scripts", "days": "30", "csrf_token": token})
    secret = re.search(r'id="token-secret">(lbt_[^<]+)<', made.text).group(1)
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).json()["username"] == "wen"
    assert secret not in client.get("/account").text  # shown once
    bad = client.post("/account/tokens", data={"name": "", "days": "30", "csrf_token": token})
    assert bad.status_code == 422 and "a token needs a name" in bad.text
    own = client.get("/api/v1/tokens").json()
    assert [t["name"] for t in own] == ["R scripts"]
    assert client.get("/api/v1/tokens", params={"user": "root"}).status_code == 404  # not an admin
    prefix = own[0]["prefix"]

    other = auth.create_token(db, "root", "root's")
    refused = client.post(f"/account/tokens/{other.prefix}/revoke", data={"csrf_token": token})
    assert refused.status_code == 404 and auth.list_tokens(db, "root")[0].revoked_at is None
    client.post("/logout", data={"csrf_token": token})

    token = _login(client, "root")
    page = client.get("/admin/users/wen").text
    assert prefix in page and "R scripts" in page
    revoked = client.post(f"/admin/users/wen/tokens/{prefix}/revoke", data={"csrf_token": token})
    assert revoked.status_code == 200 and "API token revoked." in revoked.text
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    everyone = client.get("/api/v1/tokens", params={"user": "*"}).json()
    assert {t["user"] for t in everyone} == {"wen", "root"}
    ledger = [e.action for e in audit.list_events(db, entity_type="api_token", entity_id=prefix)[1]]
    assert ledger == ["token.revoke", "token.create"]


def test_account_preferences_change_language_and_time_zone(client, db) -> None:
    auth.create_user(db, "xiu", PASSWORD, ["clinician"])
    token = _login(client, "xiu")
    bad = client.post("/account/preferences", data={"language": "en", "time_zone": "Mars/Base",
                                                    "csrf_token": token})
    assert bad.status_code == 422 and "unknown time zone" in bad.text
    ok = client.post("/account/preferences", data={"language": "zh_Hans", "time_zone": "Europe/London",
                                                   "csrf_token": token})
    assert ok.status_code == 200 and "偏好设置已保存。" in ok.text and "Europe/London" in ok.text
    me = client.get("/api/v1/me").json()
    assert me["time_zone"] == "Europe/London" and me["locale"] == "zh_Hans" and me["last_login_at"]


def test_user_admin_api_resets_unlocks_and_guards_the_last_admin(client, db, app, users) -> None:
    settings: Settings = app.state.settings
    admin = users.headers("admin", "root")
    auth.create_user(db, "zoe", PASSWORD, ["technician"])
    _fail_logins(db, settings, "zoe")
    listed = {u["username"]: u for u in client.get("/api/v1/users", headers=admin).json()["items"]}
    assert listed["zoe"]["locked_until"] and listed["zoe"]["roles"] == ["technician"]
    assert client.post("/api/v1/users/zoe/unlock", headers=admin).json()["locked_until"] is None
    weak = client.post("/api/v1/users/zoe/password", json={"password": "short"}, headers=admin)
    assert weak.status_code == 422 and "too weak" in weak.json()["detail"]
    assert client.post("/api/v1/users/zoe/password", json={"password": "Bench-tablet-passphrase-42"},
                       headers=admin).status_code == 200
    assert auth.authenticate(db, settings, "zoe", "Bench-tablet-passphrase-42").username == "zoe"
    refused = client.post("/api/v1/users/root/disable", headers=admin)
    assert refused.status_code == 409 and refused.json()["detail"] == (
        "root is the last active administrator: give another active user the admin role first")
    chinese = client.post("/api/v1/users/root/disable", headers={**admin, "Accept-Language": "zh-CN"})
    assert "最后一位在用的管理员" in chinese.json()["detail"]
    assert client.post("/api/v1/users/zoe/password", json={"password": "x" * 20},
                       headers=users.headers("technician")).status_code == 403
