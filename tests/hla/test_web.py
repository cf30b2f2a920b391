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


def test_bad_form_input_is_shown_in_the_form_not_as_problem_json(client, users):
    headers = users.headers("clinician")
    page = client.get("/hla/search", headers=headers, params={"patient": PATIENT, "max_mismatches": "abc"})
    assert page.status_code == 422
    assert page.headers["content-type"].startswith("text/html")
    start = page.text.index('<form method="get" action="/hla/search"')
    form = page.text[start:page.text.index("</form>", start)]
    assert "Maximum mismatches: &#39;abc&#39; is not a whole number from 0 to 4" in form
    assert "hla-results" not in page.text
    chinese = client.get("/hla/search", headers={**headers, "Accept-Language": "zh-CN"},
                         params={"max_mismatches": "abc", "loci": "7", "page": "x"})
    assert chinese.status_code == 422 and "最大错配数：&#39;abc&#39; 不是 0 到 4 之间的整数" in chinese.text
    for params in ({"loci": "7"}, {"donor_type": "alien"}, {"page": "0"}):
        assert client.get("/hla/search", headers=headers, params=params).status_code == 422


def test_results_say_1_mismatch_and_2_mismatches(client, db, users):
    service.import_donors(db, DONORS + "D3,adult,*01:01,*03:01,*08:01,*44:02,NULL,NULL,NULL,NULL,NULL,NULL,"
                                       "*03:01,*15:01\n", actor="tester")
    headers = users.headers("clinician")
    html = client.get("/hla/search", headers=headers, params={"patient": PATIENT, "max_mismatches": 2}).text

    def row(donor: str) -> str:
        start = html.index(f'data-donor="{donor}"')
        return html[start:html.index("</tr>", start)]

    assert "<small>0 mismatches</small>" in row("D1")
    assert "<small>1 mismatch</small>" in row("D2")
    assert "<small>2 mismatches</small>" in row("D3")
    assert "1 mismatches" not in html
    assert '<div class="table-wrap">' in html
    chinese = client.get("/hla/search", headers={**headers, "Accept-Language": "zh-CN"},
                         params={"patient": PATIENT, "max_mismatches": 2}).text
    assert "<small>2 个错配</small>" in chinese and "共找到 3 名供者。" in chinese
    none = client.get("/hla/search", headers=headers, params={
        "patient": "A*11:01+A*11:01^B*44:02+B*44:02^DRB1*04:01+DRB1*04:01"}).text
    assert "0 donors found." in none and "No donor within these mismatches." in none and "<th>Donor</th>" in none


def test_search_results_export_with_the_active_search(client, db, users):
    import csv
    import io
    import re

    from openpyxl import load_workbook

    service.import_donors(db, DONORS, actor="tester")
    headers = users.headers("clinician")
    page = client.get("/hla/search", headers=headers, params={"patient": PATIENT, "max_mismatches": 1,
                                                               "donor_type": "adult"}).text
    link = re.search(r'href="(/hla/search/export\?format=csv[^"]*)"', page)[1].replace("&amp;", "&")
    assert "max_mismatches=1" in link and "donor_type=adult" in link
    rows = list(csv.reader(io.StringIO(client.get(link, headers=headers).content.decode("utf-8-sig"))))
    assert rows[0][:6] == ["Rank", "Donor", "Type", "Registry", "Match", "Mismatches"]
    assert [r[1] for r in rows[1:]] == ["D1", "D2"] and rows[1][5] == "0"
    api = client.get("/api/v1/hla/search/export", headers=headers,
                     params={"patient": PATIENT, "max_mismatches": 0, "format": "xlsx"})
    assert api.status_code == 200
    sheet = [list(r) for r in load_workbook(io.BytesIO(api.content)).active.iter_rows(values_only=True)]
    assert sheet[0][:3] == ["rank", "donor_id", "donor_type"] and [r[1] for r in sheet[1:]] == ["D1"]
    assert client.get("/api/v1/hla/search/export", headers=users.headers("researcher"),
                      params={"patient": PATIENT}).status_code == 403


@pytest.mark.browser
def test_browser_bad_input_shown_inline_in_chinese_and_grid_fits_a_phone(live_server, browser):
    service.import_donors(live_server.db, DONORS, actor="tester")
    live_server.create_user("clinician", "chen", locale="zh_Hans")
    context = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        live_server.login(page, "chen")
        page.goto(f"{live_server.url}/hla/search?max_mismatches=abc")
        error = page.locator("#hla-search #hla-error")
        assert error.inner_text() == "最大错配数：'abc' 不是 0 到 4 之间的整数"
        assert "application/problem+json" not in page.content()
        page.fill("textarea[name=patient]", PATIENT)
        page.select_option("select[name=max_mismatches]", "1")
        page.click("#hla-search button[type=submit]")
        page.wait_for_selector("#hla-total")
        assert page.inner_text("#hla-total") == "共找到 2 名供者。"
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        # no header or cell wraps one character per line: each is at most two text lines tall
        heights = page.locator("table.hla-results th, table.hla-results td:first-child").evaluate_all(
            "cells => cells.map(c => c.getBoundingClientRect().height / parseFloat(getComputedStyle(c).lineHeight))")
        assert max(heights) < 3.5, heights
    finally:
        context.close()


def test_donor_page_shows_the_typing_as_registered_and_refuses_unknown_donors(client, db, users) -> None:
    from lifebank.hla import service

    service.import_donors(db, "DonorId,DonorType,A_1,A_2,B_1,B_2,C_1,C_2,DPB1_1,DPB1_2,DQB1_1,DQB1_2,DRB1_1,DRB1_2\n"
                              "D-PAGE-1,adult,*01:01,*02:01,*08:01,*07:02,NULL,NULL,NULL,NULL,NULL,NULL,*03:01,*15:01\n",
                          actor="tester")
    headers = users.headers("clinician")
    page = client.get("/hla/donors/D-PAGE-1", headers=headers)
    assert page.status_code == 200
    assert "A*01:01" in page.text and "DRB1*15:01" in page.text and "D-PAGE-1" in page.text
    assert client.get("/hla/donors/NO-SUCH-DONOR", headers=headers).status_code == 404
    assert client.get("/hla/donors/D-PAGE-1", headers=users.headers("partner")).status_code == 403


HAN = "A*02:07+A*33:03^B*46:01+B*58:01^DRB1*09:01+DRB1*03:01"
HAN_DONORS = "\n".join([
    HEADER + ",RegistryCode",
    "FULL,adult,*02:07,*33:03,*46:01,*58:01,*01:02,*03:02,NULL,NULL,*03:03,*02:01,*09:01,*03:01,LB",
    "ABDR,adult,*02:07,*33:03,*46:01,*58:01,NULL,NULL,NULL,NULL,NULL,NULL,*09:01,*03:01,LB",
]) + "\n"


def test_search_page_shows_probabilities_and_what_was_compared(db, client, users):
    service.import_donors(db, HAN_DONORS, actor="tester")
    headers = users.headers("clinician")
    html = client.get("/hla/search", headers=headers, params={"patient": HAN, "max_mismatches": 2}).text
    assert "P(10/10)" in html and "10/10 on" not in html
    assert "6/6 on A, B, DRB1; C, DQB1 untyped - P(10/10) = 0.95" in html
    row = html[html.index('data-donor="FULL"'):]
    assert '<td class="num hla-p10">95 %</td>' in row[:2000]
    # the columns follow the form's order, and grades are words
    head = html[html.index("<thead>"):html.index("</thead>")]
    assert head.index(">DRB1<") < head.index(">DQB1<")
    full = client.get("/hla/search", headers=headers, params={"patient": HAN + "^C*01:02+C*03:02^DQB1*03:03+DQB1*02:01",
                                                               "max_mismatches": 2}).text
    assert "same protein" in full and "g_group" not in full and "10/10 on A, B, C, DRB1, DQB1" in full
    chinese = client.get("/hla/search", headers={**headers, "Accept-Language": "zh-CN"},
                         params={"patient": HAN, "max_mismatches": 2}).text
    assert "A, B, DRB1 上 6/6；C, DQB1 未分型" in chinese
    strict = client.get("/hla/search", headers=headers, params={"patient": HAN, "max_mismatches": 2,
                                                                 "min_probability": "95"}).text
    assert 'data-donor="FULL"' in strict and 'data-donor="ABDR"' not in strict
    bad = client.get("/hla/search", headers=headers, params={"patient": HAN, "min_probability": "150"})
    assert bad.status_code == 422 and "is not a percentage from 0 to 100" in bad.text
    unknown = client.get("/hla/search", headers=headers, params={"patient": HAN, "frequencies": "NOPE"})
    assert unknown.status_code == 422 and "&#39;NOPE&#39; is not loaded" in unknown.text
    donor = client.get("/hla/donors/ABDR", headers=headers).text
    assert "Imputed genotypes" in donor and "A*02:07g~C*01:02~B*46:01~DRB1*09:01~DQB1*03:03" in donor
    service.update_donor(db, "ABDR", {"BirthDate": "1990-01-01"}, actor="tester")
    aged = client.get("/hla/donors/ABDR", headers=headers).text
    assert 'id="donor-age">' in aged and "1990-01-01" in aged


@pytest.mark.browser
def test_browser_probability_search_main_path(live_server, page):
    service.import_donors(live_server.db, HAN_DONORS, actor="tester")
    live_server.create_user("clinician", "coco")
    live_server.login(page, "coco")
    page.goto(f"{live_server.url}/hla/search")
    page.fill("textarea[name=patient]", HAN)
    page.select_option("select[name=max_mismatches]", "2")
    page.click("#hla-search button[type=submit]")
    page.wait_for_selector("#hla-total")
    rows = page.locator("table.hla-results tbody tr")
    assert [rows.nth(i).get_attribute("data-donor") for i in range(rows.count())] == ["FULL", "ABDR"]
    assert page.inner_text('tr[data-donor="FULL"] td.hla-p10') == "95 %"
    assert "C, DQB1 untyped" in page.inner_text('tr[data-donor="ABDR"] td.hla-match')
    page.click('tr[data-donor="ABDR"] a')
    page.wait_for_selector("#donor-imputed")
    assert "A*33:03~C*03:02~B*58:01g~DRB1*03:01~DQB1*02:01g" in page.inner_text("#donor-imputed")


def test_printable_report_in_english_and_chinese(db, client, users):
    from datetime import UTC, datetime

    from lifebank.hla.search_report import report_pdf

    service.import_donors(db, HAN_DONORS, actor="tester")
    headers = users.headers("clinician")
    pdf = client.get("/hla/search/report", headers=headers, params={"patient": HAN, "max_mismatches": 2})
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert client.get("/hla/search/report", headers=headers, params={"patient": ""}).status_code == 422
    result = service.search(db, HAN, max_mismatches=2)
    labels = [service.match_label(i, result["loci"]) for i in result["items"]]
    when = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    english = report_pdf(result, patient=HAN, parameters=[], generated=when, language=None, labels=labels,
                         compress=False)
    assert pdf_text("FULL") in english and pdf_text("Donor search report") in english
    assert pdf_text("95 %") in english and pdf_text("same protein") in english
    chinese = report_pdf(result, patient=HAN, parameters=[], generated=when, language="zh_Hans", labels=labels,
                         compress=False)
    assert b"STSong-Light" in chinese and pdf_text("供者检索报告") in chinese
    assert pdf_text("Donor search report") not in chinese and pdf_text("A, B, DRB1 上 6/6") in chinese


def pdf_text(text: str) -> bytes:
    """How reportlab writes `text` in a CID-font string (UTF-16BE, non-printable bytes as octal escapes)."""
    out = []
    for byte in text.encode("utf-16-be"):
        out.append(chr(byte) if 32 <= byte < 127 and chr(byte) not in "()\\" else f"\\{byte:03o}")
    return "".join(out).encode("latin-1")


def test_donor_sex_is_imported_checked_and_shown_in_the_readers_language(client, db, users) -> None:
    from lifebank.errors import RowsRejected
    from lifebank.hla import service

    header = "DonorId,DonorType,A_1,A_2,B_1,B_2,C_1,C_2,DPB1_1,DPB1_2,DQB1_1,DQB1_2,DRB1_1,DRB1_2,Sex\n"
    with pytest.raises(RowsRejected) as refused:
        service.import_donors(db, header + "D-SEX-0,adult,*01:01,*02:01,*08:01,*07:02,NULL,NULL,NULL,NULL,NULL,NULL,"
                                           "*03:01,*15:01,X\n", actor="tester")
    assert refused.value.errors[0].column == "Sex"
    service.import_donors(db, header + "D-SEX-1,adult,*01:01,*02:01,*08:01,*07:02,NULL,NULL,NULL,NULL,NULL,NULL,"
                                       "*03:01,*15:01,female\n", actor="tester")
    assert service.get_donor(db, "D-SEX-1")["sex"] == "F"
    page = client.get("/hla/donors/D-SEX-1", headers={**users.headers("clinician"), "Accept-Language": "zh-CN"})
    assert 'id="donor-sex">女' in page.text
    service.update_donor(db, "D-SEX-1", {"Sex": "M"}, actor="tester")
    assert service.get_donor(db, "D-SEX-1")["sex"] == "M"
