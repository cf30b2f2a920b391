"""Storage management in the UI: container types (create, edit), units, racks and boxes, moving a rack or a
box, the free-position finder with its "move here" button; labels instead of codes, fill bars by level."""

from __future__ import annotations

import pytest

from lifebank.biobank import service
from lifebank.errors import Conflict

from .biobank_fixtures import ACTOR
from .manage_helpers import ledger, log_in


def test_create_types_and_containers_through_the_forms(bank, client):
    token = log_in(client, bank)
    page = client.get("/biobank/storage/manage")
    assert page.status_code == 200 and "Letter-number (A1…H12)" in page.text
    answer = client.post("/biobank/storage/types", data={"csrf_token": token, "name": "Box 8x12", "kind": "box",
                                                         "rows": "8", "columns": "12", "scheme": "letter-number"},
                         follow_redirects=False)
    assert answer.status_code == 303
    assert ledger(bank, "storage.type.define")[-1][:2] == ("mara", "Box 8x12")
    client.post("/biobank/storage/types", data={"csrf_token": token, "name": "Store", "kind": "automated_store"})
    unit = client.post("/biobank/storage/containers", data={
        "csrf_token": token, "name": "AS-1", "type_name": "Store", "parent": "", "temperature_class": "-80C"},
        follow_redirects=False)
    assert unit.status_code == 303 and unit.headers["location"] == "/biobank/storage?path=AS-1"
    box = client.post("/biobank/storage/containers", data={"csrf_token": token, "name": "B96", "type_name": "Box 8x12",
                                                           "parent": "AS-1"}, follow_redirects=False)
    assert box.status_code == 303
    assert service.container_info(bank, "AS-1/B96") == {"path": "AS-1/B96", "kind": "box",
                                                        "temperature_class": "-80C", "capacity": 96}
    assert ledger(bank, "storage.container.create")[-1][1:] == ("AS-1/B96", {"type": "Box 8x12",
                                                                             "temperature_class": "-80C"})
    listing = client.get("/biobank/storage")
    assert "Automated store" in listing.text and "−80 °C" in listing.text
    assert "automated_store" not in listing.text.split("<main")[1] and ">-80C<" not in listing.text


def test_form_mistakes_are_inline_and_translated(bank, client):
    token = log_in(client, bank, locale="zh_Hans")
    wrong = client.post("/biobank/storage/containers", data={"csrf_token": token, "name": "R9", "type_name": "Rack",
                                                             "parent": "FRZ-01/R01"})
    assert wrong.status_code == 422 and "text/html" in wrong.headers["content-type"]
    assert "冻存架不能容纳冻存架" in wrong.text
    warm = client.post("/biobank/storage/move", data={"csrf_token": token, "path": "FRZ-01/R01/BOX-1",
                                                      "new_parent": "TANK-01/RL1"})
    assert warm.status_code == 422 and "−80 °C" in warm.text and "液氮" in warm.text
    assert service.container_info(bank, "FRZ-01/R01/BOX-1")["path"] == "FRZ-01/R01/BOX-1"


def test_move_a_box_to_another_rack(bank, client):
    service.create_container(bank, "R02", type_name="Rack", parent_path="FRZ-01", actor=ACTOR)
    token = log_in(client, bank)
    moved = client.post("/biobank/storage/move", data={"csrf_token": token, "path": "FRZ-01/R01/BOX-2",
                                                       "new_parent": "FRZ-01/R02"}, follow_redirects=False)
    assert moved.status_code == 303 and moved.headers["location"] == "/biobank/storage?path=FRZ-01/R02/BOX-2"
    assert ledger(bank, "storage.container.move")[-1][2] == {"from": "FRZ-01/R01/BOX-2", "to": "FRZ-01/R02/BOX-2"}


def test_a_used_types_grid_cannot_change_but_its_name_can(bank, client):
    with pytest.raises(Conflict, match="used by 2 containers"):
        service.edit_container_type(bank, "Box 9x9", rows=10, actor=ACTOR)
    token = log_in(client, bank)
    refused = client.post("/biobank/storage/types/edit", data={"csrf_token": token, "name": "Box 9x9", "rows": "10"})
    assert refused.status_code == 422 and "its grid cannot change" in refused.text
    renamed = client.post("/biobank/storage/types/edit", data={"csrf_token": token, "name": "Box 9x9",
                                                               "new_name": "Cryobox 81"}, follow_redirects=False)
    assert renamed.status_code == 303
    assert [t["name"] for t in service.list_container_types(bank) if t["kind"] == "box"] == ["Box 10x10", "Cryobox 81"]
    assert ledger(bank, "storage.type.edit")[-1][2] == {"name": ["Box 9x9", "Cryobox 81"]}
    service.define_container_type(bank, "Spare", kind="box", rows=2, columns=2, actor=ACTOR)
    service.edit_container_type(bank, "Spare", rows=3, columns=4, scheme="sequential", actor=ACTOR)
    spare = next(t for t in service.list_container_types(bank) if t["name"] == "Spare")
    assert (spare["rows"], spare["columns"], spare["scheme"]) == (3, 4, "sequential")


def test_free_positions_list_boxes_and_move_the_tube_here(bank, client):
    service.register_specimen(bank, "T1", participant="P000001", type="SER", quantity=1,
                              location="FRZ-01/R01/BOX-1/A1", actor=ACTOR)
    service.register_specimen(bank, "T2", participant="P000001", type="SER", quantity=1, actor=ACTOR)
    found = service.find_free_positions(bank, "-80C")
    assert (found["boxes"], found["free"]) == (2, 161)
    assert found["items"][0] == {"path": "FRZ-01/R01/BOX-1", "free": 80, "capacity": 81,
                                 "first_free": ["A2", "A3", "A4", "A5", "A6"]}
    token = log_in(client, bank)
    page = client.get("/biobank/storage/free", params={"temperature_class": "-80C", "for": "T2"})
    assert "161 free positions in 2 boxes at −80 °C." in page.text
    assert 'href="/biobank/storage?path=FRZ-01/R01/BOX-1"' in page.text and "Move here (A2)" in page.text
    moved = client.post("/biobank/storage/free/move", data={"csrf_token": token, "barcode": "T2",
                                                            "location": "FRZ-01/R01/BOX-1/A2",
                                                            "temperature_class": "-80C"}, follow_redirects=False)
    assert moved.status_code == 303 and moved.headers["location"] == "/biobank/specimens/T2"
    assert service.get_specimen(bank, "T2")["location"] == "FRZ-01/R01/BOX-1/A2"
    assert ledger(bank, "specimen.move")[-1][1:] == ("T2", {"from": None, "to": "FRZ-01/R01/BOX-1/A2"})
    taken = client.post("/biobank/storage/free/move", data={"csrf_token": token, "barcode": "T1",
                                                            "location": "FRZ-01/R01/BOX-1/A2",
                                                            "temperature_class": "-80C"})
    assert taken.status_code == 422 and "already occupied" in taken.text
    bad = client.get("/biobank/storage/free", params={"temperature_class": "-70C"})
    assert bad.status_code == 422 and "is not one of" in bad.text
    api = client.get("/api/v1/biobank/free-positions", params={"temperature_class": "LN2"})
    assert api.json()["boxes"] == 1 and api.json()["items"][0]["first_free"][:2] == ["1", "2"]


def test_fill_bars_turn_amber_at_75_and_red_at_90_percent(bank, client):
    service.define_container_type(bank, "Box 2x2", kind="box", rows=2, columns=2, actor=ACTOR)
    service.create_container(bank, "SMALL", type_name="Box 2x2", parent_path="FRZ-01/R01", actor=ACTOR)
    for i, position in enumerate(["A1", "A2", "B1"]):
        service.register_specimen(bank, f"F{i}", participant="P000001", type="SER", quantity=1,
                                  location=f"FRZ-01/R01/SMALL/{position}", actor=ACTOR)
    log_in(client, bank)
    box = client.get("/biobank/storage", params={"path": "FRZ-01/R01/SMALL"})
    assert 'data-level="warn"' in box.text and "3 / 4 (75 %)" in box.text
    service.register_specimen(bank, "F9", participant="P000001", type="SER", quantity=1,
                              location="FRZ-01/R01/SMALL/B2", actor=ACTOR)
    full = client.get("/biobank/storage", params={"path": "FRZ-01/R01/SMALL"})
    assert 'data-level="full"' in full.text
    rack = client.get("/biobank/storage", params={"path": "FRZ-01/R01"})
    assert rack.text.count('data-level="ok"') >= 2
