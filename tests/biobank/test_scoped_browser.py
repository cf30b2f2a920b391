"""A technician scoped to one site, in a real browser on a phone-sized screen: the navigation offers the
specimen and participant pages, the lists show the site's records only, an out-of-scope tube answers 404
like an unknown one, the header search finds nothing outside the scope, and the dashboard counts the scope."""

from __future__ import annotations

import pytest

from lifebank.auth import service as auth
from lifebank.biobank import service

from .biobank_fixtures import ACTOR, add_participant, build_storage

pytestmark = pytest.mark.browser
PASSWORD = "Correct-horse-battery-9"


def test_a_site_scoped_technician_sees_only_the_site_in_the_pages(live_server, page, click_nav):
    db = live_server.db
    build_storage(db)
    add_participant(db, "P000001", site="SH")
    add_participant(db, "P000002", site="BJ")
    service.register_specimen(db, "SH-1", participant="P000001", type="SER", quantity=1,
                              location="FRZ-01/R01/BOX-1/A1", actor=ACTOR)
    service.register_specimen(db, "BJ-1", participant="P000002", type="SER", quantity=1,
                              location="FRZ-01/R01/BOX-1/A2", actor=ACTOR)
    auth.create_user(db, "tess", PASSWORD, ["technician"], scopes=["site:SH"])
    page.set_viewport_size({"width": 390, "height": 844})
    live_server.login(page, "tess")
    assert page.inner_text("#scoped-specimens").strip() == "1"
    click_nav(page, "Specimens")
    page.wait_for_url(f"{live_server.url}/biobank/specimens")
    rows = page.locator("a[href^='/biobank/specimens/']").all_inner_texts()
    assert "SH-1" in rows and "BJ-1" not in rows
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    outside = page.goto(f"{live_server.url}/biobank/specimens/BJ-1")
    assert outside is not None and outside.status == 404
    # The header search: a scanned out-of-scope barcode finds nothing; an in-scope one opens its page.
    page.goto(f"{live_server.url}/dashboard")
    page.fill("#find-q", "BJ-1")
    page.press("#find-q", "Enter")
    page.wait_for_url("**/find?q=BJ-1")
    assert "/biobank/specimens/BJ-1" not in page.content()
    page.fill("#find-q", "sh-1")
    page.press("#find-q", "Enter")
    page.wait_for_url(f"{live_server.url}/biobank/specimens/SH-1")
    storage = page.goto(f"{live_server.url}/biobank/storage")
    assert storage is not None and storage.status == 403
