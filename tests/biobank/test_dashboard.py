"""The dashboard: each role sees its panels, the figures equal the bank's own counts, charts are SVG."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlalchemy import func, select

from lifebank.auth import service as auth
from lifebank.biobank import imports, service, statistics
from lifebank.biobank.models import Specimen
from lifebank.web.charts import Bar, bar_chart, column_chart

from .biobank_fixtures import ACTOR, add_participant, build_storage, participants_csv

PASSWORD = "Correct-horse-battery-9"


def _login(client, username: str) -> None:
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    answer = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token},
                         follow_redirects=False)
    assert answer.status_code == 303


def _pos(box: str, i: int) -> str:
    return f"{box}/{'ABCDEFGHI'[i // 9]}{i % 9 + 1}"


def _small_bank(db) -> None:
    build_storage(db)
    imports.import_participants(db, participants_csv(20), actor=ACTOR)
    add_participant(db, "P000900")
    service.withdraw_consent(db, "P000900", reason="moved away", actor=ACTOR)
    for i in range(30):
        service.register_specimen(db, None, participant=f"P{1 + i % 20:06d}", type="SER" if i % 3 else "PL1",
                                  quantity=1.0, collected_at=datetime(2026, 1 + i % 10, 5, tzinfo=UTC),
                                  location=_pos("FRZ-01/R01/BOX-1", i) if i < 20 else None, actor=ACTOR)
    service.change_status(db, service.search_specimens(db, service.SpecimenFilter(), limit=1)[1][0]["barcode"],
                          "reserved", actor=ACTOR)


def test_snapshot_equals_the_banks_own_counts(db) -> None:
    _small_bank(db)
    snapshot = statistics.refresh(db)
    with db.session() as session:
        total = session.scalar(select(func.count()).select_from(Specimen))
        by_status = dict(session.execute(select(Specimen.status, func.count()).group_by(Specimen.status)).all())
    assert snapshot.specimens == total == 30
    assert snapshot.by_status() == by_status
    assert snapshot.by_type() == {"SER": 20, "PL1": 10}
    freezer = next(u for u in snapshot.storage if u.path == "FRZ-01")
    assert (freezer.used, freezer.capacity) == (20, 162)
    tank = next(u for u in snapshot.storage if u.path == "TANK-01")
    assert (tank.used, tank.capacity) == (0, 100)
    assert snapshot.participants == 21
    assert snapshot.consent == {"in_force": 20, "withdrawn": 1, "none": 0}
    months = dict(snapshot.collections_by_month)
    assert len(months) == statistics.MONTHS
    assert sum(months.get(f"2026-{m:02d}", 0) for m in range(1, 11)) == 30


def test_each_role_sees_its_panels_in_its_language(client, db) -> None:
    _small_bank(db)
    statistics.refresh(db)
    auth.create_user(db, "mgr", PASSWORD, ["biobank_manager"])
    auth.create_user(db, "partner1", PASSWORD, ["partner"], locale="zh_Hans")
    _login(client, "mgr")
    page = client.get("/dashboard")
    assert page.status_code == 200
    for panel in ("specimens", "collections", "storage", "consent", "recent-imports", "recent-events"):
        assert f'id="panel-{panel}"' in page.text, panel
    assert page.text.count("<svg class=\"chart\"") >= 5
    assert "Available" in page.text and "available<" not in page.text  # statuses by label, not code
    assert "Figures as of" in page.text
    client.cookies.clear()
    _login(client, "partner1")
    client.post("/language", data={"language": "zh_Hans", "csrf_token": re.search(
        r'name="csrf_token" value="([^"]+)"', client.get("/dashboard").text).group(1)})
    page = client.get("/dashboard")
    assert 'id="panel-storage"' not in page.text and 'id="panel-consent"' not in page.text
    assert 'id="panel-recent-events"' not in page.text
    assert "样本" in page.text


def test_a_storage_unit_at_90_percent_is_a_warning(client, db) -> None:
    build_storage(db)
    add_participant(db, "P000001")
    barcodes = [service.register_specimen(db, None, participant="P000001", type="SER", quantity=1.0,
                                          location=_pos("FRZ-01/R01/BOX-1", i) if i < 81
                                          else _pos("FRZ-01/R01/BOX-2", i - 81),
                                          actor=ACTOR) for i in range(150)]
    assert len(barcodes) == 150
    statistics.refresh(db)
    auth.create_user(db, "tech", PASSWORD, ["technician"])
    _login(client, "tech")
    page = client.get("/dashboard").text
    assert "FRZ-01 is 93 % full." in page
    assert 'class="bar warn"' in page


def test_charts_escape_labels_and_scale_to_the_longest_bar() -> None:
    svg = str(bar_chart("t", [Bar("<script>", 10), Bar("b", 5)]))
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    widths = [float(w) for w in re.findall(r'width="([\d.]+)" height="\d+" class="bar"', svg)]
    assert widths[0] == 2 * widths[1]
    assert str(bar_chart("t", [])) == "" and str(column_chart("t", [])) == ""
