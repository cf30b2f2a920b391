"""The dashboard on the 10 M-specimen bank of `benchmarks/biobank_scale.py` (issue 9: loads in <= 300 ms).

Build the bank first (it is kept in /tmp), then time the dashboard:

    .venv/bin/python benchmarks/biobank_scale.py --specimens 10000000 --skip-raw
    .venv/bin/python benchmarks/dashboard.py --db /tmp/lifebank_biobank_bench.db

What is timed, one `name: value unit` per line:
- the snapshot: every aggregate the dashboard shows, computed once (what the background refresh costs);
- `GET /dashboard` through the real ASGI app for a biobank manager (every panel), with the snapshot taken,
  p50/p95 over --repeat requests, and the first request after a restart (no snapshot yet: the page answers at
  once and says the figures are being counted);
- the peer: the straightforward design, computing the same aggregates with plain SQL on every request
  (Python's sqlite3, the same GROUP BY queries, one connection, warm cache) — the dashboard's ratio to it.
"""

from __future__ import annotations

import argparse
import os
import re
import sqlite3
import statistics as stats
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from lifebank.auth import service as auth
from lifebank.biobank import statistics
from lifebank.config import Settings
from lifebank.db.engine import Database
from lifebank.web.app import create_app

PASSWORD = "Bench-dashboard-2026"
PEER_SQL = [
    "SELECT type, status, count(*) FROM bb_specimen GROUP BY type, status",
    "SELECT c.path, c.capacity, (SELECT count(*) FROM bb_specimen s WHERE s.container_id = c.id) "
    "FROM bb_container c WHERE c.capacity > 0",
    "SELECT substr(collected_at, 1, 7) AS m, count(*) FROM bb_specimen WHERE collected_at >= ? GROUP BY m",
    "SELECT count(*) FROM bb_participant",
    "SELECT count(DISTINCT participant_id) FROM bb_consent WHERE withdrawn_at IS NULL",
    "SELECT count(DISTINCT participant_id) FROM bb_consent",
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def login(client: TestClient, username: str) -> None:
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)  # type: ignore[union-attr]
    answer = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token},
                         follow_redirects=False)
    assert answer.status_code == 303, answer.text[:300]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", default="/tmp/lifebank_biobank_bench.db", help="the bank biobank_scale.py built")
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    path = Path(args.db)
    if not path.exists():
        raise SystemExit(f"{path} does not exist: build it with benchmarks/biobank_scale.py (see --help)")
    print(f"machine: {os.cpu_count()} cores; load average at start: {os.getloadavg()}")
    url = f"sqlite:///{path}"
    db = Database(url)
    try:
        auth.create_user(db, "bench_manager", PASSWORD, ["biobank_manager"])
    except Exception:  # kept from an earlier run
        pass
    with db.session() as session:
        from sqlalchemy import text

        specimens = session.scalar(text("SELECT count(*) FROM bb_specimen"))
    print(f"specimens: {specimens:,}")

    started = time.perf_counter()
    statistics.refresh(db)
    snapshot_s = time.perf_counter() - started
    print(f"snapshot (all aggregates, background refresh every {statistics.MAX_AGE:.0f} s): {snapshot_s * 1000:.0f} ms")

    settings = Settings(data_dir=Path("/tmp/lifebank_dashboard_bench"), database_url=url,
                        secret_key="bench-secret-key-0123456789")
    with TestClient(create_app(settings, db)) as client:
        login(client, "bench_manager")
        statistics._cache.snapshots.clear()  # a restart: no snapshot yet
        started = time.perf_counter()
        first = client.get("/dashboard")
        first_ms = (time.perf_counter() - started) * 1000
        assert first.status_code == 200
        print(f"first GET /dashboard after a restart (figures still being counted): {first_ms:.0f} ms")
        while statistics._cache.running:
            time.sleep(0.1)
        statistics.refresh(db)
        times = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            answer = client.get("/dashboard")
            times.append((time.perf_counter() - started) * 1000)
            assert answer.status_code == 200 and 'id="panel-storage"' in answer.text
    p50, p95 = stats.median(times), percentile(times, 0.95)
    print(f"GET /dashboard, all panels, snapshot taken: p50 {p50:.1f} ms, p95 {p95:.1f} ms (target <= 300 ms)")

    peer = sqlite3.connect(path)
    peer_times = []
    months = statistics._months_back(datetime.now(UTC), statistics.MONTHS)  # the snapshot's own window
    cutoff = (datetime(int(months[0][:4]), int(months[0][5:]), 1) - timedelta(days=1)).strftime("%Y-%m-%d")
    for _ in range(3):
        started = time.perf_counter()
        for sql in PEER_SQL:
            peer.execute(sql, (cutoff,) if "?" in sql else ()).fetchall()
        peer_times.append((time.perf_counter() - started) * 1000)
    peer_ms = stats.median(peer_times)
    print("peer: the same aggregates as plain SQL on every request (python sqlite3, warm):")
    for sql in PEER_SQL:
        print(f"  {sql}")
    print(f"peer per request: {peer_ms:.0f} ms -> LifeBank p95 is {peer_ms / p95:.0f}x faster")
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
