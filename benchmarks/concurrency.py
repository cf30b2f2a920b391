"""Concurrent reservations and allocations over HTTP against a multi-worker server: no tube is taken twice.

Starts `lifebank serve --workers 2` on a fresh database, imports a pool of specimens, then fires many attempts
at once from a bounded asyncio client, on one of two paths:

`--path reservation` (biobank): each attempt reserves 1-3 random tubes of a small pool, so most collide.
Afterwards, in the database: no specimen has two open reservations; every tube an accepted attempt (201)
asked for is reserved and every reserved tube belongs to exactly one accepted attempt (a refused attempt, 409,
left nothing behind); no 5xx; the ledger verifies with exactly one `specimen.reserve` event per accepted attempt.

`--path allocation` (access fulfilment): many approved requests (agreement signed, GRU, serum, each wanting
3-12 tubes, one per participant, some allowing a participant's last tube) compete for one pool of tubes; each
attempt allocates one of them (`POST /api/v1/access/requests/{id}/allocation`), several attempts per request.
Afterwards: no tube is in two requests' active allocations or has two open reservations; every allocated tube
is reserved for its own request and every reserved tube is allocated; each request was allocated at most once
(one 200), is `in_fulfilment` exactly if it was, and a refused attempt (409/422) left no row; no 5xx; the
ledger verifies with one `access.allocation` event per accepted attempt.

    .venv/bin/python benchmarks/concurrency.py [--path reservation|allocation] [--attempts 1000]
        [--concurrency 64] [--pool 200] [--requests 150] [--sqlite]

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
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from lifebank import auth as auth_domain
from lifebank.access import service as access
from lifebank.audit import service as audit
from lifebank.auth import service as auth
from lifebank.biobank import imports
from lifebank.db import migrate
from lifebank.db.engine import Database

POSTGRES_URL = os.environ.get("LIFEBANK_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
PASSWORD = "Concurrency-check-2026"
CLIENT_TIMEOUT = 300  # s: the run checks what is written, not latency; at load 30 an answer may take >60 s


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
    deadline = time.monotonic() + 300  # a loaded machine: uvicorn restarts workers slower than 5 s to import
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


async def _fire(base: str, token: str, plans: list, concurrency: int,
                post: Callable[[httpx.AsyncClient, Any], Awaitable[httpx.Response]]
                ) -> tuple[list[tuple[Any, int]], dict[str, object]]:
    """Send every plan (`post(client, plan)` makes its request), `concurrency` in flight: (plan, status) each,
    and figures: how many were refused because a tube they had chosen was reserved meanwhile (they lost a race),
    the latencies, and the transport errors by type (a request with no answer within the client's timeout)."""
    gate = asyncio.Semaphore(concurrency)
    taken: list[Any] = []
    latencies: list[float] = []
    failures: list[str] = []
    # An idle connection is reused for at most 2 s: uvicorn closes one idle for 5 s, and a POST sent on a connection
    # the server is closing at that moment fails with no answer (a client may not resend a POST it cannot know
    # was not received), as a reverse proxy's upstream keep-alive is set below the backend's.
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency, keepalive_expiry=2.0)
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"}, limits=limits,
                                 timeout=CLIENT_TIMEOUT) as client:
        async def one(plan: Any) -> tuple[Any, int]:
            async with gate:
                started = time.perf_counter()
                try:
                    response = await post(client, plan)
                except httpx.TransportError as exc:  # no answer (dropped, or over the client's timeout): status 0
                    failures.append(f"{type(exc).__name__} after {time.perf_counter() - started:.1f} s")
                    return plan, 0
                finally:
                    latencies.append(time.perf_counter() - started)
                if response.status_code == 409 and "cannot be reserved" in response.text:
                    taken.append(plan)  # lost the race: a tube it had chosen was reserved meanwhile
                return plan, response.status_code

        outcomes = await asyncio.wait_for(asyncio.gather(*(one(p) for p in plans)), timeout=1200)
    latencies.sort()
    return list(outcomes), {"refused_lost_race_409": len(taken), "no_answer": dict(Counter(failures)),
                            "latency_p50_s": round(latencies[len(latencies) // 2], 2),
                            "latency_p99_s": round(latencies[int(len(latencies) * 0.99)], 2),
                            "latency_max_s": round(latencies[-1], 2)}


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
        "server_errors": sum(n for s, n in statuses.items() if s >= 500 or s == 0),
        "ledger_ok": verified.ok,
        "ledger_reserve_events": reserve_events,
        "accepted": len(won),
    }


def prepare_requests(db_url: str, pool: int, requests: int, rng: random.Random) -> tuple[list[int], str]:
    """Migrate, import `pool` serum tubes (four per GRU participant) and `requests` access requests brought to
    `agreement_signed` (each 3-12 tubes, one per participant); return their ids and a manager's bearer token."""
    db = Database(db_url)
    try:
        migrate.upgrade(db)
        donors = max(1, pool // 4)
        people = "participant,sex,birth_year,site,consent_codes,consent_date\n" + "".join(
            f"P{i:06d},{'FM'[i % 2]},{1960 + i % 40},SH,DUO:0000042,2024-01-02\n" for i in range(1, donors + 1))
        imports.import_participants(db, people.encode(), actor="bench")
        tubes = "barcode,participant,type,quantity,unit,collected_at,parent_barcode,sprec,location\n" + "".join(
            f"A{i:08d},P{1 + i % donors:06d},SER,1.0,mL,2024-03-01T08:00:00Z,,,\n" for i in range(pool))
        imports.import_specimens(db, tubes.encode(), actor="bench")
        auth_domain.create_organisation(db, "LifeBank", country="CN", kind="bank", actor="bench")
        auth_domain.create_organisation(db, "Hospital A", country="CN", kind="hospital", actor="bench")
        auth.create_user(db, "racer", PASSWORD, ["biobank_manager"], organisation="LifeBank")
        auth.create_user(db, "reviewer", PASSWORD, ["biobank_manager"], organisation="LifeBank")
        manager, reviewer = (auth.principal_of(auth.get_user(db, name)) for name in ("racer", "reviewer"))
        ids = []
        for i in range(requests):
            draft = access.RequestDraft(title=f"Race {i}", organisation="Hospital A", purposes=["GRU"],
                                        items=[access.Item("SER", 1, total=rng.randint(3, 12))])
            request_id = access.create_request(db, draft, principal=manager)
            access.appoint_committee(db, request_id, ["reviewer"], principal=manager)
            access.cast_vote(db, request_id, "approve", principal=reviewer)
            access.add_document(db, request_id, kind="agreement", filename="mta.pdf", content=b"%PDF-1.4",
                                content_type="application/pdf", principal=manager)
            access.sign_agreement(db, request_id, principal=manager)
            ids.append(request_id)
        token = auth.create_token(db, "racer", "concurrency").token
    finally:
        db.dispose()
    return ids, token


def check_allocations(db_url: str, outcomes: list[tuple[object, int]]) -> dict[str, object]:
    """The allocation invariants, read from the database the server wrote."""
    db = Database(db_url)
    try:
        with db.engine.connect() as conn:
            active = conn.execute(text("SELECT request_id, barcode FROM ar_allocation "
                                       "WHERE state IN ('allocated', 'picked')")).all()
            rows_per_request = Counter(r[0] for r in conn.execute(text("SELECT request_id FROM ar_allocation")))
            open_reservations = conn.execute(text(
                "SELECT s.barcode, r.purpose FROM bb_specimen s JOIN bb_reservation r ON r.specimen_id = s.id "
                "WHERE r.released_at IS NULL")).all()
            reserved = {row[0] for row in conn.execute(
                text("SELECT barcode FROM bb_specimen WHERE status = 'reserved'"))}
            states = dict(conn.execute(text("SELECT id, state FROM ar_request")).all())
            events = conn.execute(text(
                "SELECT count(*) FROM ledger_event WHERE action = 'access.allocation'")).scalar_one()
        verified = audit.verify(db)
    finally:
        db.dispose()
    statuses = Counter(status for _, status in outcomes)
    wins = Counter(plan[0] for plan, status in outcomes if status == 200)  # type: ignore[index]
    holders = Counter(barcode for _, barcode in active)
    reservation_of = Counter(barcode for barcode, _ in open_reservations)
    purpose = {barcode: p for barcode, p in open_reservations}
    return {
        "attempts": len(outcomes),
        "statuses": dict(sorted(statuses.items())),
        "requests_allocated": len(wins),
        "tubes_allocated": len(active),
        "double_allocations": sum(1 for n in holders.values() if n > 1)
        + sum(1 for n in reservation_of.values() if n > 1),
        "requests_allocated_twice": sum(1 for n in wins.values() if n > 1),
        "allocated_not_reserved_for_its_request": sum(
            1 for request_id, barcode in active if purpose.get(barcode) != f"AR-{request_id:06d}"),
        "reserved_not_allocated": len(reserved - set(holders)),
        "state_mismatches": sum(1 for request_id, state in states.items()
                                if (state == "in_fulfilment") != (request_id in wins)),
        "refused_with_rows": sum(1 for request_id, n in rows_per_request.items() if n and request_id not in wins),
        "server_errors": sum(n for s, n in statuses.items() if s >= 500 or s == 0),
        "ledger_ok": verified.ok,
        "ledger_allocation_events": events,
        "accepted": sum(wins.values()),
    }


def holds(path: str, report: dict[str, object]) -> bool:
    if path == "reservation":
        return (report["double_allocations"] == 0 and report["server_errors"] == 0 and bool(report["ledger_ok"])
                and report["ledger_reserve_events"] == report["accepted"]
                and report["reserved_without_winner"] == 0 and report["winner_tube_not_reserved"] == 0)
    return (report["double_allocations"] == 0 and report["server_errors"] == 0 and bool(report["ledger_ok"])
            and report["ledger_allocation_events"] == report["accepted"] == report["requests_allocated"]
            and report["requests_allocated_twice"] == 0 and report["allocated_not_reserved_for_its_request"] == 0
            and report["reserved_not_allocated"] == 0 and report["state_mismatches"] == 0
            and report["refused_with_rows"] == 0 and set(report["statuses"]) <= {200, 409, 422})  # type: ignore[arg-type]


def _reserve(client: httpx.AsyncClient, plan: list[str]) -> Awaitable[httpx.Response]:
    return client.post("/api/v1/biobank/reservations", json={"barcodes": plan, "purpose": "race"})


def _allocate(client: httpx.AsyncClient, plan: tuple[int, bool]) -> Awaitable[httpx.Response]:
    return client.post(f"/api/v1/access/requests/{plan[0]}/allocation", json={"allow_last_aliquot": plan[1]})


def run(db_url: str, data_dir: Path, *, path: str, attempts: int, concurrency: int, pool: int, requests: int,
        seed: int = 7, workers: int = 2) -> dict[str, object]:
    rng = random.Random(seed)
    if path == "reservation":
        barcodes, token = prepare_bank(db_url, pool)
        plans: list = [rng.sample(barcodes, rng.randint(1, 3)) for _ in range(attempts)]
    else:
        ids, token = prepare_requests(db_url, pool, requests, rng)
        plans = [(rng.choice(ids), rng.random() < 0.3) for _ in range(attempts)]
    server, base = start_server(db_url, data_dir, workers)
    try:
        started = time.perf_counter()
        cpu = time.process_time()
        outcomes, figures = asyncio.run(_fire(base, token, plans, concurrency,
                                           _reserve if path == "reservation" else _allocate))
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
    report = check(db_url, outcomes) if path == "reservation" else check_allocations(db_url, outcomes)
    report.update(figures)
    log = (data_dir.parent / "server.log").read_text(errors="replace")
    report["worker_restarts"] = log.count('died"')
    report["seconds"] = round(elapsed, 2)
    report["client_cpu_seconds"] = round(cpu, 2)
    report["requests_per_s"] = round(attempts / elapsed, 1)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", choices=("reservation", "allocation"), default="reservation")
    parser.add_argument("--attempts", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--pool", type=int, default=200)
    parser.add_argument("--requests", type=int, default=150, help="approved requests competing (allocation)")
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
            report = run(url, Path(tmp) / "data", path=args.path, attempts=args.attempts,
                         concurrency=args.concurrency, pool=args.pool, requests=args.requests, workers=args.workers)
        finally:
            if name:
                _drop_pg_database(name)
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}")
    print(f"path: {args.path}, database: {'sqlite' if args.sqlite else 'postgresql'}, workers: {args.workers}")
    for key, value in report.items():
        print(f"{key}: {json.dumps(value)}")
    ok = holds(args.path, report)
    print("invariants: " + ("hold" if ok else "BROKEN"))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
