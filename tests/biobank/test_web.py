from __future__ import annotations

from lifebank.biobank import service

from .biobank_fixtures import ACTOR


def test_pages_render_for_a_technician(bank, client, users):
    tech = users.headers("technician")
    service.register_specimen(bank, "S1", participant="P000001", type="PL1", quantity=1,
                              location="FRZ-01/R01/BOX-1/A1", actor=ACTOR)
    service.split_specimen(bank, "S1", count=1, quantity=0.5, actor=ACTOR)
    listing = client.get("/biobank/specimens", headers=tech, params={"type": "PL1"})
    assert listing.status_code == 200 and "2 specimens found." in listing.text
    page = client.get("/biobank/specimens/S1", headers=tech)
    assert page.status_code == 200 and "LB000000002" in page.text and "FRZ-01/R01/BOX-1/A1" in page.text
    storage = client.get("/biobank/storage", headers=tech)
    assert "FRZ-01" in storage.text and "TANK-01" in storage.text
    freezer = client.get("/biobank/storage", headers=tech, params={"path": "FRZ-01"})
    assert "1 of 162 positions used in 2 boxes" in freezer.text
    box = client.get("/biobank/storage", headers=tech, params={"path": "FRZ-01/R01/BOX-1"})
    assert box.text.count('role="gridcell"') == 81
    assert 'href="/biobank/specimens/S1"' in box.text


def test_pages_in_chinese(bank, client, users):
    tech = users.headers("technician")
    page = client.get("/biobank/storage", headers={**tech, "Accept-Language": "zh-CN"}, params={"path": "FRZ-01"})
    assert "冻存架" in page.text


def test_partner_cannot_open_the_import_page(bank, client, users):
    assert client.get("/biobank/import", headers=users.headers("partner")).status_code == 403


def test_specimen_list_pages_keep_the_filters(bank, client, users):
    tech = users.headers("technician")
    for i in range(51):
        service.register_specimen(bank, f"S{i:02d}", participant="P000001", type="SER", quantity=1, actor=ACTOR)
    first = client.get("/biobank/specimens", headers=tech, params={"type": "SER", "consent": "DUO:0000042"})
    assert "51 specimens found." in first.text and "Page 1 of 2." in first.text
    assert "href=\"?type=SER&amp;consent=DUO%3A0000042&amp;page=2\"" in first.text
