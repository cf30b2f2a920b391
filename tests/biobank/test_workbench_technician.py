"""Acceptance: a technician's day in the browser, in Chinese, on a tablet (768×1024).

On a small bank loaded through the import path (as a bank starts): scan a tube into the header's search box,
check it out and back in, aliquot it into three children and print their labels (ZPL and PDF), find a new box
with the free-position finder and move the children into it as one bulk action, record a QC value, and
discard one child with a reason. Every step is checked on the page, in the database and in the ledger.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from lifebank.audit import service as audit
from lifebank.auth import service as auth
from lifebank.biobank import imports, service
from lifebank.biobank.models import QcMeasurement, Specimen, SpecimenEvent

from .biobank_fixtures import ACTOR, SPECIMEN_HEADER, build_storage, participants_csv

pytestmark = pytest.mark.browser
TABLET = {"width": 768, "height": 1024}
PASSWORD = "Correct-horse-battery-9"


def _small_bank(db) -> None:
    """Storage, six participants and twelve serum tubes in BOX-1 (imported), and a new empty box BOX-9."""
    build_storage(db)
    imports.import_participants(db, participants_csv(6), actor=ACTOR)
    rows = [f"S{p}{n},P{p:06d},SER,1.0,mL,2024-03-01T08:00:00Z,,SER-SST-A-D-N-B-A,"
            f"FRZ-01/R01/BOX-1/{'ABCDEF'[p - 1]}{n}\n" for p in range(1, 7) for n in (1, 2)]
    imports.import_specimens(db, (SPECIMEN_HEADER + "".join(rows)).encode(), actor=ACTOR)
    service.create_container(db, "BOX-9", type_name="Box 9x9", parent_path="FRZ-01/R01", actor=ACTOR)


def _actions(db, barcode: str) -> list[str]:
    _total, events = audit.list_events(db, entity_type="specimen", entity_id=barcode, limit=100)
    return [e.action for e in reversed(events)]


def _specimen(db, barcode: str) -> Specimen:
    with db.session() as session:
        return session.scalars(select(Specimen).where(Specimen.barcode == barcode)).one()


def test_a_technicians_day_in_chinese_on_a_tablet(live_server, browser):
    db = live_server.db
    _small_bank(db)
    auth.create_user(db, "tech1", PASSWORD, ["technician"], locale="zh_Hans")
    context = browser.new_context(viewport=TABLET, locale="zh-CN", accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(15000)
    url = live_server.url
    try:
        live_server.login(page, "tech1", PASSWORD)

        # 1. a USB scanner types the barcode into the header's search box and presses Enter
        page.fill("#find-q", "S11")
        page.press("#find-q", "Enter")
        page.wait_for_url(f"{url}/biobank/specimens/S11")
        assert page.inner_text("#specimen-barcode") == "S11"
        assert page.locator("#do-checkout").inner_text() == "出库"

        # 2. check it out and back in: one freeze-thaw cycle
        page.click("#do-checkout")
        page.wait_for_url("**done=checkout")
        assert page.inner_text("#done-note") == "已出库。"
        assert "已出库" in page.inner_text("#fact-status")
        assert _specimen(db, "S11").status == "in_use"
        page.click("#do-checkin")
        page.wait_for_url("**done=checkin")
        assert page.inner_text("#fact-freeze-thaw") == "1"
        stored = _specimen(db, "S11")
        assert (stored.status, stored.freeze_thaw) == ("available", 1)
        assert _actions(db, "S11")[-2:] == ["specimen.checked_out", "specimen.checked_in"]

        # 3. aliquot it into three children of 0.2 mL
        page.click("#act-aliquot summary")
        page.fill("#act-aliquot input[name=count]", "3")
        page.fill("#act-aliquot input[name=quantity]", "0.2")
        page.click("#act-aliquot button[type=submit]")
        page.wait_for_url("**done=aliquot**")
        children = page.locator("#new-children .tags a").all_inner_texts()
        assert len(children) == 3
        with db.session() as session:
            parent = session.scalars(select(Specimen).where(Specimen.barcode == "S11")).one()
            rows = list(session.scalars(select(Specimen).where(Specimen.parent_id == parent.id)))
            assert sorted(r.barcode for r in rows) == sorted(children)
            assert {(r.lineage, r.type, r.quantity) for r in rows} == {("aliquot", "SER", 0.2)}
            assert abs(parent.quantity - 0.4) < 1e-9
        assert _actions(db, "S11")[-1] == "specimen.aliquot"

        # 4. print their labels at once: ZPL for the Zebra printer, then a PDF
        with page.expect_download() as zpl_download:
            page.click("#children-labels-zpl")
        zpl = open(zpl_download.value.path(), encoding="utf-8").read()
        assert zpl.count("^XA") == 3 and zpl.count("^XZ") == 3
        assert all(f"^FD{child}^FS" in zpl for child in children)
        with page.expect_download() as pdf_download:
            page.click("#children-labels-pdf")
        assert open(pdf_download.value.path(), "rb").read(5) == b"%PDF-"
        for child in children:
            assert _actions(db, child)[-2:] == ["specimen.label_printed", "specimen.label_reprinted"]
        with db.session() as session:
            printed = session.scalars(select(SpecimenEvent.kind)
                                      .join(Specimen, Specimen.id == SpecimenEvent.specimen_id)
                                      .where(Specimen.barcode.in_(children))).all()
            assert sorted(k for k in printed if k.startswith("label")) == ["label_printed"] * 3 + \
                ["label_reprinted"] * 3

        # 5. find a new box with the free-position finder, then move the three children into it together
        page.goto(f"{url}/biobank/specimens/S11?done=aliquot&children={','.join(children)}")
        page.click("#new-children a[href^='/biobank/storage/free']")
        page.wait_for_url("**/biobank/storage/free?temperature_class=-80C**")
        new_box = page.locator("#free-boxes tr[data-box='FRZ-01/R01/BOX-9']")
        assert "81 / 81" in new_box.inner_text()
        page.goto(f"{url}/biobank/specimens?participant=P000001&sort=barcode")
        for child in children:
            page.check(f"#specimen-table input[name=barcodes][value='{child}']")
        page.select_option("#bulk-action", "move")
        page.fill("#bulk-box", "FRZ-01/R01/BOX-9")
        page.click("#bulk-preview")
        plan = page.locator("#bulk-plan tbody tr")
        assert plan.count() == 3
        assert plan.nth(0).inner_text().split("\t")[1] == "移至 FRZ-01/R01/BOX-9/A1"
        page.click("#bulk-run")
        assert page.inner_text("#bulk-done") == "已修改 3 个样本。"
        locations = [service.get_specimen(db, child)["location"] for child in sorted(children)]
        assert locations == [f"FRZ-01/R01/BOX-9/A{i}" for i in (1, 2, 3)]
        for child in children:
            assert _actions(db, child)[-1] == "specimen.move"

        # 6. record a QC value on the first child
        first, second = sorted(children)[:2]
        page.goto(f"{url}/biobank/specimens/{first}")
        page.click("#act-qc summary")
        page.select_option("#act-qc select[name=kind]", "concentration")
        page.fill("#act-qc input[name=value]", "12.5")
        page.fill("#act-qc input[name=method]", "Qubit")
        page.click("#act-qc button[type=submit]")
        page.wait_for_url("**done=qc")
        assert "12.5 ng/µL" in page.inner_text("#specimen-qc")
        with db.session() as session:
            qc = session.scalars(select(QcMeasurement).join(Specimen, Specimen.id == QcMeasurement.specimen_id)
                                 .where(Specimen.barcode == first)).one()
            assert (qc.kind, qc.value, qc.unit, qc.method, qc.actor) == ("concentration", 12.5, "ng/µL", "Qubit",
                                                                          "tech1")
        assert _actions(db, first)[-1] == "specimen.qc"

        # 7. discard the second child: without a reason it is refused inline, in Chinese; with one it goes
        page.goto(f"{url}/biobank/specimens/{second}")
        page.click("#act-discard summary")
        page.click("#do-discard")
        assert page.inner_text("#error-discard") == "销毁或丢弃样本必须填写原因"
        assert _specimen(db, second).status == "available"
        page.fill("#discard-reason", "管盖破裂")
        page.click("#do-discard")
        page.wait_for_url("**done=discard")
        assert "已销毁" in page.inner_text("#fact-status")
        gone = _specimen(db, second)
        assert (gone.status, gone.container_id, gone.position) == ("destroyed", None, None)
        _total, events = audit.list_events(db, entity_type="specimen", entity_id=second, limit=1)
        assert events[0].action == "specimen.destroyed" and events[0].actor == "tech1"
        change = audit.event_detail(db, events[0].seq).change
        assert change == {"from": "available", "to": "destroyed", "note": "管盖破裂"}
        assert audit.verify(db).broken is None
    finally:
        context.close()
