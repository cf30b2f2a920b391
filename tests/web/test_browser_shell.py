"""The shell in a real browser: log in, dashboard, Chinese and back, a forbidden page, log out."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


def test_login_language_forbidden_logout(live_server, page) -> None:
    live_server.create_user("technician", "maya")
    live_server.login(page, "maya")
    assert page.locator("h1").inner_text() == "Dashboard"
    assert page.locator(".who").inner_text() == "maya"

    page.click("button[name=language][value=zh_Hans]")
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "工作台"
    assert page.locator("html").get_attribute("lang") == "zh-Hans"
    page.click("button[name=language][value=en]")
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "Dashboard"

    response = page.goto(f"{live_server.url}/admin/users")
    assert response is not None and response.status == 403
    assert page.locator("h1").inner_text() == "Access denied"

    page.goto(f"{live_server.url}/dashboard")
    page.click("text=Log out")
    page.wait_for_url(f"{live_server.url}/login")
    page.goto(f"{live_server.url}/dashboard")
    assert page.url.startswith(f"{live_server.url}/login")


def test_chinese_browser_sees_chinese_login_and_user_choice_persists(live_server, browser) -> None:
    live_server.create_user("clinician", "ning", locale="zh_Hans")
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    page.goto(f"{live_server.url}/login")
    assert page.locator("h1").inner_text() == "登录"
    live_server.login(page, "ning")
    assert page.locator("h1").inner_text() == "工作台"
    context.close()


def test_admin_sees_users_and_audit_log(live_server, page, click_nav) -> None:
    live_server.create_user("admin", "olga")
    live_server.login(page, "olga")
    click_nav(page, "Audit log")
    page.click("button[name=verify]")
    assert "Chain intact" in page.locator("p.ok").inner_text()
    click_nav(page, "Users")
    rows = page.locator("tbody tr")
    assert rows.count() == 1
    assert rows.first.locator("td").first.inner_text() == "olga"
    page.screenshot(path=str(live_server.settings.data_dir.parent / "users.png"), full_page=True)
