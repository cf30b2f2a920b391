"""Every page fits a 390 px phone and a 768 px tablet, in English and Chinese, with a compact header; and a
limited role is never shown a link it cannot open. The navigation groups the links by area, so the header
stays one row on a phone and two on a tablet or a laptop for every role, however many domains add links.

The pages are not listed by hand: every GET page route without path parameters is visited, then the links
found on those pages (one per route pattern, a few for the storage page whose query picks a template), so
pages other areas add are measured too. Detail pages get their parameters from a small bank built through
the services (`shell_bank`). Failures are collected and reported together, naming every offending page.
"""

from __future__ import annotations

from collections import Counter
from urllib.parse import quote, urlsplit

import pytest
from fastapi.routing import iter_route_contexts
from shell_bank import BOX_PATH, PATIENT, build_shell_bank
from starlette.routing import compile_path

from lifebank.auth.permissions import Role
from lifebank.omics import service as omics
from lifebank.web.app import create_app

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PHONE = {"width": 390, "height": 844}
TABLET = {"width": 768, "height": 1024}
DESKTOP = {"width": 1280, "height": 800}
# The phone header is one row (brand, find box, ☰ button); a tablet's and a laptop's add one row of areas
# (each a dropdown). The tablet may wrap that row once for an administrator in a long-worded language.
MAX_HEADER_PX = {390: 64, 768: 120, 1280: 90}
PER_ROUTE = 3  # URLs visited per route pattern (the storage page has three templates behind one route)
NOT_PAGES = ("/api/", "/fhir/", "/static/", "/favicon.ico", "/logout", "/language", "/health")

MEASURE = """() => ({
  scroll: document.documentElement.scrollWidth,
  width: window.innerWidth,
  header: document.querySelector('header.topbar') ? document.querySelector('header.topbar')
          .getBoundingClientRect().height : 0,
  wide: [...document.querySelectorAll('main *')].filter(e => e.getBoundingClientRect().right > window.innerWidth + 1
          && !e.closest('.table-wrap, .box-map, pre') && getComputedStyle(e).position !== 'fixed')
        .slice(0, 3).map(e => e.tagName.toLowerCase() + (e.className ? '.' + String(e.className).split(' ')[0] : '')),
  links: [...document.querySelectorAll('a[href]')].map(a => a.getAttribute('href')),
})"""


@pytest.fixture
def shell(live_server):
    bank = build_shell_bank(live_server.db)
    omics.save_cohort(live_server.db, live_server.settings.data_dir, "Serum donors of Shanghai",
                      omics.CohortCriteria(specimen_type="SER"), actor="shell-test")
    app = create_app(live_server.settings, live_server.db)
    patterns = [(route.path, compile_path(route.path)[0]) for route in iter_route_contexts(app.routes)
                if "GET" in (getattr(route, "methods", None) or set()) and not route.path.startswith(NOT_PAGES)]
    assert len(patterns) >= 10
    return live_server, bank, patterns


def _start_pages(patterns, bank) -> list[str]:
    fixed = [path for path, _ in patterns if "{" not in path and path not in {"/", "/login"}]
    known = [
        f"/biobank/specimens/{bank.tube}", f"/biobank/specimens/{quote(bank.long_tube)}",
        f"/biobank/participants/{bank.participant}",
        "/biobank/storage", f"/biobank/storage?path={quote('Site A/Freezer 1')}",
        f"/biobank/storage?path={quote(BOX_PATH)}",
        f"/hla/search?patient={quote(PATIENT)}&max_mismatches=2",
        "/hla/donors/D1", f"/hla/donors/{quote('CORD-UNIT-0000000000000002')}",
        f"/omics/cohorts/{quote('Serum donors of Shanghai')}",
        f"/find?q={quote(bank.twin)}", "/find?q=NOTHING-LIKE-THIS",
    ]
    return list(dict.fromkeys(known + fixed))


def _route_of(path: str, patterns) -> str | None:
    for template, regex in patterns:
        if regex.fullmatch(path):
            return template
    return None


def _walk(server, page, patterns, start: list[str], *, check_links: bool = False) -> dict[str, list[str]]:
    """Visit the start pages and the same-site page links on them; return the problems found, by kind."""
    problems: dict[str, list[str]] = {"overflow": [], "header": [], "dead_link": [], "error": []}
    queue, seen, per_route = list(start), set(), Counter()
    checked_links: dict[str, int] = {}
    while queue:
        url = queue.pop(0)
        route = _route_of(urlsplit(url).path, patterns)
        if url in seen or route is None or per_route[route] >= PER_ROUTE:
            continue
        seen.add(url)
        per_route[route] += 1
        probe = page.request.get(server.url + url)
        if not probe.headers.get("content-type", "").startswith("text/html"):
            continue  # a download (CSV, xlsx, PDF): nothing to lay out
        if probe.status == 404 and "{" in route:
            continue  # a detail page whose object this bank lacks
        response = page.goto(server.url + url)
        status = response.status if response else 0
        if status >= 400 and status not in {403, 422}:
            problems["error"].append(f"{url} -> {status}")
        measured = page.evaluate(MEASURE)
        if measured["scroll"] > measured["width"]:
            problems["overflow"].append(f"{url}: scrollWidth {measured['scroll']} > {measured['width']} "
                                        f"{measured['wide']}")
        if measured["header"] > MAX_HEADER_PX[measured["width"]]:
            problems["header"].append(f"{url}: header {measured['header']:.0f} px")
        for href in measured["links"] if status < 400 else []:
            target = urlsplit(href)
            if target.scheme or target.netloc or not target.path.startswith("/") or href.startswith("//"):
                continue
            local = target.path + (f"?{target.query}" if target.query else "")
            queue.append(local)
            if check_links and local not in checked_links:
                checked_links[local] = page.request.get(server.url + local, max_redirects=0).status
                if checked_links[local] == 403:
                    problems["dead_link"].append(f"{url} links to {local} (403)")
    assert len(seen) >= 10, seen
    return problems


def _report(problems: dict[str, list[str]]) -> str:
    titles = {"overflow": "pages wider than the screen", "header": "headers too tall",
              "dead_link": "links to pages the role cannot open", "error": "pages that failed"}
    return "\n".join(f"{titles[kind]}:\n  " + "\n  ".join(found) for kind, found in problems.items() if found)


def _session(server, browser, viewport, username: str, role: str, locale: str | None):
    server.create_user(role, username, locale=locale)
    context = browser.new_context(viewport=viewport, locale="zh-CN" if locale else "en-GB")
    page = context.new_page()
    page.set_default_timeout(20000)
    server.login(page, username)
    return context, page


@pytest.mark.parametrize(("viewport", "locale"), [(PHONE, None), (PHONE, "zh_Hans"), (TABLET, None),
                                                  (TABLET, "zh_Hans")],
                         ids=["phone-en", "phone-zh", "tablet-en", "tablet-zh"])
def test_every_page_fits_the_screen_with_a_compact_header(shell, browser, viewport, locale) -> None:
    server, bank, patterns = shell
    context, page = _session(server, browser, viewport, "alma", "admin", locale)
    problems = _walk(server, page, patterns, _start_pages(patterns, bank))
    context.close()
    assert not any(problems.values()), _report(problems)


@pytest.mark.parametrize("locale", [None, "zh_Hans"], ids=["en", "zh"])
def test_a_researcher_sees_no_link_it_cannot_open_and_every_page_fits_a_phone(shell, browser, locale) -> None:
    server, bank, patterns = shell
    context, page = _session(server, browser, PHONE, "rhea", "researcher", locale)
    problems = _walk(server, page, patterns, _start_pages(patterns, bank), check_links=True)
    context.close()
    assert not any(problems.values()), _report(problems)


@pytest.mark.parametrize("locale", [None, "zh_Hans"], ids=["en", "zh"])
def test_every_role_gets_a_compact_header_at_every_width(shell, browser, locale) -> None:
    """Each role (an administrator sees every area) on a page inside an area and on the dashboard."""
    server, _bank, _patterns = shell
    tall = []
    for role in Role:
        context, page = _session(server, browser, DESKTOP, f"{role.value[:6]}-{locale or 'en'}", role.value,
                                 locale)
        for path in ("/dashboard", "/account"):
            page.goto(server.url + path)
            for viewport in (PHONE, TABLET, DESKTOP):
                page.set_viewport_size(viewport)
                measured = page.evaluate(MEASURE)
                if measured["header"] > MAX_HEADER_PX[viewport["width"]] or measured["scroll"] > viewport["width"]:
                    tall.append(f"{role.value} {path} at {viewport['width']} px: header {measured['header']:.0f} px, "
                                f"page {measured['scroll']} px wide")
        context.close()
    assert not tall, tall


def test_phone_menu_collapses_the_navigation_and_opens_without_script(shell, browser) -> None:
    server, _bank, _patterns = shell
    context, page = _session(server, browser, PHONE, "tomas", "technician", None)
    nav = page.locator("nav.main-nav")
    assert not nav.is_visible()
    assert page.locator("#find-q").is_visible()
    page.click("label.menu-button")
    assert nav.is_visible()
    storage = page.locator("nav.main-nav a", has_text="Storage")
    assert not storage.is_visible()  # inside the Biobank area, folded
    page.click("nav.main-nav summary >> text=Biobank")
    storage.click()
    page.wait_for_url(f"{server.url}/biobank/storage")
    assert not page.locator("nav.main-nav").is_visible()
    page.click("label.menu-button")  # the menu reopens on the area of the page shown, its link marked
    assert page.locator("nav.main-nav a[aria-current=page]").inner_text() == "Storage"
    assert page.locator("summary.current").inner_text().startswith("Biobank")
    context.close()
    tablet = browser.new_context(viewport=TABLET, locale="en-GB", java_script_enabled=False)
    page = tablet.new_page()
    server.login(page, "tomas")
    assert page.locator("nav.main-nav").is_visible()
    assert not page.locator("label.menu-button").is_visible()
    page.click("nav.main-nav summary >> text=Biobank")  # a dropdown, without any script
    page.click("nav.main-nav a >> text=Storage")
    page.wait_for_url(f"{server.url}/biobank/storage")
    tablet.close()


def test_areas_open_close_and_follow_by_keyboard(shell, browser) -> None:
    server, _bank, _patterns = shell
    context, page = _session(server, browser, DESKTOP, "alma", "admin", None)
    areas = page.locator("nav.main-nav details.nav-group")
    assert areas.count() >= 4 and not page.locator("nav.main-nav a >> text=Audit log").is_visible()
    page.focus("nav.main-nav summary >> text=Administration")
    page.keyboard.press("Enter")
    assert page.locator("nav.main-nav a >> text=Audit log").is_visible()
    page.keyboard.press("Escape")  # closes, focus back on the area's name
    assert not page.locator("nav.main-nav a >> text=Audit log").is_visible()
    assert page.evaluate("document.activeElement.textContent.trim()") == "Administration"
    page.keyboard.press("Enter")
    page.click("nav.main-nav summary >> text=Biobank")  # one area open at a time
    assert page.locator("nav.main-nav details[open]").count() == 1
    page.click("main")  # a click elsewhere closes it
    assert page.locator("nav.main-nav details[open]").count() == 0
    page.focus("nav.main-nav summary >> text=Administration")
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # Users, then Organisations
    page.wait_for_url(f"{server.url}/admin/organisations")
    assert page.locator("nav.main-nav a[aria-current=page]").count() == 1
    for viewport in (TABLET, DESKTOP):  # the last area's list opens leftwards rather than off the screen
        page.set_viewport_size(viewport)
        page.click("nav.main-nav summary >> text=Administration")
        box = page.locator("nav.main-nav details[open] > ul").bounding_box()
        assert box and 0 <= box["x"] and box["x"] + box["width"] <= viewport["width"], (viewport, box)
        page.keyboard.press("Escape")
    context.close()


def test_a_scanner_typing_a_barcode_and_enter_on_the_dashboard_opens_the_tube(shell, browser) -> None:
    server, bank, _patterns = shell
    context, page = _session(server, browser, TABLET, "sina", "technician", "zh_Hans")
    assert page.evaluate("document.activeElement.id") == "find-q"  # focused: the scanner types straight in
    page.keyboard.type(bank.tube.lower())
    page.keyboard.press("Enter")
    page.wait_for_url(f"{server.url}/biobank/specimens/{bank.tube}")
    page.goto(f"{server.url}/biobank/storage")
    assert page.evaluate("document.activeElement.id") != "find-q"  # only the dashboard grabs the focus
    page.fill("#find-q", "NOTHING-LIKE-THIS")
    page.press("#find-q", "Enter")
    page.wait_for_selector("#find-none")
    assert "未找到" in page.inner_text("#find-none")
    context.close()
