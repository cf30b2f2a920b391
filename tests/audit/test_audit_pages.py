"""The audit log over real HTTP: filters in the reader's time zone, page counts, event detail, exports."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text

from lifebank.audit import service as audit
from lifebank.auth import service as auth
from lifebank.errors import ValidationFailed

PASSWORD = "Correct-horse-battery-9"


def _login(client, username: str) -> str:
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    assert client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token},
                       follow_redirects=False).status_code == 303
    return token


def _things(db, n: int, actor: str = "tester") -> None:
    with db.transaction() as session:
        for i in range(n):
            audit.record(session, actor=actor, action="thing.update", entity_type="thing", entity_id=i,
                         change={"value": i, "名称": "样本"})


def test_local_days_become_utc_instants_of_the_readers_zone() -> None:
    where = audit.EventFilter.from_local_dates(ZoneInfo("Asia/Shanghai"), start=date(2026, 11, 30),
                                               end=date(2026, 11, 30), actor=" ada ")
    assert where.since == datetime(2026, 11, 29, 16, tzinfo=UTC)
    assert where.until == datetime(2026, 11, 30, 16, tzinfo=UTC)
    assert where.actor == "ada" and where.action is None
    with pytest.raises(ValidationFailed, match=r"ends \(2026-11-01\) before it starts \(2026-11-30\)"):
        audit.EventFilter.from_local_dates(ZoneInfo("UTC"), start=date(2026, 11, 30), end=date(2026, 11, 1))


@given(st.sampled_from(["Asia/Shanghai", "Europe/London", "America/New_York", "Australia/Lord_Howe", "UTC"]),
       st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31)), st.integers(min_value=0, max_value=40))
def test_a_local_day_range_covers_exactly_those_days(zone_name: str, start: date, extra_days: int) -> None:
    """Whole local days, DST included: the range starts at local midnight and lasts 23 to 25 h per day."""
    zone = ZoneInfo(zone_name)
    end = start + timedelta(days=extra_days)
    where = audit.EventFilter.from_local_dates(zone, start=start, end=end)
    assert where.since is not None and where.until is not None
    assert where.since.astimezone(zone).date() == start and where.since.astimezone(zone).hour == 0
    assert where.until.astimezone(zone).date() == end + timedelta(days=1)
    hours = (where.until - where.since).total_seconds() / 3600
    days = extra_days + 1
    assert days * 24 - 2 <= hours <= days * 24 + 2


def test_filters_page_counts_and_labels(client, db) -> None:
    auth.create_user(db, "olga", PASSWORD, ["admin"])
    _things(db, 120)
    _login(client, "olga")
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    page = client.get("/audit", params={"actor": "tester", "page": 2})
    assert page.status_code == 200
    assert "120 events" in page.text and "page 2 of 3" in page.text
    assert page.text.count('href="/audit/events/') == 2 * 50
    first = client.get("/audit", params={"action": "user.create"}).text
    assert "1 event<" in first and "User created" in first and "page 1 of 1" in first
    days = client.get("/audit", params={"date_from": today.isoformat(), "date_to": today.isoformat(),
                                        "actor": "tester"}).text
    assert "120 events" in days
    yesterday = (today - timedelta(days=1)).isoformat()
    none = client.get("/audit", params={"date_to": yesterday})
    assert "0 events" in none.text and "No events match these filters." in none.text
    assert "<th>#</th>" in none.text  # the header stays
    backwards = client.get("/audit", params={"date_from": today.isoformat(), "date_to": yesterday})
    assert backwards.status_code == 422 and "before it starts" in backwards.text
    not_a_day = client.get("/audit", params={"date_from": "30/11/2026"})
    assert not_a_day.status_code == 422 and "is not a date" in not_a_day.text
    thing = client.get("/audit", params={"entity_type": "thing", "entity_id": "7"}).text
    assert "1 event<" in thing
    export = re.search(r'id="export-csv" href="([^"]+)"', thing).group(1).replace("&amp;", "&")
    assert "entity_type=thing" in export and "entity_id=7" in export


def test_chinese_reader_sees_labels_and_local_times(client, db) -> None:
    auth.create_user(db, "ling", PASSWORD, ["admin"], locale="zh_Hans")
    user = auth.get_user(db, "ling")
    auth.set_preferences(db, user.id, locale="zh_Hans", time_zone="Europe/London")
    _login(client, "ling")
    client.cookies.set("lifebank_lang", "zh_Hans")
    page = client.get("/audit").text
    assert "创建用户" in page and "第 1 页，共 1 页" in page and "Europe/London" in page
    created = audit.list_events(db, action=None, entity_id="ling")[1][-1]
    london = created.occurred_at.astimezone(ZoneInfo("Europe/London")).strftime("%Y-%m-%d %H:%M:%S")
    assert london in page


def test_event_detail_shows_the_change_and_proves_it(client, db) -> None:
    auth.create_user(db, "olga", PASSWORD, ["admin"])
    _things(db, 1)
    _login(client, "olga")
    seq = audit.list_events(db, entity_type="thing")[1][0].seq
    page = client.get(f"/audit/events/{seq}")
    assert page.status_code == 200
    assert "The change matches its digest in the chain." in page.text and "样本" in page.text
    api = client.get(f"/api/v1/audit/events/{seq}").json()
    assert api["change"] == {"value": 0, "名称": "样本"} and api["change_matches_digest"] is True
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE ledger_change SET change_json = :j WHERE seq = :s"), {"j": '{"value":1}', "s": seq})
    assert "does not match its digest" in client.get(f"/audit/events/{seq}").text
    assert client.get("/audit/events/999999").status_code == 404


def test_exports_carry_the_filters_and_stream_every_row(client, db) -> None:
    from openpyxl import load_workbook

    auth.create_user(db, "olga", PASSWORD, ["admin"])
    _things(db, 75)
    _things(db, 5, actor="other")
    _login(client, "olga")
    response = client.get("/api/v1/audit/events/export", params={"format": "csv", "actor": "tester"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][:5] == ["#", "Time (Asia/Shanghai)", "Actor", "Action code", "Action"]
    assert len(rows) == 1 + 75 and {r[2] for r in rows[1:]} == {"tester"}
    assert '"名称":"样本"' in rows[1][7]
    empty = client.get("/api/v1/audit/events/export", params={"format": "csv", "actor": "nobody"})
    assert len(list(csv.reader(io.StringIO(empty.content.decode("utf-8-sig"))))) == 1  # the header alone
    xlsx = client.get("/api/v1/audit/events/export", params={"format": "xlsx", "action": "user.create"},
                      headers={"Accept-Language": "zh-CN"})
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    values = list(sheet.values)
    assert values[0][4] == "操作" and values[1][3] == "user.create" and values[1][4] == "创建用户"
    assert len(values) == 2
    bad = client.get("/api/v1/audit/events/export", params={"format": "pdf"})
    assert bad.status_code == 422 and "pdf" in bad.json()["detail"]


def test_audit_api_filters_by_action_and_local_dates(client, db, users) -> None:
    headers = users.headers("biobank_manager")
    _things(db, 3)
    listed = client.get("/api/v1/audit/events", params={"action": "thing.update"}, headers=headers).json()
    assert listed["total"] == 3
    future = (datetime.now(UTC) + timedelta(days=3)).date().isoformat()
    assert client.get("/api/v1/audit/events", params={"date_from": future}, headers=headers).json()["total"] == 0
    tech = users.headers("technician")
    assert client.get("/api/v1/audit/events/export", headers=tech).status_code == 403
