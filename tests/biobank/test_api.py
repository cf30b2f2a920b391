from __future__ import annotations

from .biobank_fixtures import SPECIMEN_HEADER

API = "/api/v1/biobank"


def test_specimen_search_paging_and_history(bank, client, users):
    tech = users.headers("technician")
    for i, position in enumerate(["A1", "A2", "A3"]):
        created = client.post(f"{API}/specimens", headers=tech, json={
            "barcode": f"S{i}", "participant": "P000001", "type": "PL1", "quantity": 1.0,
            "location": f"FRZ-01/R01/BOX-1/{position}"})
        assert created.status_code == 201, created.text
    page = client.get(f"{API}/specimens", headers=tech, params={"type": "PL1", "container": "FRZ-01", "limit": 2})
    assert page.status_code == 200
    body = page.json()
    assert (body["total"], body["limit"], [i["barcode"] for i in body["items"]]) == (3, 2, ["S0", "S1"])
    history = client.get(f"{API}/specimens/S0/history", headers=tech).json()
    assert [e["action"] for e in history["ledger"]] == ["specimen.register"]
    grid = client.get(f"{API}/box-map", headers=tech, params={"path": "FRZ-01/R01/BOX-1"}).json()
    assert [c["specimen"]["barcode"] for c in grid["cells"][:3]] == ["S0", "S1", "S2"]


def test_reservation_needs_the_capability_and_is_exclusive(bank, client, users):
    manager = users.headers("biobank_manager")
    partner = users.headers("partner")
    client.post(f"{API}/specimens", headers=manager, json={"barcode": "S1", "participant": "P000001",
                                                            "type": "SER", "quantity": 1})
    assert client.post(f"{API}/reservations", headers=partner,
                       json={"barcodes": ["S1"], "purpose": "x"}).status_code == 403
    assert client.post(f"{API}/reservations", headers=manager,
                       json={"barcodes": ["S1"], "purpose": "study A"}).status_code == 201
    again = client.post(f"{API}/reservations", headers=manager, json={"barcodes": ["S1"], "purpose": "study B"})
    assert again.status_code == 409
    assert again.json()["detail"] == "S1 cannot be reserved: it is Reserved"


def test_import_errors_come_back_as_a_list(bank, client, users):
    tech = users.headers("technician")
    content = SPECIMEN_HEADER + "S1,P000001,SER,1,mL,,,,\nS2,P000404,SER,1,mL,,,,\n"
    answer = client.post(f"{API}/imports/specimens", headers={**tech, "Content-Type": "text/csv"}, content=content)
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["errors"] == [{"line": 3, "column": "participant", "reason": "unknown participant P000404"}]
    fixed = content.replace("P000404", "P000002")
    done = client.post(f"{API}/imports/specimens", headers={**tech, "Content-Type": "text/csv"}, content=fixed)
    assert done.status_code == 201 and done.json()["rows"] == 2


def test_withdrawal_through_the_api(bank, client, users):
    manager = users.headers("biobank_manager")
    client.post(f"{API}/specimens", headers=manager, json={"participant": "P000002", "type": "DNA", "quantity": 5})
    answer = client.post(f"{API}/participants/P000002/withdrawal", headers=manager, json={"reason": "moved away"})
    assert answer.json() == {"participant": "P000002", "specimens_blocked": 1}
    view = client.get(f"{API}/participants/P000002", headers=manager).json()
    assert view["consents"][0]["withdrawn_at"] is not None


def test_labels_render_and_reprints_are_ledgered(bank, client, users):
    tech = users.headers("technician")
    client.post(f"{API}/specimens", headers=tech, json={"barcode": "S1", "participant": "P000001", "type": "SER",
                                                         "quantity": 1})
    png = client.get(f"{API}/specimens/S1/label.png", headers=tech, params={"symbology": "datamatrix"})
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    pdf = client.post(f"{API}/labels.pdf", headers=tech, json={"barcodes": ["S1"]})
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    history = client.get(f"{API}/specimens/S1/history", headers=tech).json()
    # Opening the PNG is not a print: the PDF is the first print, the second PDF a reprint.
    assert [e["action"] for e in history["ledger"]][:2] == ["specimen.label_printed", "specimen.register"]
    client.post(f"{API}/labels.pdf", headers=tech, json={"barcodes": ["S1"]})
    history = client.get(f"{API}/specimens/S1/history", headers=tech).json()
    assert [e["action"] for e in history["ledger"]][:2] == ["specimen.label_reprinted", "specimen.label_printed"]


def test_every_route_needs_credentials(client):
    assert client.get(f"{API}/specimens").status_code == 401
    assert client.post(f"{API}/imports/specimens", content="x").status_code == 401
