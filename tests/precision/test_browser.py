"""The report pages in a real browser: a clinician opens a tumour report and signs it off; the pages fit a phone."""

from __future__ import annotations

import pytest

from lifebank.precision import service
from lifebank.precision.run import Options

from .conftest import EXAMPLES

pytestmark = pytest.mark.browser
TEST_PASSWORD = "Correct-horse-battery-9"  # the live server's users (tests/conftest.py)


def _report(live_server) -> str:
    files = {"vcf": (EXAMPLES / "T001-BRCA.grch38.vcf.gz").read_bytes(),
             "cna": (EXAMPLES / "T001-BRCA.grch38.cna.tsv").read_bytes()}
    return service.create_report(live_server.db, None, files, Options(tumour_type="BRCA"), actor="t")["report"]


def test_clinician_opens_a_report_and_signs_it_off(live_server, page, click_nav):
    number = _report(live_server)
    live_server.create_user("clinician", "drma")
    live_server.login(page, "drma")
    click_nav(page, "Tumour reports")
    page.click(f"#reports >> text={number}")
    assert "PIK3CA p.H1047R" in page.locator("#actionable").inner_text()
    page.fill("#sign-password", "wrong-password")
    page.click("#sign-form button[type=submit]")
    assert page.locator("#sign-error").is_visible()
    page.fill("#sign-password", TEST_PASSWORD)
    page.select_option("#meaning", "approval")
    page.click("#sign-form button[type=submit]")
    page.wait_for_selector("text=Final (signed)")
    assert "drma" in page.locator("#report-status").inner_text()
    assert page.locator("#sign-form").count() == 0


def test_report_pages_fit_a_phone_in_chinese(live_server, browser):
    number = _report(live_server)
    live_server.create_user("clinician", "drzhao", locale="zh_Hans")
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    page = context.new_page()
    live_server.login(page, "drzhao")
    for path in ("/precision/reports", f"/precision/reports/{number}"):
        page.goto(live_server.url + path)
        width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1], (path, width)
    assert "签署" in page.content()
    context.close()
