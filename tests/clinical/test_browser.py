"""The clinical pages in a real browser: the timeline on the participant page (phone width, Chinese too) and
the import page's error report, then a fixed file imported."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from lifebank.biobank import service as bank
from lifebank.clinical.fhir_import import import_fhir_text

from .fhir_fixtures import bundle, condition, medication, ndjson, observation, patient

pytestmark = pytest.mark.browser
ACTOR = "test"


def test_participant_page_shows_the_clinical_timeline_on_a_phone(live_server, browser):
    db = live_server.db
    bank.register_participant(db, "P0001", sex="M", birth_year=1950, site="Shanghai", actor=ACTOR)
    import_fhir_text(db, "b.json", json.dumps(bundle(
        patient("pat-1", "P0001"), condition("c-1", "pat-1", onset="2012-06-01", abatementDateTime="2014-01-01"),
        observation("o-1", "pat-1", value=6.5, when="2016-03-01"), medication("m-1", "pat-1"))), actor=ACTOR)
    live_server.create_user("biobank_manager", "mia", locale="zh_Hans")
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(15000)
    live_server.login(page, "mia")
    page.goto(f"{live_server.url}/biobank/participants/P0001")
    figure = page.locator("#clinical-timeline svg")
    figure.wait_for()
    assert page.locator("#clinical-timeline h2").inner_text() == "临床时间线"
    assert page.locator("#clinical-timeline svg .mark").count() == 3
    assert page.locator("#clinical-timeline svg line.mark[data-kind=condition]").count() == 1
    box = figure.bounding_box()
    assert box is not None and 340 <= box["width"] <= 390
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    rows = page.locator("#clinical-recent tbody tr")
    assert rows.count() == 3 and "6.5" in rows.nth(0).inner_text()
    context.close()


def test_import_page_reports_every_problem_then_imports(live_server, page, tmp_path):
    db = live_server.db
    bank.register_participant(db, "P0001", sex="M", birth_year=1950, site="Shanghai", actor=ACTOR)
    bad = tmp_path / "Condition.ndjson"
    bad.write_text(ndjson(patient("pat-1", "P0001"), condition("c-1", "pat-1", onset="2015-02-30"),
                          condition("c-2", "ghost")))
    live_server.create_user("biobank_manager", "max")
    live_server.login(page, "max")
    page.goto(f"{live_server.url}/clinical/import")
    page.set_input_files("#files", str(bad))
    page.click("#clinical-import-form button[type=submit]")
    report = page.locator("#import-errors")
    report.wait_for()
    assert "Condition.ndjson" in report.locator("p.error").inner_text()
    rows = [r.split("\t") for r in report.locator("tbody tr").all_inner_texts()]
    assert [r[:2] for r in rows] == [["2", "Condition.onsetDateTime"]]
    good = tmp_path / "fixed.ndjson"
    good.write_text(ndjson(patient("pat-1", "P0001"), condition("c-1", "pat-1")))
    page.set_input_files("#files", str(good))
    page.click("#clinical-import-form button[type=submit]")
    page.locator("#import-result").wait_for()
    counts = page.locator("#import-counts tbody tr").all_inner_texts()
    assert [c.split("\t") for c in counts] == [["Condition", "1"], ["Patient", "1"]]
    assert bank.existing_participants(db, {"P0001"}) == {"P0001"}
    assert datetime.now(UTC).year >= 2026
