"""The demo's partner organisation with one request in each state, and the dashboard panel of open requests."""

from __future__ import annotations

import re
from contextlib import contextmanager

from lifebank.access import demo, service
from lifebank.access.workflow import State
from lifebank.auth import service as auth
from lifebank.biobank import imports

from .access_fixtures import PASSWORD


@contextmanager
def _quiet(description, total, unit):
    yield lambda n: None


def _small_bank(db) -> None:
    people = "participant,sex,birth_year,site,consent_codes,consent_date\n" + "".join(
        f"P{i:06d},F,1970,SH,DUO:0000042,2024-01-02\n" for i in range(1, 41))
    tubes = "barcode,participant,type,quantity,unit,collected_at,parent_barcode,sprec,location\n" + "".join(
        f"T{i:03d}-{k},P{i:06d},SER,1.0,mL,2024-03-01T08:00:00Z,,,\n" for i in range(1, 41) for k in range(3))
    imports.import_participants(db, people.encode(), actor="tester")
    imports.import_specimens(db, tubes.encode(), actor="tester")
    for name, role in (("manager", "biobank_manager"), ("researcher", "researcher")):
        auth.create_user(db, name, PASSWORD, [role])


def test_demo_has_a_partner_request_in_each_state_and_loads_once(db):
    _small_bank(db)
    demo.load_demo(db, _quiet)
    partner = auth.principal_of(auth.get_user(db, demo.PARTNER_USER))
    states = sorted(r["state"] for r in service.list_requests(db, partner))
    assert states == sorted(s.value for s in State)
    demo.load_demo(db, _quiet)
    assert len(service.list_requests(db, partner)) == len(State)
    received = next(r for r in service.list_requests(db, partner) if r["state"] == "received")
    assert service.shipments(db, received["id"], partner)[0]["un3373"] is True


def test_dashboard_panel_counts_the_open_requests_a_user_may_see(client, db):
    _small_bank(db)
    demo.load_demo(db, _quiet)
    form = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    login = client.post("/login", data={"username": demo.PARTNER_USER, "password": "LifeBank-demo-2026",
                                        "csrf_token": token}, follow_redirects=False)
    assert login.status_code == 303, login.text
    page = client.get("/dashboard")
    assert 'id="open-requests"' in page.text
    # submitted … shipped: 8 of the 12 states ask something of the bank
    assert "8 open requests" in page.text
    listing = client.get("/access/requests")
    assert listing.text.count('data-state="') == 12
