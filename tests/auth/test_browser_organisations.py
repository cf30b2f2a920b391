"""The organisation forms in a real browser (Chromium), on a 390 px phone: create an organisation, a partner in
it, and a scoped role for a technician — the main path an administrator walks."""

from __future__ import annotations

import pytest

from lifebank.auth import organisations
from lifebank.auth import service as auth

pytestmark = pytest.mark.browser
NEW_PASSWORD = "Bench-tablet-passphrase-42"


def test_an_administrator_sets_up_a_partner_organisation_and_a_scoped_technician_on_a_phone(live_server,
                                                                                           browser) -> None:
    live_server.create_user("admin", "olga")
    live_server.create_user("technician", "tao")
    context = browser.new_context(locale="en-GB", viewport={"width": 390, "height": 844})
    page = context.new_page()
    live_server.login(page, "olga")
    page.goto(f"{live_server.url}/admin/users")
    page.click("main >> text=Organisations")
    page.fill("#org-name", "Acme Pharma")
    page.fill("#org-country", "XX")
    page.click("#new-organisation button[type=submit]")
    assert "'XX' is not an ISO 3166-1 alpha-2 country code" in page.locator("#new-organisation p.error").inner_text()
    assert page.locator("#org-name").input_value() == "Acme Pharma"
    page.fill("#org-country", "de")
    page.click("#new-organisation button[type=submit]")
    assert page.locator("p.ok").inner_text() == "Organisation Acme Pharma created."
    assert "Acme Pharma" in page.locator("#organisations").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    page.goto(f"{live_server.url}/admin/users")
    page.fill("#new-username", "pia")
    page.fill("#new-password", NEW_PASSWORD)
    page.check("#new-user input[value=partner]")
    page.select_option("#new-organisation", "Acme Pharma")
    page.click("#new-user button[type=submit]")
    assert "Acme Pharma" in page.locator("tbody tr", has_text="pia").inner_text()

    page.goto(f"{live_server.url}/admin/users/tao")
    page.select_option("#scoped-role", "technician")
    page.select_option("#scope-type", "collection")
    page.fill("#scope-name", "ZJ/FRZ-01")
    page.click("#scoped-role-form button[type=submit]")
    assert page.locator("p.ok").inner_text() == "Scoped role granted."
    assert "Collection ZJ/FRZ-01" in page.locator("#scoped-roles").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    context.close()

    assert organisations.get_organisation(live_server.db, "Acme Pharma").country == "DE"
    assert auth.get_user(live_server.db, "pia").organisation.name == "Acme Pharma"
    tao = auth.principal_of(auth.get_user(live_server.db, "tao"))
    assert tao.scope_of("specimen.read") is None  # tao's global technician grant still reads everywhere
    assert [g.scope_id for g in auth.get_user(live_server.db, "tao").scoped_grants] == ["ZJ/FRZ-01"]
