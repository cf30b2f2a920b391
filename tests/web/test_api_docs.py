"""/api/docs works offline: Swagger UI 5 from the package, rendering FastAPI's OpenAPI 3.1 document."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lifebank.web.app import STATIC_DIR

VENDOR = STATIC_DIR / "vendor" / "swagger-ui"


def test_docs_reference_only_local_assets(client) -> None:
    html = client.get("/api/docs").text
    urls = re.findall(r"""(?:src|href|url)\s*[:=]\s*["']([^"']+)""", html)
    assert urls, html
    assert all(u.startswith("/") and not u.startswith("//") for u in urls), urls
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in urls
    assert "cdn" not in html.lower()
    for url in urls:
        assert client.get(url).status_code == 200, url
    assert client.get("/api/openapi.json").json()["openapi"].startswith("3.1")


def test_vendored_swagger_ui_is_version_5_with_its_licence() -> None:
    assert (VENDOR / "LICENSE").read_text().lstrip().startswith("Apache License")
    note = (VENDOR / "README.md").read_text()
    version = re.search(r"swagger-ui-dist@(\d+)\.", note)
    assert version and int(version.group(1)) >= 5
    assert "Apache" in note


def test_favicon_is_served_and_linked(client) -> None:
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/x-icon"
    assert icon.content[:4] == b"\x00\x00\x01\x00"  # an ICO header
    login = client.get("/login").text
    assert 'rel="icon" href="/favicon.ico"' in login and "/static/favicon.svg" in login
    assert client.get("/static/favicon.svg").headers["content-type"].startswith("image/svg")


@pytest.mark.browser
def test_docs_render_the_operations_with_the_network_cut_off(live_server, browser) -> None:
    context = browser.new_context()
    page = context.new_page()
    outside: list[str] = []

    def only_local(route) -> None:
        url = route.request.url
        if url.startswith(live_server.url):
            route.continue_()
        else:
            outside.append(url)
            route.abort()

    page.route("**/*", only_local)
    page.goto(f"{live_server.url}/api/docs")
    page.wait_for_selector(".opblock-summary-path", timeout=20000)
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert any("/api/v1/health" in p.replace("\u200b", "") for p in paths), paths[:5]
    assert page.locator(".info .title").inner_text().startswith("LifeBank")
    assert outside == []
    context.close()


def test_vendor_tree_holds_only_what_the_docs_need() -> None:
    names = sorted(p.name for p in Path(VENDOR).iterdir())
    assert names == ["LICENSE", "NOTICE", "README.md", "swagger-ui-bundle.js", "swagger-ui-bundle.js.LICENSE.txt",
                     "swagger-ui.css"]
