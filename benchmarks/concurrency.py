"""Concurrent reservations over HTTP against a multi-worker server: no tube is ever reserved twice.

Starts `lifebank serve --workers 2` on a fresh database, imports a pool of specimens, then fires many
reservation attempts at once (each for 1-3 random tubes of a small pool, so most attempts collide) from a
bounded asyncio client. Afterwards it checks, in the database itself:

- no specimen has two open reservations, and every reserved specimen has exactly one;
- every tube an accepted attempt (201) asked for is reserved, and every reserved tube belongs to exactly one
  accepted attempt: a refused attempt (409) left nothing behind (all-or-nothing); no attempt got a 5xx;
- the ledger verifies, and it holds exactly one `specimen.reserve` event per accepted attempt.

    .venv/bin/python benchmarks/concurrency.py [--attempts 1000] [--concurrency 64] [--pool 200] [--sqlite]

PostgreSQL by default (LIFEBANK_TEST_POSTGRES_URL names the server; a database is created and dropped).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from lifebank.audit import service as audit
from lifebank.auth import service as auth
from lifebank.biobank import imports
from lifebank.db import migrate
from lifebank.db.engine import Database

POSTGRES_URL = os.environ.get("LIFEBANK_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
PASSWORD = "Concurrency-check-2026"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _pg_database() -> tuple[str, str]:
    name = f"lbconc_{uuid.uuid4().hex[:10]}"
    admin = create_engine(make_url(POSTGRES_URL).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return name, make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)


def _drop_pg_database(name: str) -> None:
    admin = create_engine(make_url(POSTGRES_URL).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def prepare_bank(db_url: str, pool: int) -> tuple[list[str], str]:
    """Migrate, import `pool` available tubes and create a manager; return the barcodes and a bearer token."""
    db = Database(db_url)
    try:
        migrate.upgrade(db)
        people = "participant,sex,birth_year,site,consent_codes,consent_date\n" + "".join(
            f"P{i:06d},{'FM'[i % 2]},{1960 + i % 40},SH,DUO:0000042,2024-01-02\n" for i in range(1, 51))
        imports.import_participants(db, people.encode(), actor="bench")
        barcodes = [f"C{i:08d}" for i in range(pool)]
        tubes = "barcode,participant,type,quantity,unit,collected_at,parent_barcode,sprec,location\n" + "".join(
            f"{b},P{1 + i % 50:06d},SER,1.0,mL,2024-03-01T08:00:00Z,,,\n" for i, b in enumerate(barcodes))
        imports.import_specimens(db, tubes.encode(), actor="bench")
        auth.create_user(db, "racer", PASSWORD, ["biobank_manager"])
        token = auth.create_token(db, "racer", "concurrency").token
    finally:
        db.dispose()
    return barcodes, token


def start_server(db_url: str, data_dir: Path, workers: int = 2) -> tuple[subprocess.Popen[str], str]:
    port = _free_port()
    env = {**os.environ, "LIFEBANK_DATABASE_URL": db_url, "LIFEBANK_DATA_DIR": str(data_dir),
           "LIFEBANK_SECRET_KEY": "c" * 48}
    command = [sys.executable, "-m", "lifebank", "serve", "--workers", str(workers), "--port", str(port)]
    data_dir.mkdir(parents=True, exist_ok=True)
    log = (data_dir.parent / "server.log").open("w")  # JSON lines; read back when something fails
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=log, text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return server, base
        except httpx.TransportError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            raise RuntimeError("server did not become ready: " + (data_dir.parent / "server.log").read_text()[-3000:])
        time.sleep(0.3)


async def _fire(base: str, token: str, barcodes: list[str], attempts: int, concurrency: int,
                seed: int) -> list[tuple[list[str], int]]:
    rng = random.Random(seed)
    plans = [rng.sample(barcodes, rng.randint(1, 3)) for _ in range(attempts)]
    gate = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"}, limits=limits,
                                 timeout=60) as client:
        async def one(plan: list[str]) -> tuple[list[str], int]:
            async with gate:
                response = await client.post("/api/v1/biobank/reservations",
                                             json={"barcodes": plan, "purpose": "race"})
                return plan, response.status_code

        return await asyncio.wait_for(asyncio.gather(*(one(p) for p in plans)), timeout=600)


def check(db_url: str, outcomes: list[tuple[list[str], int]]) -> dict[str, object]:
    """The invariants, read from the database the server wrote."""
    db = Database(db_url)
    try:
        with db.engine.connect() as conn:
            open_per_tube = dict(conn.execute(text(
                "SELECT s.barcode, count(r.id) FROM bb_specimen s JOIN bb_reservation r ON r.specimen_id = s.id "
                "WHERE r.released_at IS NULL GROUP BY s.barcode")).all())
            reserved = {row[0] for row in conn.execute(
                text("SELECT barcode FROM bb_specimen WHERE status = 'reserved'"))}
            reserve_events = conn.execute(text(
                "SELECT count(*) FROM ledger_event WHERE action = 'specimen.reserve'")).scalar_one()
        verified = audit.verify(db)
    finally:
        db.dispose()
    statuses = Counter(status for _, status in outcomes)
    won = [plan for plan, status in outcomes if status == 201]
    held_by_winners = Counter(b for plan in won for b in plan)
    return {
        "attempts": len(outcomes),
        "statuses": dict(sorted(statuses.items())),
        "double_allocations": sum(1 for n in held_by_winners.values() if n > 1)
        + sum(1 for n in open_per_tube.values() if n > 1),
        "reserved_without_winner": len(reserved - set(held_by_winners)),
        "winner_tube_not_reserved": len(set(held_by_winners) - reserved),
        "server_errors": sum(n for s, n in statuses.items() if s >= 500),
        "ledger_ok": verified.ok,
        "ledger_reserve_events": reserve_events,
        "accepted": len(won),
    }


def run(db_url: str, data_dir: Path, *, attempts: int, concurrency: int, pool: int, seed: int = 7,
        workers: int = 2) -> dict[str, object]:
    barcodes, token = prepare_bank(db_url, pool)
    server, base = start_server(db_url, data_dir, workers)
    try:
        started = time.perf_counter()
        outcomes = asyncio.run(_fire(base, token, barcodes, attempts, concurrency, seed))
        elapsed = time.perf_counter() - started
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
    report = check(db_url, outcomes)
    report["seconds"] = round(elapsed, 2)
    report["requests_per_s"] = round(attempts / elapsed, 1)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attempts", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--pool", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--sqlite", action="store_true", help="the embedded database instead of PostgreSQL")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print(f"server log: {Path(tmp) / 'server.log'} (kept while running)")
        if args.sqlite:
            name, url = None, f"sqlite:///{Path(tmp) / 'lifebank.db'}"
        else:
            name, url = _pg_database()
        try:
            report = run(url, Path(tmp) / "data", attempts=args.attempts, concurrency=args.concurrency,
                         pool=args.pool, workers=args.workers)
        finally:
            if name:
                _drop_pg_database(name)
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}")
    print(f"database: {'sqlite' if args.sqlite else 'postgresql'}, workers: {args.workers}")
    for key, value in report.items():
        print(f"{key}: {json.dumps(value)}")
    ok = (report["double_allocations"] == 0 and report["server_errors"] == 0 and report["ledger_ok"]
          and report["ledger_reserve_events"] == report["accepted"] and report["reserved_without_winner"] == 0
          and report["winner_tube_not_reserved"] == 0)
    print("invariants: " + ("hold" if ok else "BROKEN"))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
