"""Users, accounts, tokens and the audit log in a real browser (Chromium), including a 390 px phone."""

from __future__ import annotations

import csv
import io

import pytest

from lifebank.auth import service as auth
from lifebank.errors import AuthenticationRequired

pytestmark = pytest.mark.browser
NEW_PASSWORD = "Bench-tablet-passphrase-42"


def _lock_out(live_server, username: str) -> None:
    for _ in range(live_server.settings.login_max_failures):
        with pytest.raises(AuthenticationRequired):
            auth.authenticate(live_server.db, live_server.settings, username, "wrong-password-x")


def test_admin_unlocks_a_user_and_resets_the_password(live_server, page, browser, click_nav) -> None:
    live_server.create_user("admin", "olga")
    live_server.create_user("technician", "tao")
    _lock_out(live_server, "tao")
    live_server.login(page, "olga")
    click_nav(page, "Users")
    row = page.locator("tbody tr", has_text="tao")
    assert "locked until" in row.inner_text()
    row.locator("a", has_text="tao").click()
    page.click("#unlock")
    assert page.locator("p.ok").inner_text() == "Login lockout lifted."
    assert page.locator("#unlock").count() == 0
    page.fill("#new-password", NEW_PASSWORD)
    page.click("#password-form button[type=submit]")
    assert "New password set" in page.locator("p.ok").inner_text()

    other = browser.new_context(locale="en-GB")
    tao = other.new_page()
    live_server.login(tao, "tao", NEW_PASSWORD)
    assert tao.locator(".who").inner_text() == "tao"
    other.close()
    assert not auth.lockouts(live_server.db)


def test_last_admin_guard_is_shown_inline(live_server, page) -> None:
    live_server.create_user("admin", "root")
    live_server.login(page, "root")
    page.goto(f"{live_server.url}/admin/users/root")
    page.uncheck("#roles-form input[value=admin]")
    page.check("#roles-form input[value=technician]")
    page.click("#roles-form button[type=submit]")
    alert = page.locator("p.error[role=alert]")
    assert "root is the last active administrator" in alert.inner_text()
    assert page.locator("h1").inner_text() == "User root"  # the page, not a problem document
    assert auth.get_user(live_server.db, "root").roles == {"admin"}

    page.goto(f"{live_server.url}/admin/users")
    page.fill("#new-username", "pat")
    page.fill("#new-password", NEW_PASSWORD)
    page.click("#new-user button[type=submit]")
    assert page.locator("#new-user p.error").inner_text() == "a user needs at least one role"
    assert page.locator("#new-username").input_value() == "pat"


def test_tokens_are_created_shown_once_and_revoked_in_the_ui(live_server, page, click_nav) -> None:
    live_server.create_user("researcher", "rui")
    live_server.login(page, "rui")
    click_nav(page, "My account")
    assert page.locator("table.tokens tr.none").inner_text() == "No API tokens."
    page.fill("#token-name", "R scripts")
    page.click("#token-form button[type=submit]")
    secret = page.locator("#token-secret").inner_text()
    assert secret.startswith("lbt_")
    row = page.locator("table.tokens tbody tr", has_text="R scripts")
    assert "valid" in row.inner_text()
    prefix = row.get_attribute("data-prefix")
    assert secret.split("_")[1] == prefix
    row.locator("button", has_text="Revoke").click()
    assert page.locator("p.ok").inner_text() == "API token revoked."
    assert "revoked" in page.locator("table.tokens tbody tr", has_text="R scripts").inner_text()
    assert page.locator("#token-secret").count() == 0
    with pytest.raises(AuthenticationRequired, match="revoked"):
        auth.token_principal(live_server.db, secret)


def test_audit_filter_and_export_link(live_server, page, click_nav) -> None:
    live_server.create_user("admin", "olga")
    live_server.create_user("technician", "tao")
    live_server.login(page, "olga")
    click_nav(page, "Audit log")
    page.select_option("#f-action", "user.create")
    page.click("#audit-filters button[type=submit]:not([name])")
    assert page.locator("#event-count").inner_text() == "2 events"
    assert page.locator("#page-count").inner_text() == "page 1 of 1"
    page.fill("#f-id", "tao")
    page.click("#audit-filters button[type=submit]:not([name])")
    assert page.locator("#event-count").inner_text() == "1 event"
    with page.expect_download() as download_info:
        page.click("#export-csv")
    download = download_info.value
    rows = list(csv.reader(io.StringIO(open(download.path(), encoding="utf-8-sig").read())))
    assert len(rows) == 2 and rows[1][2] == "system" and rows[1][4] == "User created" and rows[1][6] == "tao"
    page.locator("table.audit-events tbody a", has_text="User created").click()
    assert page.locator("h1").inner_text().startswith("Ledger event #")
    assert "The change matches its digest" in page.locator("p.ok").inner_text()


@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_user_and_audit_pages_fit_a_phone(live_server, browser, language: str) -> None:
    live_server.create_user("admin", "olga")
    live_server.create_user("technician", "tao.with.a.rather.long.username.0123456789")
    context = browser.new_context(locale=language, viewport={"width": 390, "height": 844})
    page = context.new_page()
    live_server.login(page, "olga")
    seq = 1
    for path in ("/admin/users", "/admin/users/tao.with.a.rather.long.username.0123456789", "/account", "/audit",
                 f"/audit/events/{seq}", "/audit?date_to=2000-01-01"):
        page.goto(f"{live_server.url}{path}")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, (path, width)
    context.close()
