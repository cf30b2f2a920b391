"""The sharing pages in a real browser: the public Beacon page (English and Chinese, phone width), a manager
releasing records and writing an export, the partner finding it under "my exports" and downloading it."""

from __future__ import annotations

import pytest

from lifebank.sharing import beacon

from .conftest import load_bank

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}


@pytest.mark.parametrize("locale", ["en-GB", "zh-CN"])
def test_public_beacon_page_answers_at_the_callers_granularity(live_server, browser, locale) -> None:
    load_bank(live_server.db, live_server.settings.data_dir)
    beacon.set_level(live_server.db, "kg", "PUBLIC", actor="test")
    context = browser.new_context(viewport=PHONE, locale=locale)
    page = context.new_page()
    page.set_default_timeout(15000)
    page.goto(f"{live_server.url}/beacon")
    page.fill("#beacon-chrom", "chr22")
    page.fill("#beacon-position", "10510770")
    page.fill("#beacon-alt", "A")
    page.select_option("#beacon-granularity", "count")
    page.click("#beacon-ask")
    answer = page.locator("#beacon-answer")
    assert answer.get_attribute("data-granularity") == "boolean"  # anonymous: yes or no only
    assert ("Yes: the bank has" if locale == "en-GB" else "有：样本库中有") in answer.inner_text()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"]  # no horizontal page scroll on a phone
    page.fill("#beacon-position", "abc")
    page.click("#beacon-ask")
    error = page.locator("#beacon-error").inner_text()
    assert ("start must be a whole number" if locale == "en-GB" else "必须是整数") in error
    context.close()


def test_manager_exports_and_partner_downloads_own(live_server, page, browser) -> None:
    load_bank(live_server.db, live_server.settings.data_dir)
    live_server.create_user("biobank_manager", "manny")
    live_server.create_user("partner", "pat", locale="zh_Hans")
    live_server.login(page, "manny")
    page.click("#dash-exports")  # the dashboard's sharing panel leads there
    page.wait_for_url(f"{live_server.url}/sharing/exports")
    page.select_option("#release-dataset", "biobank")
    page.fill("#release-user", "pat")
    page.fill("#release-purposes", "HMB")
    page.click("#release-submit")
    assert "pat" in page.locator("#export-message").inner_text()
    page.fill("#export-source", "1")
    page.select_option("#export-format", "csv")
    page.click("#export-submit")
    assert "export 1 written for pat" in page.locator("#export-message").inner_text()
    bad = page
    bad.fill("#export-source", "99")
    bad.click("#export-submit")
    assert "no release 99" in page.locator("#export-error").inner_text()
    context = browser.new_context(locale="zh-CN")
    partner = context.new_page()
    live_server.login(partner, "pat")
    assert partner.locator("#dash-exports").count() == 0  # a partner does not write exports
    partner.click("#dash-my-exports")
    partner.wait_for_url(f"{live_server.url}/sharing/my-exports")
    assert "我的导出" in partner.inner_text("h1")
    with partner.expect_download() as download:
        partner.click("#my-exports a[href$='participants.csv']")
    assert download.value.path().read_text().startswith("pseudonym,")
    context.close()
