"""The whole path in a real browser, request → receipt: a partner submits the form, the committee votes, the
manager signs and allocates, the technician scans the pick list (a wrong tube is refused loudly), the manager
ships (HGR first), and the partner confirms receipt."""

from __future__ import annotations

import pytest

from .access_fixtures import build_bank

pytestmark = pytest.mark.browser


def _logout(page, url: str) -> None:
    page.context.clear_cookies()


def test_request_to_receipt_in_the_browser(live_server, page):
    build_bank(live_server.db)
    url = live_server.url
    # The partner (a company in Germany) fills in the request form, ethics document attached.
    live_server.login(page, "pharma")
    page.goto(f"{url}/access/requests/new")
    page.fill("#f-title", "Serum proteomics")
    page.fill("#f-ethics", "EK-2026-7")
    page.set_input_files("#f-ethics-doc", files=[{"name": "ethics.pdf", "mimeType": "application/pdf",
                                                  "buffer": b"%PDF-1.4 ethics"}])
    page.check("input[name=purposes][value='DUO:0000006']")
    page.check("input[name=types][value=SER]")
    page.click("#submit-request")
    page.wait_for_url(f"{url}/access/requests/*")
    request_url = page.url.split("?")[0]
    assert page.get_attribute("#state", "data-state") == "submitted"
    assert "HGR approval required" in page.inner_text("#summary")
    assert "ethics.pdf" in page.inner_text("#documents")
    # The manager appoints the committee; both reviewers vote.
    _logout(page, url)
    live_server.login(page, "manager")
    page.goto(request_url)
    page.fill("#reviewers", "rev1\nrev2")
    page.click("#appoint")
    assert page.get_attribute("#state", "data-state") == "under_review"
    for reviewer in ("rev1", "rev2"):
        _logout(page, url)
        live_server.login(page, reviewer)
        page.goto(request_url)
        page.select_option("#vote", "approve")
        page.click("#cast-vote")
    assert page.get_attribute("#state", "data-state") == "approved"
    # The signed MTA, then allocation.
    _logout(page, url)
    live_server.login(page, "manager")
    page.goto(request_url)
    page.click("#sign")
    assert "MTA/DTA" in page.inner_text("#sign-error")
    page.select_option("#doc-kind", "agreement")
    page.set_input_files("#doc-file", files=[{"name": "mta.pdf", "mimeType": "application/pdf",
                                              "buffer": b"%PDF-1.4 mta"}])
    page.click("#upload")
    page.click("#sign")
    page.click("#allocate")
    assert page.get_attribute("#state", "data-state") == "in_fulfilment"
    # The technician scans: keyboard-wedge input ends in Enter.
    _logout(page, url)
    live_server.login(page, "tech")
    page.goto(f"{request_url}/fulfil")
    barcodes = page.locator("#pick-list tbody tr").evaluate_all("rows => rows.map(r => r.dataset.barcode)")
    assert len(barcodes) == 4
    page.keyboard.type("S000003-0")
    page.keyboard.press("Enter")
    assert "WRONG TUBE" in page.inner_text("#scan-error")
    for barcode in barcodes:
        page.locator("#scan").focus()
        page.keyboard.type(barcode)
        page.keyboard.press("Enter")
        page.wait_for_selector("#scan-ok")
    assert page.locator("#pick-list tr[data-state=picked]").count() == 4
    # Shipping abroad needs the HGR approval.
    _logout(page, url)
    live_server.login(page, "manager")
    page.goto(request_url)
    page.fill("#courier", "World Courier")
    page.fill("#tracking", "WC123")
    page.select_option("#temperature", "dry_ice")
    page.click("#ship")
    assert "HGR approval" in page.inner_text("#ship-error")
    page.fill("#hgr", "[2026]CJ0042")
    page.click("#save-hgr")
    page.select_option("#doc-kind", "hgr")
    page.set_input_files("#doc-file", files=[{"name": "hgr.pdf", "mimeType": "application/pdf",
                                              "buffer": b"%PDF-1.4 hgr"}])
    page.click("#upload")
    page.fill("#courier", "World Courier")
    page.fill("#tracking", "WC123")
    page.select_option("#temperature", "dry_ice")
    page.click("#ship")
    assert page.get_attribute("#state", "data-state") == "shipped"
    # The partner confirms receipt.
    _logout(page, url)
    live_server.login(page, "pharma")
    page.goto(request_url)
    page.fill("#discrepancies", "one tube thawed")
    page.click("#receive")
    assert page.get_attribute("#state", "data-state") == "received"
    assert "one tube thawed" in page.inner_text("#shipments")
    page.set_viewport_size({"width": 390, "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
