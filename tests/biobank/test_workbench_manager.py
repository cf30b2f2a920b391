"""Acceptance: a biobank manager's day in the browser, in Chinese, on a tablet (768×1024).

On a small bank loaded through the import path (participants and specimens CSV, as a bank starts): register a
participant with a first consent, withdraw another participant's consent (preview, confirmation, then the
block on the participant's page), and export the filtered specimen list and the participants list as xlsx,
opened with openpyxl. Every step is checked in the database and in the ledger as well as on the page.
"""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from lifebank.biobank import imports, service

from .biobank_fixtures import ACTOR, SPECIMEN_HEADER, build_storage, participants_csv
from .manage_helpers import PASSWORD, ledger

pytestmark = pytest.mark.browser
TABLET = {"width": 768, "height": 1024}


def _small_bank(db) -> None:
    """Storage, six participants and twelve specimens (two per participant, stored in BOX-1), one reserved."""
    build_storage(db)
    imports.import_participants(db, participants_csv(6), actor=ACTOR)
    rows = [f"S{p}{n},P{p:06d},SER,1.0,mL,2024-03-01T08:00:00Z,,,FRZ-01/R01/BOX-1/{'ABCDEF'[p - 1]}{n}\n"
            for p in range(1, 7) for n in (1, 2)]
    imports.import_specimens(db, (SPECIMEN_HEADER + "".join(rows)).encode(), actor=ACTOR)
    service.reserve_specimens(db, ["S21"], purpose="GWAS pilot", actor=ACTOR)


def _xlsx_rows(content: bytes) -> list[tuple]:
    return list(load_workbook(io.BytesIO(content), read_only=True).active.iter_rows(values_only=True))


def test_a_managers_day_in_chinese_on_a_tablet(live_server, browser):
    db = live_server.db
    _small_bank(db)
    from lifebank.auth import service as auth

    auth.create_user(db, "manager1", PASSWORD, ["biobank_manager"], locale="zh_Hans")
    context = browser.new_context(viewport=TABLET, locale="zh-CN", accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(15000)
    try:
        live_server.login(page, "manager1", PASSWORD)

        # 1. register a participant with a first consent, in one form
        page.goto(f"{live_server.url}/biobank/participants")
        assert page.locator("h1").inner_text() == "参与者"
        page.click("a[href='/biobank/participants/new']")
        page.fill("#code", "P-SH-0100")
        page.select_option("#sex", "F")
        page.fill("#birth_year", "1987")
        page.fill("#site", "SH")
        page.fill("#consent_date", "2025-06-01")
        page.check("input[name=codes][value='DUO:0000042']")
        page.check("input[name=codes][value='DUO:0000021']")
        assert "一般研究用途" in page.inner_text("#register-participant")  # DUO codes by their labels
        page.click("#register-participant button[type=submit]")
        page.wait_for_url(f"{live_server.url}/biobank/participants/P-SH-0100?done=registered")
        assert page.locator("#consent-status").get_attribute("data-status") == "in_force"
        consents = page.inner_text("#consents")
        assert "一般研究用途" in consents and "DUO:0000042" in consents and "须经伦理审批" in consents
        view = service.participant_view(db, "P-SH-0100")
        assert (view["sex"], view["birth_year"], view["site"]) == ("F", 1987, "SH")
        assert view["consents"][0]["codes"] == ["DUO:0000021", "DUO:0000042"]
        assert ledger(db, "participant.register")[-1][:2] == ("manager1", "P-SH-0100")
        assert ledger(db, "consent.record")[-1][:2] == ("manager1", "P-SH-0100")

        # 2. withdraw another participant's consent: preview, confirmation, then the block
        page.goto(f"{live_server.url}/biobank/participants/P000002")
        page.click("#withdraw-link")
        page.wait_for_url(f"{live_server.url}/biobank/participants/P000002/withdraw")
        assert page.inner_text("#preview-specimens") == "将变为不可分发的样本：2"
        assert page.inner_text("#preview-reservations") == "受影响的未释放预留：1"
        assert "GWAS pilot" in page.inner_text("#preview-reservation-list")
        assert page.locator("#preview-specimen-list tbody tr").count() == 2
        assert service.participant_view(db, "P000002")["consent_status"] == "in_force"  # nothing happened yet
        page.click("#confirm-withdrawal button[type=submit]")  # without ticking the confirmation
        assert "请勾选确认框" in page.inner_text("#form-error")
        assert service.participant_view(db, "P000002")["consent_status"] == "in_force"
        page.fill("#reason", "参与者要求撤回")
        page.check("#confirm")
        page.click("#confirm-withdrawal button[type=submit]")
        page.wait_for_url(f"{live_server.url}/biobank/participants/P000002?done=withdrawn")
        assert "2 份样本已禁止分发" in page.inner_text("#withdrawal-block")
        cells = page.locator("#participant-specimens td[data-distributable]")
        assert cells.count() == 2 and all(cells.nth(i).inner_text() == "不可分发" for i in range(2))
        stored = service.search_specimens(db, service.SpecimenFilter(participant="P000002"))[1]
        assert sorted(s["barcode"] for s in stored) == ["S21", "S22"] and not any(s["distributable"] for s in stored)
        actor, entity, change = ledger(db, "consent.withdraw")[-1]
        assert (actor, entity) == ("manager1", "P000002")
        assert change["specimens_blocked"] == 2 and change["reservations_affected"] == 1
        assert change["reason"] == "参与者要求撤回"

        # 3. export the filtered specimen list as xlsx (the list's filters, through the export API)
        answer = page.request.get(f"{live_server.url}/api/v1/biobank/specimens/export",
                                  params={"format": "xlsx", "participant": "P000002"})
        assert answer.ok, answer.text()[:300]
        rows = _xlsx_rows(answer.body())
        header = rows[0]
        got = sorted((r[header.index("barcode")], r[header.index("participant")], r[header.index("distributable")])
                     for r in rows[1:])
        assert got == [("S21", "P000002", False), ("S22", "P000002", False)]

        # 4. and the filtered participants list, from its own "Excel" link on the page
        page.goto(f"{live_server.url}/biobank/participants?consent_status=withdrawn")
        assert "1 名参与者" in page.inner_text("#participant-count")
        with page.expect_download() as download:
            page.click("#export-xlsx")
        rows = _xlsx_rows(open(download.value.path(), "rb").read())
        assert rows[0][:5] == ("code", "sex", "birth_year", "site", "consent_status")
        assert [r[:1] + r[4:6] for r in rows[1:]] == [("P000002", "withdrawn", 2)]
        assert download.value.suggested_filename == "participants.xlsx"
        # the page fits the tablet: no sideways scroll of the page itself
        assert page.evaluate("document.documentElement.scrollWidth") <= TABLET["width"]
    finally:
        context.close()
