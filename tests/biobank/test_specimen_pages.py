"""The technician's specimen pages over real HTTP: action forms shown only to roles that may use them, inline
errors in the reader's language, the list's sorting, page counts, filters that say why, exports, bulk
preview and run, label printing and templates."""

from __future__ import annotations

import io
import re

from openpyxl import load_workbook

from lifebank.audit import service as audit
from lifebank.biobank import service

from .biobank_fixtures import ACTOR

ZH = {"Accept-Language": "zh-CN"}


def _csrf(client, headers, path: str = "/biobank/specimens") -> str:
    page = client.get(path, headers=headers)
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def _tubes(db) -> None:
    service.register_specimen(db, "S1", participant="P000001", type="SER", quantity=1,
                              location="FRZ-01/R01/BOX-1/A1", actor=ACTOR)
    service.register_specimen(db, "S2", participant="P000002", type="PL1", quantity=2, actor=ACTOR)


def test_action_forms_are_shown_only_to_roles_that_may_use_them(bank, client, users):
    _tubes(bank)
    tech = client.get("/biobank/specimens/S1", headers=users.headers("technician")).text
    assert 'id="do-checkout"' in tech and 'id="act-aliquot"' in tech and 'id="act-discard"' in tech
    assert 'id="act-reserve"' not in tech  # reserving is the manager's
    researcher = client.get("/biobank/specimens/S1", headers=users.headers("researcher")).text
    assert "do-checkout" not in researcher and "/biobank/move" not in researcher and "label.png" not in researcher
    manager = client.get("/biobank/specimens/S1", headers=users.headers("biobank_manager")).text
    assert 'id="act-reserve"' in manager


def test_check_out_in_and_a_refused_discard_inline_in_chinese(bank, client, users):
    _tubes(bank)
    tech = {**users.headers("technician"), **ZH}
    token = _csrf(client, tech, "/biobank/specimens/S1")
    out = client.post("/biobank/specimens/S1/actions/checkout", headers=tech, data={"csrf_token": token},
                      follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"].endswith("?done=checkout")
    client.post("/biobank/specimens/S1/actions/checkin", headers=tech, data={"csrf_token": token})
    assert service.get_specimen(bank, "S1")["freeze_thaw"] == 1
    refused = client.post("/biobank/specimens/S1/actions/discard", headers=tech,
                          data={"csrf_token": token, "reason": ""})
    assert refused.status_code == 422
    assert 'id="error-discard"' in refused.text and "必须填写原因" in refused.text
    assert 'id="act-discard" class="danger-zone" open' in refused.text
    assert service.get_specimen(bank, "S1")["status"] == "available"


def test_aliquot_offers_the_childrens_labels(bank, client, users):
    _tubes(bank)
    tech = users.headers("technician")
    token = _csrf(client, tech, "/biobank/specimens/S1")
    made = client.post("/biobank/specimens/S1/actions/aliquot", headers=tech,
                       data={"csrf_token": token, "count": "2", "quantity": "0.25", "type": "SER"})
    assert made.status_code == 200
    children = re.findall(r'name="barcodes" value="([^"]+)"', made.text)[0].split()
    assert len(children) == 2 and 'id="children-labels-zpl"' in made.text
    zpl = client.post("/biobank/labels", headers=tech, data={"csrf_token": token, "barcodes": " ".join(children),
                                                             "format": "zpl"})
    assert zpl.headers["content-type"].startswith("application/zpl")
    assert all(f"^FD{c}^FS" in zpl.text for c in children)
    too_much = client.post("/biobank/specimens/S1/actions/aliquot", headers=tech,
                           data={"csrf_token": token, "count": "9", "quantity": "1", "type": "SER"})
    assert too_much.status_code == 422 and 'id="error-aliquot"' in too_much.text


def test_move_page_picks_a_free_position(bank, client, users):
    _tubes(bank)
    tech = users.headers("technician")
    page = client.get("/biobank/move", headers=tech, params={"barcode": "S2", "box": "FRZ-01/R01/BOX-1"})
    assert '<option value="A2">' in page.text and '<option value="A1">' not in page.text
    assert "/biobank/storage/free?temperature_class=-80C" in page.text
    token = _csrf(client, tech, "/biobank/move")
    moved = client.post("/biobank/move", headers=tech, data={"csrf_token": token, "barcode": "S2",
                                                              "box": "FRZ-01/R01/BOX-1", "position": "A2"},
                        follow_redirects=False)
    assert moved.status_code == 303
    assert service.get_specimen(bank, "S2")["location"] == "FRZ-01/R01/BOX-1/A2"
    taken = client.post("/biobank/move", headers=tech, data={"csrf_token": token, "barcode": "S2",
                                                              "location": "FRZ-01/R01/BOX-1/A1"})
    assert taken.status_code == 422 and "already occupied" in taken.text


def test_list_sorts_counts_pages_and_explains_bad_filters(bank, client, users):
    _tubes(bank)
    tech = users.headers("technician")
    page = client.get("/biobank/specimens", headers=tech, params={"sort": "-barcode"})
    assert page.text.index('data-barcode="S2"') < page.text.index('data-barcode="S1"')
    assert "Page 1 of 1." in page.text and 'id="select-page"' in page.text
    bad = client.get("/biobank/specimens", headers={**tech, **ZH}, params={"status": "bogus"})
    assert bad.status_code == 422 and 'id="filter-error"' in bad.text and "available" in bad.text
    assert "<th>" in bad.text and 'class="none"' in bad.text
    path = client.get("/biobank/specimens", headers=tech, params={"container": "FRZ-01 / R01 / BOX-1"})
    assert "1 specimens found." in path.text or "1 specimen" in path.text
    gone = client.get("/biobank/specimens", headers=tech, params={"container": "Nowhere/Freezer 9"})
    assert "no storage unit has the path Nowhere/Freezer 9" in gone.text
    assert "1 specimens found." in client.get("/biobank/specimens", headers=tech, params={"consent": "GRU"}).text \
        or 'data-barcode="S1"' in client.get("/biobank/specimens", headers=tech, params={"consent": "GRU"}).text
    xlsx = client.get("/biobank/specimens/export", headers={**tech, **ZH},
                      params={"format": "xlsx", "type": "SER"})
    rows = list(load_workbook(io.BytesIO(xlsx.content), read_only=True).active.iter_rows(values_only=True))
    assert rows[0][0] == "条码" and [r[0] for r in rows[1:]] == ["S1"]
    assert 'href="/biobank/specimens/export?type=SER&amp;format=xlsx"' in client.get(
        "/biobank/specimens", headers=tech, params={"type": "SER"}).text


def test_bulk_preview_then_run(bank, client, users):
    _tubes(bank)
    tech = users.headers("technician")
    token = _csrf(client, tech)
    form = {"csrf_token": token, "action": "move", "barcodes": ["S1", "S2"], "box": "FRZ-01/R01/BOX-2"}
    preview = client.post("/biobank/specimens/bulk/preview", headers=tech, data=form)
    assert preview.status_code == 200 and "moves to FRZ-01/R01/BOX-2/A2" in preview.text
    assert service.get_specimen(bank, "S2")["location"] is None
    done = client.post("/biobank/specimens/bulk/run", headers=tech, data=form)
    assert 'id="bulk-done"' in done.text
    assert service.get_specimen(bank, "S2")["location"] == "FRZ-01/R01/BOX-2/A2"
    refused = client.post("/biobank/specimens/bulk/preview", headers=tech,
                          data={**form, "action": "status", "status": "destroyed", "note": ""})
    assert 'id="bulk-refused"' in refused.text and "reason is required" in refused.text
    printed = client.post("/biobank/specimens/bulk/run", headers=tech,
                          data={**form, "action": "labels", "format": "pdf"})
    assert printed.content.startswith(b"%PDF")
    _total, events = audit.list_events(bank, entity_id="S2", limit=1)
    assert events[0].action == "specimen.label_printed"


def test_manager_edits_label_templates_technician_cannot(bank, client, users):
    manager = users.headers("biobank_manager")
    token = _csrf(client, manager, "/biobank/labels")
    saved = client.post("/biobank/labels/templates", headers=manager,
                        data={"csrf_token": token, "name": "tiny", "stock": "cryo-25x13", "symbology": "code128",
                              "fields": ["type"], "is_default": "1"}, follow_redirects=True)
    assert "tiny" in saved.text and 'id="template-form"' in saved.text
    wrong = client.post("/biobank/labels/templates", headers=manager,
                        data={"csrf_token": token, "name": "x", "stock": "huge", "symbology": "code128"})
    assert wrong.status_code == 422 and 'id="template-error"' in wrong.text
    tech = users.headers("technician")
    assert 'id="template-form"' not in client.get("/biobank/labels", headers=tech).text
    assert client.post("/biobank/labels/templates", headers=tech,
                       data={"csrf_token": token, "name": "y", "stock": "cryo-25x13"}).status_code == 403
