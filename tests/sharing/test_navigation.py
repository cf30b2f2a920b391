"""The "Sharing" area of the main navigation: the Beacon page for every logged-in user, exports for export
managers, "my exports" for recipients; each as the role's permissions allow, in both languages."""

from __future__ import annotations

import re

import pytest

NAV = re.compile(r'<nav class="main-nav".*?</nav>', re.S)


def _nav(client, headers: dict[str, str], language: str = "en") -> str:
    page = client.get("/dashboard", headers=headers | {"Accept-Language": language})
    assert page.status_code == 200
    found = NAV.search(page.text)
    assert found is not None
    return found.group(0)


@pytest.mark.parametrize(("role", "exports", "mine"), [
    ("admin", True, True), ("biobank_manager", True, True), ("researcher", False, True),
    ("partner", False, True), ("technician", False, False)])
def test_sharing_pages_are_in_the_navigation_by_role(client, users, role, exports, mine) -> None:
    nav = _nav(client, users.headers(role))
    assert 'href="/beacon"' in nav  # the Beacon page: everyone (the page itself is public)
    assert ('href="/sharing/exports"' in nav) is exports
    assert ('href="/sharing/my-exports"' in nav) is mine
    if exports or mine:  # two items or more: an area of its own, "Sharing"
        assert re.search(r"<summary[^>]*>Sharing", nav)


def test_sharing_area_in_chinese(client, users) -> None:
    nav = _nav(client, users.headers("biobank_manager"), "zh-CN")
    for path in ("/beacon", "/sharing/exports", "/sharing/my-exports"):
        assert f'href="{path}"' in nav
    assert re.search(r"<summary[^>]*>数据共享", nav) and "我的导出" in nav and "Beacon" in nav


def test_an_anonymous_visitor_has_no_navigation_but_the_beacon_page(client) -> None:
    page = client.get("/beacon")
    assert page.status_code == 200 and NAV.search(page.text) is None
