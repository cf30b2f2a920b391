"""Aliquot-on-the-fly at fulfilment (issue 11, item 5): the manager splits an allocated tube at the scan step;
the child aliquot of the requested volume ships, the parent stays with the rest — one transaction, through the
API, the page and the CLI, on SQLite and PostgreSQL."""

from __future__ import annotations

import re

import pytest

from lifebank.access import service, splitting
from lifebank.auth import service as auth
from lifebank.biobank import service as bb
from lifebank.errors import Conflict, PermissionDenied, ValidationFailed

from .access_fixtures import PASSWORD, Bank


def _in_fulfilment(bank: Bank, min_volume: float | None = 0.4) -> tuple[int, list[dict]]:
    manager = bank.principal("manager")
    request_id = service.create_request(
        bank.db, bank.draft(organisation="Hospital A", purposes=["GRU"],
                            items=[service.Item("SER", 1, None, min_volume)]), principal=manager)
    service.appoint_committee(bank.db, request_id, ["rev2"], principal=manager)
    service.cast_vote(bank.db, request_id, "approve", principal=bank.principal("rev2"))
    service.add_document(bank.db, request_id, kind="agreement", filename="mta.pdf", content=b"%PDF",
                         content_type="application/pdf", principal=manager)
    service.sign_agreement(bank.db, request_id, principal=manager)
    service.allocate(bank.db, request_id, principal=manager)
    return request_id, service.pick_list(bank.db, request_id, manager)


def test_a_split_ships_the_child_and_keeps_the_parent_with_the_rest(bank: Bank) -> None:
    request_id, picks = _in_fulfilment(bank)
    manager = bank.principal("manager")
    parent = picks[0]["barcode"]
    done = splitting.split_and_pick(bank.db, request_id, parent, principal=manager)
    child = done["barcode"]
    assert (done["parent"], done["quantity"], done["parent_left"], done["state"]) == (parent, 0.4, 0.6, "picked")
    assert (done["target_box"], done["target_position"]) == (picks[0]["target_box"], picks[0]["target_position"])
    # Lineage, volume moved, the child reserved for the request, the parent back in the bank.
    kid, mother = bb.get_specimen(bank.db, child), bb.get_specimen(bank.db, parent)
    assert (kid["lineage"], kid["parent"], kid["quantity"], kid["status"]) == ("aliquot", parent, 0.4, "reserved")
    assert (mother["quantity"], mother["status"]) == (0.6, "available")
    rows = {p["barcode"]: p for p in service.pick_list(bank.db, request_id, manager)}
    assert parent not in rows and rows[child]["state"] == "picked" and rows[child]["note"] == f"aliquot of {parent}"
    for pick in picks[1:]:
        service.scan(bank.db, request_id, pick["barcode"], principal=manager)
    shipped = service.ship(bank.db, request_id, courier="SF", tracking_number="SF1", temperature="dry_ice",
                           un3373=True, principal=manager)
    assert shipped["tubes"] == len(picks)
    assert bb.get_specimen(bank.db, child)["status"] == "distributed"
    assert bb.get_specimen(bank.db, parent)["status"] == "available"


def test_bad_splits_are_refused_and_change_nothing(bank: Bank) -> None:
    request_id, picks = _in_fulfilment(bank)
    manager, tech = bank.principal("manager"), bank.principal("tech")
    first, second = picks[0]["barcode"], picks[1]["barcode"]
    with pytest.raises(PermissionDenied):  # the split is the manager's call, not the technician's
        splitting.split_and_pick(bank.db, request_id, first, principal=tech)
    with pytest.raises(Conflict, match="WRONG TUBE"):
        splitting.split_and_pick(bank.db, request_id, "S000003-1", principal=manager)
    with pytest.raises(ValidationFailed, match="would leave nothing"):
        splitting.split_and_pick(bank.db, request_id, first, quantity=1.0, principal=manager)
    with pytest.raises(ValidationFailed, match="at least 0.4 per tube"):
        splitting.split_and_pick(bank.db, request_id, first, quantity=0.2, principal=manager)
    service.scan(bank.db, request_id, second, principal=manager)
    with pytest.raises(Conflict, match="already scanned"):
        splitting.split_and_pick(bank.db, request_id, second, principal=manager)
    assert bb.get_specimen(bank.db, first)["status"] == "reserved" and bb.get_specimen(bank.db, first)["quantity"] == 1
    assert [p["barcode"] for p in service.pick_list(bank.db, request_id, manager)] == [p["barcode"] for p in picks]


def test_without_a_minimum_volume_the_manager_says_how_much(bank: Bank) -> None:
    request_id, picks = _in_fulfilment(bank, min_volume=None)
    manager = bank.principal("manager")
    with pytest.raises(ValidationFailed, match="say how much"):
        splitting.split_and_pick(bank.db, request_id, picks[0]["barcode"], principal=manager)
    done = splitting.split_and_pick(bank.db, request_id, picks[0]["barcode"], quantity=0.25, principal=manager)
    assert done["quantity"] == 0.25 and done["parent_left"] == 0.75


def test_the_api_and_the_page_split_and_offer_the_childs_label(bank: Bank, client) -> None:
    request_id, picks = _in_fulfilment(bank)
    headers = {name: {"Authorization": f"Bearer {auth.create_token(bank.db, name, 't').token}"}
               for name in ("manager", "tech")}
    url = f"/api/v1/access/requests/{request_id}/split"
    assert client.post(url, json={"barcode": picks[0]["barcode"]}, headers=headers["tech"]).status_code == 403
    answer = client.post(url, json={"barcode": picks[0]["barcode"], "quantity": 0.5}, headers=headers["manager"])
    assert answer.status_code == 200 and answer.json()["parent_left"] == 0.5
    refused = client.post(url, json={"barcode": "NOPE"}, headers=headers["manager"])
    assert refused.status_code == 409 and "WRONG TUBE" in refused.json()["detail"]
    # The page, logged in as the manager.
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    client.post("/login", data={"username": "manager", "password": PASSWORD, "csrf_token": token})
    page = client.get(f"/access/requests/{request_id}/fulfil")
    assert 'id="split-form"' in page.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    done = client.post(f"/access/requests/{request_id}/split", data={"csrf_token": token,
                                                                      "barcode": picks[1]["barcode"]})
    assert done.status_code == 200 and 'id="split-ok"' in done.text and 'id="split-label"' in done.text
    child = [p for p in service.pick_list(bank.db, request_id, bank.principal("manager"))
             if p["note"] == f"aliquot of {picks[1]['barcode']}"][0]["barcode"]
    assert f"/api/v1/biobank/specimens/{child}/label.png" in done.text
    bad = client.post(f"/access/requests/{request_id}/split", data={"csrf_token": token,
                                                                     "barcode": picks[2]["barcode"], "quantity": "0.1"})
    assert bad.status_code == 422 and 'id="split-error"' in bad.text
    # A technician's fulfilment page has no split form.
    client.cookies.clear()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    client.post("/login", data={"username": "tech", "password": PASSWORD, "csrf_token": token})
    assert 'id="split-form"' not in client.get(f"/access/requests/{request_id}/fulfil").text


def test_the_cli_splits(bank: Bank, db_url: str, tmp_path) -> None:
    from .test_cli import run

    request_id, picks = _in_fulfilment(bank)
    env = {"LIFEBANK_DATABASE_URL": db_url, "LIFEBANK_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "200"}
    made = run(["access", "split", str(request_id), picks[0]["barcode"], "--quantity", "0.5"], env)
    assert made.returncode == 0, made.stderr
    assert f"{picks[0]['barcode']} stays in the bank" in made.stdout
    assert bb.get_specimen(bank.db, picks[0]["barcode"])["quantity"] == 0.5
