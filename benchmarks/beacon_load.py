"""Beacon v2 under load: a bounded asyncio/httpx client against `lifebank serve` on loopback.

Builds (or reuses, `--workdir`) a store of `--samples` simulated genomes × about `--sites` chr22 sites (msprime,
the simulation of `benchmarks/omics_vs_bcftools.py`), links every sample to a biobank participant (random sex,
GRU or HMB consent, one blood tube), marks the dataset PUBLIC and the bank REGISTERED, lifts the query budget
out of the way (`lifebank beacon settings --budget 1000000000`; the budget is tested, not measured, here), and
starts `lifebank serve` on 127.0.0.1. Then, each for `--seconds` (and at most `--max-requests`), with
`--concurrency` requests in flight:

- info: `GET /api/beacon/v2/info` — the peer: the same server's cheapest Beacon request (no database), i.e. the
  floor of the stack (HTTP, FastAPI, middleware) the Beacon queries stand on;
- g_variants boolean by position (anonymous), g_variants count by 100 kb region (registered),
  individuals count with two filters (sex + consent, registered), and the three mixed.

Every Beacon query is ledgered (one write transaction each), as in production. Figures: requests/s, p50 and p99
latency, errors; each Beacon figure also as a ratio to the info peer. Targets (issue 14): >= 500 requests/s
sustained for 60 s, p99 <= 100 ms, no error. The load average is printed at the start and the end.

Usage: python benchmarks/beacon_load.py [--sites 100000] [--samples 2504] [--seconds 60] [--concurrency 16]
       [--backend sqlite|postgresql] [--pg-url URL] [--workers 1] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
LIFEBANK = str(Path(sys.executable).with_name("lifebank"))
CHR22_LENGTH = 50_818_468
B = "/api/beacon/v2"


def load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def simulate(work: Path, samples: int, sites: int, seed: int) -> tuple[Path, int]:
    vcf = work / "sim.vcf.gz"
    params = work / "params.json"
    wanted = json.dumps([samples, sites, seed])
    if vcf.exists() and params.exists() and params.read_text() == wanted:
        n = int(subprocess.run(["bcftools", "index", "-n", str(vcf)], capture_output=True, text=True,
                               check=True).stdout)
        return vcf, n
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "omics_vs_bcftools.py"), "--simulate-child",
                          str(vcf), str(samples), str(sites), str(CHR22_LENGTH), str(seed)],
                         capture_output=True, text=True, check=True).stdout
    params.write_text(wanted)
    return vcf, int(out.split()[-1])


def build(url: str, data_dir: Path, vcf: Path, samples: int, seed: int) -> str:
    """The bank: participants, tubes, the imported store, levels, budget, a registered user; its token."""
    from lifebank.auth import service as auth
    from lifebank.biobank import imports
    from lifebank.db.engine import Database
    from lifebank.db.migrate import upgrade
    from lifebank.omics import service as omics
    from lifebank.omics.ingest import open_vcf
    from lifebank.sharing import beacon

    db = Database(url)
    upgrade(db)
    rng = random.Random(seed)
    names = list(open_vcf(vcf).samples)[:samples]
    people = "".join(f"P{i:06d},{rng.choice('FM')},{rng.randint(1940, 2005)},Shanghai,"
                     f"{rng.choice(['GRU', 'HMB'])},2024-01-01\n" for i in range(len(names)))
    imports.import_participants(db, ("participant,sex,birth_year,site,consent_codes,consent_date\n" + people)
                                .encode(), actor="bench")
    tubes = "".join(f"B{i:06d},P{i:06d},BLD,5,mL,,,,\n" for i in range(len(names)))
    imports.import_specimens(db, ("barcode,participant,type,quantity,unit,collected_at,parent_barcode,sprec,"
                                  "location\n" + tubes).encode(), actor="bench")
    t0 = time.perf_counter()
    sample_map = "vcf_sample,participant,specimen_barcode\n" + "".join(
        f"{s},P{i:06d},B{i:06d}\n" for i, s in enumerate(names))
    result = omics.import_vcf(db, data_dir, vcf, dataset="sim", actor="bench", sample_map=sample_map)
    print(f"store: {result.sites} sites x {result.samples} samples imported in {time.perf_counter() - t0:.0f} s")
    beacon.set_level(db, "sim", "PUBLIC", actor="bench")
    beacon.set_level(db, "biobank", "REGISTERED", actor="bench")
    beacon.change_settings(db, actor="bench", budget=1_000_000_000)
    auth.create_user(db, "benchreader", "Bench-password-2026", ["researcher"])
    token = auth.create_token(db, "benchreader", "bench").token
    db.dispose()
    return token


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sample_sites(url: str, data_dir: Path, count: int, seed: int) -> list[tuple[int, str, str]]:
    """Sites some sample carries (AC > 0), for the position queries."""
    from lifebank.db.engine import Database
    from lifebank.omics import service as omics

    db = Database(url)
    rng = random.Random(seed)
    found: list[tuple[int, str, str]] = []
    while len(found) < count:
        start = rng.randint(1, CHR22_LENGTH - 200_000)
        counts = omics.allele_counts(db, data_dir, f"chr22:{start}-{start + 200_000}", dataset="sim")
        found += [(c.pos, c.ref, c.alt) for c in counts if c.ac > 0 and c.alt != "*"][:20]
    db.dispose()
    return found[:count]


async def phase(base: str, make, seconds: float, concurrency: int, max_requests: int) -> dict[str, float]:
    """Run `make()` -> (url, headers) with `concurrency` requests in flight for `seconds` (bounded)."""
    latencies: list[float] = []
    errors = 0
    stop_at = time.perf_counter() + seconds
    sent = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        async def worker() -> None:
            nonlocal errors, sent
            while time.perf_counter() < stop_at and sent < max_requests:
                sent += 1
                url, headers = make()
                t0 = time.perf_counter()
                try:
                    response = await client.get(url, headers=headers)
                    ok = response.status_code == 200
                except httpx.HTTPError:
                    ok = False
                latencies.append(time.perf_counter() - t0)
                if not ok:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {"requests": len(latencies), "rps": len(latencies) / elapsed, "errors": errors,
            "p50_ms": 1000 * statistics.median(latencies),
            "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=2504)
    parser.add_argument("--sites", type=int, default=100_000, help="about this many segregating sites")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--max-requests", type=int, default=200_000, help="per phase")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/lb_beacon_bench")
    parser.add_argument("--workers", type=int, default=1, help="lifebank serve --workers")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    print(f"load average at start (1/5/15 min): {load()}; {os.cpu_count()} cores")
    work = args.workdir or Path(tempfile.mkdtemp(prefix="beacon-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    vcf, n_sites = simulate(work, args.samples, args.sites, args.seed)
    print(f"simulated store: {n_sites} sites x {args.samples} samples (target size ~1 M sites)")
    data_dir = work / f"data-{args.backend}"
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir()
    if args.backend == "sqlite":
        url = f"sqlite:///{data_dir}/lifebank.db"
    else:
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url

        url = args.pg_url
        admin = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
        name = make_url(url).database
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
    token = build(url, data_dir, vcf, args.samples, args.seed)
    sites = sample_sites(url, data_dir, 500, args.seed)
    port = free_port()
    env = os.environ | {"LIFEBANK_DATABASE_URL": url, "LIFEBANK_DATA_DIR": str(data_dir),
                        "LIFEBANK_SECRET_KEY": "bench-secret-key-0123456789abcdef"}
    command = [LIFEBANK, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(args.workers)]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/api/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("lifebank serve did not start")
            time.sleep(0.2)
        rng = random.Random(args.seed)
        registered = {"Authorization": f"Bearer {token}"}

        def by_position() -> tuple[str, dict[str, str]]:
            pos, ref, alt = rng.choice(sites)
            return (f"{B}/g_variants?referenceName=22&start={pos - 1}&referenceBases={ref}&alternateBases={alt}"
                    "&requestedGranularity=boolean", {})

        def by_region() -> tuple[str, dict[str, str]]:
            start = rng.randint(0, CHR22_LENGTH - 100_000)
            return (f"{B}/g_variants?referenceName=chr22&start={start}&end={start + 100_000}"
                    "&requestedGranularity=count", registered)

        def individuals() -> tuple[str, dict[str, str]]:
            sex = rng.choice(["NCIT:C16576", "NCIT:C20197"])
            duo = rng.choice(["DUO:0000042", "DUO:0000006"])
            return f"{B}/individuals?filters={sex},{duo}&requestedGranularity=count", registered

        def mixed() -> tuple[str, dict[str, str]]:
            return rng.choice([by_position, by_region, individuals])()

        phases = [("info_peer", lambda: (f"{B}/info", {})), ("g_variants_boolean_position", by_position),
                  ("g_variants_count_region", by_region), ("individuals_count_two_filters", individuals),
                  ("beacon_mixed", mixed)]
        # warm-up: indexes and caches, not measured
        asyncio.run(phase(base, mixed, 5, args.concurrency, 500))
        results = {}
        for name, make in phases:
            results[name] = asyncio.run(phase(base, make, args.seconds, args.concurrency, args.max_requests))
            r = results[name]
            print(f"{name}_rps: {r['rps']:.0f} requests/s")
            print(f"{name}_p50: {r['p50_ms']:.1f} ms")
            print(f"{name}_p99: {r['p99_ms']:.1f} ms")
            print(f"{name}_errors: {r['errors']} of {r['requests']}")
            if name != "info_peer":
                print(f"{name}_rps_vs_info_peer: {r['rps'] / results['info_peer']['rps']:.2f} x")
        print(f"backend: {args.backend}; server: {' '.join(command)} (workers {args.workers}); "
              f"client: asyncio/httpx, {args.concurrency} in flight, {args.seconds:.0f} s per phase")
        print("peer command: the same client on GET /api/beacon/v2/info of the same server")
        print("targets: >= 500 requests/s for 60 s, p99 <= 100 ms, no error")
    finally:
        server.terminate()
        server.wait(timeout=30)
        print(f"load average at end (1/5/15 min): {load()}")
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
