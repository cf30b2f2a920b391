"""The technician's specimen routes of the API: export of the filtered list, ZPL labels, bulk preview and run,
check-out/in, discard and edit - through the real app on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import re

from openpyxl import load_workbook

from lifebank.biobank import service

from .biobank_fixtures import ACTOR

API = "/api/v1/biobank"


def _tubes(db) -> None:
    service.register_specimen(db, "S1", participant="P000001", type="SER", quantity=1,
                              location="FRZ-01/R01/BOX-1/A1", actor=ACTOR)
    service.register_specimen(db, "S2", participant="P000002", type="PL1", quantity=2, actor=ACTOR)
    service.register_specimen(db, "S3", participant="P000001", type="SER", quantity=3, actor=ACTOR)


def test_export_streams_the_whole_filtered_list_as_xlsx_and_csv(bank, client, users):
    _tubes(bank)
    reader = users.headers("clinician")
    assert client.get(f"{API}/specimens/export", headers=users.headers("researcher")).status_code == 403
    xlsx = client.get(f"{API}/specimens/export", headers=reader, params={"format": "xlsx", "type": "SER",
                                                                          "consent": "GRU", "sort": "-barcode"})
    assert xlsx.status_code == 200, xlsx.text
    sheet = load_workbook(io.BytesIO(xlsx.content), read_only=True).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("barcode", "participant", "type")
    assert [r[0] for r in rows[1:]] == ["S3", "S1"]
    csv = client.get(f"{API}/specimens/export", headers=reader, params={"format": "csv", "container": "FRZ-01"})
    assert csv.headers["content-type"].startswith("text/csv")
    lines = csv.content.decode("utf-8-sig").splitlines()
    assert len(lines) == 2 and lines[1].startswith("S1,P000001,SER")
    bad = client.get(f"{API}/specimens/export", headers=reader, params={"status": "bogus"})
    assert bad.status_code == 422 and "allowed: available" in bad.json()["detail"]
    assert client.get(f"{API}/specimens/export", headers=reader, params={"format": "pdf"}).status_code == 422


def test_list_sorts_and_refuses_unknown_filters(bank, client, users):
    _tubes(bank)
    reader = users.headers("clinician")
    page = client.get(f"{API}/specimens", headers=reader, params={"sort": "-barcode"}).json()
    assert [s["barcode"] for s in page["items"]] == ["S3", "S2", "S1"]
    # A researcher outside an approved request sees counts only: the total, never a row.
    counts = client.get(f"{API}/specimens", headers=users.headers("researcher"), params={"type": "SER"}).json()
    assert counts["total"] == 2 and counts["items"] == []
    missing = client.get(f"{API}/specimens", headers=reader, params={"container": "FRZ-09"})
    assert missing.status_code == 404 and "no storage unit has the path FRZ-09" in missing.json()["detail"]
    chinese = client.get(f"{API}/specimens", headers={**reader, "Accept-Language": "zh-CN"},
                         params={"type": "BANANA"})
    assert chinese.status_code == 422


def test_zpl_labels_carry_every_barcode_in_a_field(bank, client, users):
    _tubes(bank)
    tech = users.headers("technician")
    answer = client.post(f"{API}/labels.zpl", headers=tech, json={"barcodes": ["S1", "S2", "S3"]})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/zpl")
    blocks = re.findall(r"\^XA(.*?)\^XZ", answer.text, re.S)
    assert len(blocks) == 3
    for barcode, block in zip(["S1", "S2", "S3"], blocks, strict=True):
        assert re.search(r"\^B[CX]N[^\^]*\^FD" + barcode + r"\^FS", block), block
    unknown = client.post(f"{API}/labels.zpl", headers=tech, json={"barcodes": [f"X{i}" for i in range(49)]})
    assert unknown.status_code == 404
    assert all(f"X{i}" in unknown.json()["detail"] for i in range(49))


def test_bulk_preview_then_run_and_the_one_tube_actions(bank, client, users):
    _tubes(bank)
    tech = users.headers("technician")
    body = {"action": "move", "barcodes": ["S2", "S3"], "box": "FRZ-01/R01/BOX-2"}
    plan = client.post(f"{API}/specimens/bulk/preview", headers=tech, json=body).json()
    assert plan["runnable"] and [t["outcome"] for t in plan["tubes"]] == [
        "moves to FRZ-01/R01/BOX-2/A1", "moves to FRZ-01/R01/BOX-2/A2"]
    assert client.post(f"{API}/specimens/bulk", headers=tech, json=body).status_code == 200
    assert service.get_specimen(bank, "S3")["location"] == "FRZ-01/R01/BOX-2/A2"
    assert client.post(f"{API}/specimens/S1/checkout", headers=tech, json={}).json()["status"] == "in_use"
    assert client.post(f"{API}/specimens/S1/checkin", headers=tech, json={}).json()["freeze_thaw"] == 1
    refused = client.post(f"{API}/specimens/S1/discard", headers=tech, json={"reason": ""})
    assert refused.status_code == 422
    assert client.post(f"{API}/specimens/S1/discard", headers=tech,
                       json={"reason": "cracked"}).json()["status"] == "destroyed"
    edited = client.patch(f"{API}/specimens/S2", headers=tech, json={"notes": "lipaemic"}).json()
    assert edited["changes"] == {"notes": {"from": None, "to": "lipaemic"}}
    reader = users.headers("researcher")
    assert client.post(f"{API}/specimens/bulk", headers=reader, json=body).status_code == 403
