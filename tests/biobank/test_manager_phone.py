"""The manager's pages fit a 390 px phone in both languages: no sideways page scroll (wide tables and the box
map scroll inside their own box), and box-map cells stay large enough to tap (44 px)."""

from __future__ import annotations

import pytest

from lifebank.auth import service as auth
from lifebank.biobank import service

from .biobank_fixtures import ACTOR, add_participant, build_storage
from .manage_helpers import PASSWORD

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}
PAGES = ["/biobank/participants", "/biobank/participants/new", "/biobank/participants/P000001",
         "/biobank/participants/P000001/withdraw", "/biobank/storage", "/biobank/storage?path=FRZ-01",
         "/biobank/storage?path=FRZ-01/R01/BOX-12", "/biobank/storage/manage",
         "/biobank/storage/free?temperature_class=-80C&for=S1", "/biobank/import"]


@pytest.mark.parametrize("locale", ["en", "zh_Hans"])
def test_manager_pages_fit_a_phone(live_server, browser, locale):
    db = live_server.db
    build_storage(db)
    service.define_container_type(db, "Box 8x12", kind="box", rows=8, columns=12, actor=ACTOR)
    service.create_container(db, "BOX-12", type_name="Box 8x12", parent_path="FRZ-01/R01", actor=ACTOR)
    add_participant(db, "P000001")
    service.register_specimen(db, "S1", participant="P000001", type="SER", quantity=1,
                              location="FRZ-01/R01/BOX-12/H12", actor=ACTOR)
    auth.create_user(db, "phone", PASSWORD, ["biobank_manager"], locale=locale)
    context = browser.new_context(viewport=PHONE, locale="zh-CN" if locale == "zh_Hans" else "en-GB")
    page = context.new_page()
    try:
        live_server.login(page, "phone", PASSWORD)
        for path in PAGES:
            response = page.goto(f"{live_server.url}{path}")
            assert response is not None and response.status == 200, path
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["width"], f"{path} is {width} px wide in {locale}"
        page.goto(f"{live_server.url}/biobank/storage?path=FRZ-01/R01/BOX-12")
        cell = page.locator('.box-map [data-position="H12"]')
        cell.scroll_into_view_if_needed()
        box = cell.bounding_box()
        assert box is not None and box["width"] >= 44 and box["height"] >= 44
        cell.click()
        page.wait_for_url(f"{live_server.url}/biobank/specimens/S1")
    finally:
        context.close()
