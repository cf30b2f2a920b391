"""Mixed load against `lifebank serve --workers 2` on loopback: requests/s, p50/p99 and errors per kind.

Builds the demo bank (`lifebank.demo.load`: every domain's demo data) on a fresh database, starts the server
with two worker processes, then runs a bounded asyncio client (`--concurrency` requests in flight, for
`--seconds`) over a realistic mix: specimen searches with their exact totals, box maps, HLA searches, allele
frequencies over a region, Beacon variant counts, and page views (dashboard, specimen list) with a browser
session. Afterwards the ledger is verified (the page views and searches write access events where the
domains ledger them). Every request is bounded in time (30 s) and the run in count and time.

    .venv/bin/python benchmarks/load.py [--seconds 120] [--concurrency 16] [--postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from concurrency import _drop_pg_database, _pg_database, start_server

from lifebank.audit import service as audit
from lifebank.auth import service as auth
from lifebank.db import migrate
from lifebank.db.engine import Database

PATIENTS = ["A*02:07+A*33:03^B*46:01+B*58:01^C*01:02+C*03:02^DRB1*09:01+DRB1*03:01^DQB1*03:03+DQB1*02:01",
            "A*11:01+A*24:02^B*40:01+B*46:01^C*07:02+C*01:02^DRB1*15:01+DRB1*09:01^DQB1*06:02+DQB1*03:03",
            "A*01:01+A*02:01^B*08:01+B*44:02^DRB1*03:01+DRB1*04:01"]


def prepare(db_url: str, data_dir: Path) -> str:
    """The demo bank and a bearer token of its administrator."""
    from lifebank.config import get_settings
    from lifebank.demo import DEMO_PASSWORD, load

    os.environ["LIFEBANK_DATA_DIR"] = str(data_dir)  # the omics demo writes its Parquet files there
    get_settings.cache_clear()

    db = Database(db_url)
    try:
        migrate.upgrade(db)
        load(db)
        token = auth.create_token(db, "admin", "load benchmark").token
        assert DEMO_PASSWORD
    finally:
        db.dispose()
    return token


def _raise_beacon_budget(db_url: str) -> None:
    """The Beacon refuses a caller's variant queries past a budget (the defence against re-identification);
    this load measures answering, so the benchmark's one caller gets a budget it cannot exhaust (ledgered)."""
    from lifebank.sharing.beacon import change_settings

    db = Database(db_url)
    try:
        change_settings(db, actor="load-benchmark", budget=10**9)
    finally:
        db.dispose()


async def discover(client: httpx.AsyncClient) -> dict[str, Any]:
    """Real parameters from the demo bank: box paths, specimen types, an omics dataset and its regions."""
    boxes: list[str] = []
    queue = [None]
    while queue and len(boxes) < 40:
        parent = queue.pop(0)
        params = {"parent": parent} if parent else {}
        listing = (await client.get("/api/v1/biobank/containers", params=params)).json()
        for item in listing if isinstance(listing, list) else listing.get("items", []):
            path = item.get("path")
            if item.get("kind") == "box":
                boxes.append(path)
            elif path != parent:
                queue.append(path)
    datasets = (await client.get("/api/v1/omics/datasets")).json()
    dataset = (datasets if isinstance(datasets, list) else datasets.get("items", [])) or [{}]
    beacon = (await client.get("/api/beacon/v2/info")).status_code == 200
    return {"boxes": boxes, "dataset": dataset[0].get("name"), "beacon": beacon}


def _requests(found: dict[str, Any], rng: random.Random) -> list[tuple[str, str, dict[str, Any], bool]]:
    """(kind, path, params, as_browser) drawn in proportion to how often each is asked of a bank."""
    mix: list[tuple[str, str, dict[str, Any], bool]] = []
    for _ in range(200):
        mix.append(("specimen_search", "/api/v1/biobank/specimens",
                    {"type": rng.choice(["SER", "PL1", "DNA", "BLD"]), "limit": 50,
                     "offset": rng.choice([0, 50, 100])}, False))
    for _ in range(80):
        if found["boxes"]:
            mix.append(("box_map", "/api/v1/biobank/box-map", {"path": rng.choice(found["boxes"])}, False))
    for _ in range(80):
        mix.append(("hla_search", "/api/v1/hla/search", {"patient": rng.choice(PATIENTS),
                                                         "max_mismatches": rng.choice([0, 1, 2]), "limit": 20},
                    False))
    if found["dataset"]:
        for _ in range(60):
            start = rng.randrange(10_500_000, 50_000_000, 1000)
            mix.append(("af_query", "/api/v1/omics/af",
                        {"dataset": found["dataset"], "region": f"22:{start}-{start + 100_000}"}, False))
    if found["beacon"]:
        for _ in range(60):
            start = rng.randrange(16_000_000, 50_000_000)
            mix.append(("beacon_count", "/api/beacon/v2/g_variants",
                        {"referenceName": "22", "start": start, "end": start + 50_000, "assemblyId": "GRCh38",
                         "requestedGranularity": "count"}, False))
    for _ in range(40):
        mix.append(("page_view", rng.choice(["/dashboard", "/biobank/specimens", "/hla/search"]), {}, True))
    rng.shuffle(mix)
    return mix


async def run_load(base: str, token: str, seconds: float, concurrency: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    limits = httpx.Limits(max_connections=concurrency + 2, max_keepalive_connections=concurrency + 2)
    api = httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"}, limits=limits, timeout=30)
    browser = httpx.AsyncClient(base_url=base, limits=limits, timeout=30, follow_redirects=False)
    from lifebank.demo import DEMO_PASSWORD

    login_page = await browser.get("/login")
    csrf = browser.cookies.get("lifebank_csrf") or ""
    await browser.post("/login", data={"username": "admin", "password": DEMO_PASSWORD, "csrf_token": csrf,
                                       "next": "/dashboard"})
    assert login_page.status_code == 200
    found = await discover(api)
    mix = _requests(found, rng)
    # Warm-up, untimed: each worker process builds its in-memory indexes (HLA) on first use or in the
    # background as it starts; a user-facing figure is the steady state, so each kind runs a few times first.
    for kind in sorted({m[0] for m in mix}):
        sample = next(m for m in mix if m[0] == kind)
        for _ in range(6):
            await (browser if sample[3] else api).get(sample[1], params=sample[2], timeout=600)
    times: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, list[str]] = defaultdict(list)
    deadline = time.monotonic() + seconds
    counter = 0

    async def worker() -> None:
        nonlocal counter
        while time.monotonic() < deadline:
            kind, path, params, as_browser = mix[counter % len(mix)]
            counter += 1
            client = browser if as_browser else api
            started = time.perf_counter()
            try:
                response = await client.get(path, params=params)
                ok = response.status_code == 200
                detail = f"{response.status_code} {path}"
            except httpx.HTTPError as exc:
                ok, detail = False, f"{type(exc).__name__} {path}"
            times[kind].append(time.perf_counter() - started)
            if not ok:
                errors[kind].append(detail)

    wall = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.perf_counter() - wall
    await api.aclose()
    await browser.aclose()
    return {"wall": wall, "times": times, "errors": errors, "found": found}


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--postgresql", action="store_true")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--reuse", type=Path, help="SQLite only: a folder kept from an earlier run (its data/ "
                                                   "holds the demo bank), to skip loading the demo again")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lifebank-load-") as scratch:
        tmp = str(args.reuse or scratch)
        name, url = _pg_database() if args.postgresql else (None, f"sqlite:///{Path(tmp) / 'data' / 'lifebank.db'}")
        (Path(tmp) / "data").mkdir(parents=True, exist_ok=True)
        try:
            started = time.perf_counter()
            if args.reuse and (Path(tmp) / "data" / "lifebank.db").exists():
                db = Database(url)
                migrate.upgrade(db)  # the kept bank may predate a migration
                token = auth.create_token(db, "admin", "load benchmark").token
                db.dispose()
            else:
                token = prepare(url, Path(tmp) / "data")
            print(f"demo_load: {time.perf_counter() - started:.1f} s")
            _raise_beacon_budget(url)
            server, base = start_server(url, Path(tmp) / "data", args.workers)
            try:
                result = asyncio.run(run_load(base, token, args.seconds, args.concurrency, args.seed))
            finally:
                server.terminate()
                server.wait(timeout=60)
            db = Database(url)
            verified = audit.verify(db)
            db.dispose()
        finally:
            if name:
                _drop_pg_database(name)
    times, errors = result["times"], result["errors"]
    total = sum(len(v) for v in times.values())
    every = [t for v in times.values() for t in v]
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}")
    print(f"database: {'postgresql' if args.postgresql else 'sqlite'}, workers: {args.workers}, "
          f"concurrency: {args.concurrency}, seconds: {result['wall']:.1f}")
    print(f"requests: {total}")
    print(f"requests_per_s: {total / result['wall']:.1f}")
    print(f"p50: {_pct(every, 0.5):.1f} ms")
    print(f"p99: {_pct(every, 0.99):.1f} ms")
    print(f"errors: {sum(len(v) for v in errors.values())}")
    for kind in sorted(times):
        values = times[kind]
        print(f"{kind}: {len(values)} requests, p50 {_pct(values, 0.5):.1f} ms, p99 {_pct(values, 0.99):.1f} ms, "
              f"mean {statistics.fmean(values) * 1000:.1f} ms, errors {len(errors.get(kind, []))}")
    for kind, details in sorted(errors.items()):
        print(f"  {kind} errors, first: {details[:3]}")
    print(f"ledger_verified: {verified.ok} ({verified.checked} events)")
    sys.exit(0 if verified.ok and not any(errors.values()) else 1)


if __name__ == "__main__":
    main()
