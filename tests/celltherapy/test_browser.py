"""In Chromium: an order created and its first step signed through the forms; the bedside check on a phone
refusing a bag of another patient and accepting the right one."""

from __future__ import annotations

from datetime import date

import pytest

from lifebank.biobank import service as biobank
from lifebank.celltherapy import service

from .chain_values import PRODUCT_CODES_CSV, add_ln2_storage
from .conftest import DOB, Chain

pytestmark = pytest.mark.browser
PASSWORD = "Correct-horse-battery-9"


def _world(live_server) -> Chain:
    db = live_server.db
    for code in ("P1", "P2"):
        biobank.register_participant_with_consent(db, code, sex="F", birth_year=1970, site="SH",
                                                  duo_codes=["DUO:0000042"], consent_date=date(2025, 1, 1), actor="t")
    service.load_product_codes(db, PRODUCT_CODES_CSV, actor="admin")
    add_ln2_storage(db)
    live_server.create_user("clinician", "doc1")
    live_server.create_user("technician", "tech1")
    return Chain(db, live_server.settings)


def test_order_and_first_step_through_the_forms(live_server, page) -> None:
    _world(live_server)
    live_server.login(page, "doc1")
    page.goto(f"{live_server.url}/celltherapy")
    page.fill("#o-participant", "P1")
    page.select_option("#o-product", "car-t")
    page.fill("#o-centre", "Ruijin Hospital")
    page.fill("#o-identity", DOB)
    page.click("#create-order")
    page.wait_for_url(f"{live_server.url}/celltherapy/orders/*")
    assert "Collection (apheresis)" in page.inner_text("#step-form h2")
    page.fill("#f-volume_ml", "250")
    page.fill("#f-tnc_e9", "12")
    page.fill("#signer1", "tech1")
    page.fill("#password1", PASSWORD)
    page.click("#record-step")
    assert "step collection needs cd3_e9" in page.inner_text("#form-error")
    page.fill("#f-cd3_e9", "4.1")
    page.fill("#password1", PASSWORD)
    page.click("#record-step")
    page.locator("#done").wait_for()
    assert "tech1" in page.inner_text("#step-collection") and "Performed" in page.inner_text("#step-collection")
    assert "Packaging" in page.inner_text("#step-form h2")


def test_bedside_on_a_phone_refuses_the_wrong_bag_and_accepts_the_right_one(live_server, browser) -> None:
    chain = _world(live_server)
    other = chain.order("P2")
    chain.run(other, until="bedside-verification")
    order = chain.order("P1")
    chain.run(order, until="bedside-verification")
    wrong = chain.values(other, "bedside-verification")["bag"]
    right = chain.values(order, "bedside-verification")["bag"]
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN", is_mobile=True)
    page = context.new_page()
    try:
        live_server.login(page, "doc1")
        page.goto(f"{live_server.url}/celltherapy/orders/{order['coi']}/bedside")

        def scan(bag: str) -> None:
            page.fill("#f-bag", bag)
            page.fill("#f-wristband_code", "P1")
            page.fill("#f-wristband_dob", DOB)
            page.fill("#signer1", "doc1")
            page.fill("#password1", PASSWORD)
            page.fill("#signer2", "tech1")
            page.fill("#password2", PASSWORD)
            page.click("#verify")

        scan(wrong)
        verdict = page.locator("#verdict.refused")
        verdict.wait_for()
        assert "细胞袋错误" in verdict.inner_text() and other["coi"] in verdict.inner_text()
        assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scroll on a phone
        scan(right)
        page.locator("#verdict.accepted").wait_for()
        assert service.get_order(live_server.db, order["coi"])["next_step"] == "infusion"
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.goto(f"{live_server.url}/celltherapy/orders/{order['coi']}")  # the whole chain, on the phone too
        assert page.locator("#chain > li").count() == 12
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
    finally:
        context.close()
