"""The donor search page: server-rendered results with a per-locus colour grid, in a real browser too."""

from __future__ import annotations

import pytest

from lifebank.hla import service

HEADER = "DonorId,DonorType,A_1,A_2,B_1,B_2,C_1,C_2,DPB1_1,DPB1_2,DQB1_1,DQB1_2,DRB1_1,DRB1_2"
DONORS = "\n".join([
    HEADER,
    "D1,adult,*01:01,*02:01,*08:01,*07:02,*07:01,*07:02,NULL,NULL,*02:01,*06:02,*03:01,*15:01",
    "D2,adult,*01:01,*03:01,*08:01,*07:02,NULL,NULL,NULL,NULL,NULL,NULL,*03:01,*15:01",
]) + "\n"
PATIENT = "A*01:01+A*02:01^B*08:01+B*07:02^C*07:01+C*07:02^DRB1*03:01+DRB1*15:01^DQB1*02:01+DQB1*06:02"


def test_search_page_renders_ranked_donors(db, client, users):
    service.import_donors(db, DONORS, actor="tester")
    headers = users.headers("clinician")
    page = client.get("/hla/search", headers=headers, params={"patient": PATIENT, "max_mismatches": 1})
    assert page.status_code == 200
    html = page.text
    assert "2 donors found." in html
    assert html.index('data-donor="D1"') < html.index('data-donor="D2"')
    assert 'class="hla-cell mismatch"' in html and 'class="hla-cell untyped"' in html
    bad = client.get("/hla/search", headers=headers, params={"patient": "A*99:99"})
    assert "A*99:99 is not an allele" in bad.text


def test_search_page_needs_the_capability(client, users):
    assert client.get("/hla/search", headers=users.headers("researcher")).status_code == 403


@pytest.mark.browser
def test_browser_search_shows_the_colour_grid(live_server, page):
    service.import_donors(live_server.db, DONORS, actor="tester")
    live_server.create_user("clinician", "claire")
    live_server.login(page, "claire")
    page.goto(f"{live_server.url}/hla/search")
    page.fill("textarea[name=patient]", PATIENT)
    page.select_option("select[name=max_mismatches]", "1")
    page.click("#hla-search button[type=submit]")
    page.wait_for_selector("#hla-total")
    assert page.inner_text("#hla-total") == "2 donors found."
    rows = page.locator("table.hla-results tbody tr")
    assert rows.count() == 2
    assert rows.nth(0).get_attribute("data-donor") == "D1"
    mismatch = page.locator('tr[data-donor="D2"] td[data-locus="A"] .hla-cell.mismatch')
    assert mismatch.count() == 1
    colour = mismatch.evaluate("el => getComputedStyle(el).backgroundColor")
    assert colour == "rgb(198, 40, 40)"
    untyped = page.locator('tr[data-donor="D2"] td[data-locus="C"] .hla-cell.untyped')
    assert untyped.count() == 2
