"""Saved patient searches: kept, listed, re-run against today's registry, removed; each step ledgered."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from lifebank.audit.models import LedgerEvent
from lifebank.errors import NotFound, ValidationFailed
from lifebank.hla import saved_searches, service

HEADER = "DonorId,DonorType,A_1,A_2,B_1,B_2,C_1,C_2,DPB1_1,DPB1_2,DQB1_1,DQB1_2,DRB1_1,DRB1_2"
HAN = "A*02:07+A*33:03^B*46:01+B*58:01^DRB1*09:01+DRB1*03:01"
ONE = HEADER + "\nS1,adult,*02:07,*33:03,*46:01,*58:01,NULL,NULL,NULL,NULL,NULL,NULL,*09:01,*03:01\n"
TWO = HEADER + "\nS2,adult,*02:07,*33:03,*46:01,*58:01,*01:02,*03:02,NULL,NULL,*03:03,*02:01,*09:01,*03:01\n"


def actions(db) -> list[str]:
    with db.session() as session:
        return session.execute(select(LedgerEvent.action).order_by(LedgerEvent.seq)).scalars().all()


def test_save_list_rerun_and_remove(db):
    service.import_donors(db, ONE, actor="tester")
    saved = saved_searches.save(db, "Patient W., Ruijin", HAN, {"max_mismatches": 2, "min_probability": 0.1},
                                actor="coord")
    assert saved["last_total"] == 1 and saved["parameters"] == {"max_mismatches": 2, "min_probability": 0.1}
    assert [s["name"] for s in saved_searches.list_saved(db)] == ["Patient W., Ruijin"]
    service.import_donors(db, TWO, actor="tester")  # the registry grows; the patient does not change
    ran = saved_searches.run(db, saved["id"], actor="coord")
    assert ran["previous_total"] == 1 and ran["result"]["total"] == 2 and ran["search"]["last_total"] == 2
    assert ran["result"]["items"][0]["donor_id"] == "S2"  # fully typed: the higher P(10/10)
    saved_searches.delete(db, saved["id"], actor="coord")
    assert saved_searches.list_saved(db) == []
    assert [a for a in actions(db) if a.startswith("hla.search")] == ["hla.search.save", "hla.search.run",
                                                                      "hla.search.delete"]
    with pytest.raises(NotFound, match="saved search"):
        saved_searches.run(db, saved["id"], actor="coord")


def test_bad_saved_searches_are_refused_before_anything_is_stored(db):
    with pytest.raises(ValidationFailed, match="patient"):
        saved_searches.save(db, "x", "A*99:99+A*01:01^B*08:01^DRB1*03:01", {}, actor="coord")
    with pytest.raises(ValidationFailed, match="name"):
        saved_searches.save(db, " ", HAN, {}, actor="coord")
    with pytest.raises(ValidationFailed, match="unknown search parameter"):
        saved_searches.save(db, "x", HAN, {"colour": "red"}, actor="coord")
    with pytest.raises(ValidationFailed, match="max_mismatches"):
        saved_searches.save(db, "x", HAN, {"max_mismatches": 9}, actor="coord")
    assert saved_searches.list_saved(db) == []


def test_saved_searches_through_the_api(client, db, users):
    service.import_donors(db, ONE, actor="tester")
    headers = users.headers("clinician")
    made = client.post("/api/v1/hla/searches", headers=headers, json={"name": "W", "patient": HAN,
                                                                       "max_mismatches": 1})
    assert made.status_code == 201
    listed = client.get("/api/v1/hla/searches", headers=headers).json()
    assert [s["name"] for s in listed] == ["W"]
    ran = client.post(f"/api/v1/hla/searches/{made.json()['id']}/run", headers=headers).json()
    assert ran["result"]["items"][0]["donor_id"] == "S1" and ran["result"]["items"][0]["p10of10"] > 0
    assert client.post("/api/v1/hla/searches", headers=users.headers("researcher"),
                       json={"name": "W", "patient": HAN}).status_code == 403
    assert client.delete(f"/api/v1/hla/searches/{made.json()['id']}", headers=headers).status_code == 204
    assert client.post("/api/v1/hla/searches/999/run", headers=headers).status_code == 404
    predicted = client.post("/api/v1/hla/predict", headers=headers, json={"patient": HAN, "donor": HAN})
    assert predicted.status_code == 200 and set(predicted.json()) == {"p10of10", "p9of10", "p8of8", "p7of8", "loci"}
    sets = client.get("/api/v1/hla/frequencies", headers=headers).json()
    assert [s["name"] for s in sets][:2] == ["NMDP-2007-API", "NMDP-2007-EUR"]
    genotypes = client.get("/api/v1/hla/donors/S1/genotypes", headers=headers).json()
    assert genotypes["set"] == "NMDP-2007-API" and genotypes["count"] == 5


@pytest.mark.browser
def test_browser_save_and_rerun_a_search(live_server, page):
    service.import_donors(live_server.db, ONE, actor="tester")
    live_server.create_user("clinician", "sasha")
    live_server.login(page, "sasha")
    page.goto(f"{live_server.url}/hla/search")
    page.fill("textarea[name=patient]", HAN)
    page.select_option("select[name=max_mismatches]", "2")
    page.click("#hla-search button[type=submit]")
    page.wait_for_selector("#hla-total")
    page.fill("#hla-save input[name=name]", "Patient W.")
    page.click("#hla-save button[type=submit]")
    page.wait_for_selector("#hla-saved")
    row = page.locator("#hla-saved tbody tr").first
    assert "Patient W." in row.inner_text() and row.locator("td.num").inner_text() == "1"
    service.import_donors(live_server.db, TWO, actor="tester")
    row.locator("button", has_text="Run again").click()
    page.wait_for_selector("#hla-total")
    assert page.inner_text("#hla-total") == "2 donors found."
    assert page.locator("table.hla-results tbody tr").first.get_attribute("data-donor") == "S2"
