from __future__ import annotations

import pytest

from lifebank.biobank import service

from .biobank_fixtures import ACTOR, SPECIMEN_HEADER, add_participant, build_storage

pytestmark = pytest.mark.browser


def test_box_map_colours_by_status_and_opens_the_specimen(live_server, page):
    db = live_server.db
    build_storage(db)
    add_participant(db, "P000001")
    service.register_specimen(db, "S-A1", participant="P000001", type="PL1", quantity=1,
                              location="FRZ-01/R01/BOX-1/A1", actor=ACTOR)
    service.register_specimen(db, "S-C5", participant="P000001", type="SER", quantity=1,
                              location="FRZ-01/R01/BOX-1/C5", actor=ACTOR)
    service.reserve_specimens(db, ["S-C5"], purpose="study", actor=ACTOR)
    live_server.create_user("technician", "tina")
    live_server.login(page, "tina")
    page.goto(f"{live_server.url}/biobank/storage?path=FRZ-01/R01/BOX-1")
    assert page.locator(".box-map [role=gridcell]").count() == 81
    reserved = page.locator('.box-map [data-position="C5"]')
    colour = reserved.evaluate("el => getComputedStyle(el).backgroundColor")
    assert colour == "rgb(212, 160, 23)"  # --reserved
    empty = page.locator('.box-map [data-position="B1"]').evaluate("el => getComputedStyle(el).backgroundColor")
    assert empty == "rgb(238, 241, 244)"  # --empty
    page.click('.box-map [data-position="A1"]')
    page.wait_for_url(f"{live_server.url}/biobank/specimens/S-A1")
    assert "FRZ-01/R01/BOX-1/A1" in page.inner_text("main")


def test_import_page_lists_bad_rows_then_accepts_the_fixed_file(live_server, page, tmp_path):
    db = live_server.db
    build_storage(db)
    add_participant(db, "P000001")
    bad = tmp_path / "tubes.csv"
    bad.write_text(SPECIMEN_HEADER + "S1,P000001,SER,1,mL,,,,FRZ-01/R01/BOX-1/A1\n"
                   "S2,P000001,DNA,1,mL,,,,\nS3,P000777,SER,1,mL,,,,\n")
    live_server.create_user("technician", "tom")
    live_server.login(page, "tom")
    page.goto(f"{live_server.url}/biobank/import")
    page.set_input_files("#file", str(bad))
    page.click("form[action='/biobank/import'] button[type=submit]")
    report = page.locator("#import-errors")
    report.wait_for()
    rows = report.locator("tbody tr")
    assert rows.count() == 2
    assert rows.nth(0).inner_text().split("\t") == ["3", "unit", "unit 'mL' is wrong for DNA: use µg"]
    assert rows.nth(1).inner_text().split("\t") == ["4", "participant", "unknown participant P000777"]
    assert service.search_specimens(db, service.SpecimenFilter())[0] == 0
    good = tmp_path / "fixed.csv"
    good.write_text(bad.read_text().replace("DNA,1,mL", "DNA,1,ug").replace("P000777", "P000001"))
    page.set_input_files("#file", str(good))
    page.click("form[action='/biobank/import'] button[type=submit]")
    assert page.locator("#import-result").inner_text() == "Imported 3 rows from fixed.csv."
