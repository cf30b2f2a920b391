"""Beacon v2 under load: a bounded asyncio client against `lifebank serve` on loopback.

Builds (or reuses, `--workdir DIR --reuse`) a store of `--samples` simulated genomes x about `--sites` chr22 sites
(msprime, the simulation of `benchmarks/omics_vs_bcftools.py`), links every sample to a biobank participant (random
sex, GRU or HMB consent, one blood tube), marks the dataset PUBLIC and the bank REGISTERED, lifts the query budget
out of the way (`lifebank beacon settings --budget 1000000000`; the budget is tested, not measured, here), and
starts `lifebank serve --workers N` on 127.0.0.1. It waits until every worker answers a region count in < 100 ms
(the carried-sites index is built per worker at start-up), then, each phase for `--seconds` (and at most
`--max-requests`), with `--concurrency` requests in flight on keep-alive connections:

- info_peer: `GET /api/beacon/v2/info` - the peer: the same server's cheapest Beacon request (no database), i.e.
  the floor of the stack (HTTP, FastAPI, middleware) the Beacon queries stand on;
- g_variants boolean by position (anonymous) and count by position (registered), boolean and count by 100 kb
  region, individuals count with two filters (sex + consent, registered), and all of them mixed;
- biosamples count with two filters (blood + sex, registered; not in the mix, not one of the issue's targets).

Every Beacon query is ledgered as in production (queued, written in batches by a background thread). Figures per
phase: requests/s, p50 and p99 latency, errors (a non-200 or an answer without `responseSummary`), the server's
CPU per request (user + system of the server and its workers, from /proc via psutil) and the rate that CPU would
sustain on this machine's cores, the client's CPU share (client and server share the machine), the load average
before and after; each Beacon figure also as a ratio to the info peer. Targets (issue 14): >= 500 requests/s
sustained for 60 s, p99 <= 100 ms, no error.

Usage: python benchmarks/beacon_load.py [--sites 1000000] [--samples 2504] [--seconds 60] [--concurrency 16]
       [--backend sqlite|postgresql] [--pg-url URL] [--workers 1] [--workdir DIR [--reuse]] [--phases a,b]
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


class RawClient:
    """A minimal HTTP/1.1 keep-alive client on asyncio streams: a few microseconds of CPU a request, so the
    client takes as little as possible of the two cores it shares with the server (httpx took ~1 ms)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str, headers: dict[str, str]) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\n{extra}\r\n".encode())
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            body = await self.reader.readexactly(length)
        except (asyncio.IncompleteReadError, ConnectionError):
            await self.close()
            raise
        return int(head[9:12]), body

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def server_cpu(server: subprocess.Popen) -> float:
    """CPU seconds (user + system) of the server and its worker processes so far."""
    import psutil

    root = psutil.Process(server.pid)
    total = 0.0
    for proc in [root, *root.children(recursive=True)]:
        try:
            times = proc.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


async def phase(host: str, port: int, make, seconds: float, concurrency: int, max_requests: int,
                check=None) -> dict[str, float]:
    """Run `make()` -> (path, headers) with `concurrency` requests in flight for `seconds` (bounded in time and
    count); `check(body)` inspects each answer (False: an error)."""
    latencies: list[float] = []
    errors = 0
    stop_at = time.perf_counter() + seconds
    sent = 0
    clients = [RawClient(host, port) for _ in range(concurrency)]

    async def worker(client: RawClient) -> None:
        nonlocal errors, sent
        while time.perf_counter() < stop_at and sent < max_requests:
            sent += 1
            path, headers = make()
            t0 = time.perf_counter()
            try:
                status, body = await asyncio.wait_for(client.get(path, headers), 30)
                ok = status == 200 and (check is None or check(body))
            except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
                ok = False
                await client.close()
            latencies.append(time.perf_counter() - t0)
            if not ok:
                errors += 1

    started = time.perf_counter()
    cpu0 = time.process_time()
    await asyncio.gather(*(worker(c) for c in clients))
    elapsed = time.perf_counter() - started
    client_cpu = time.process_time() - cpu0
    for c in clients:
        await c.close()
    latencies.sort()
    return {"requests": len(latencies), "rps": len(latencies) / elapsed, "errors": errors, "wall": elapsed,
            "client_cpu": client_cpu, "p50_ms": 1000 * statistics.median(latencies),
            "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]}


def prepare(args: argparse.Namespace, work: Path) -> tuple[str, Path, str, list[tuple[int, str, str]], int]:
    """The bank of this backend: built, or reused from `--workdir` when `--reuse` and it was built for the same
    store. Returns (database URL, data folder, token, sites to ask about, sites in the store)."""
    vcf, n_sites = simulate(work, args.samples, args.sites, args.seed)
    print(f"simulated store: {n_sites} sites x {args.samples} samples (target size ~1 M sites)")
    data_dir = work / f"data-{args.backend}"
    marker = data_dir / "bench.json"
    url = f"sqlite:///{data_dir}/lifebank.db" if args.backend == "sqlite" else args.pg_url
    wanted = [args.samples, args.sites, args.seed, args.backend, url]
    if args.reuse and marker.exists():
        kept = json.loads(marker.read_text())
        if kept["params"] == wanted:
            print(f"reusing the bank built in {data_dir}")
            return url, data_dir, kept["token"], [tuple(s) for s in kept["sites"]], n_sites  # type: ignore[misc]
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir()
    if args.backend == "postgresql":
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url

        admin = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
        name = make_url(url).database
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
    token = build(url, data_dir, vcf, args.samples, args.seed)
    sites = sample_sites(url, data_dir, 500, args.seed)
    marker.write_text(json.dumps({"params": wanted, "token": token, "sites": sites}))
    return url, data_dir, token, sites, n_sites


def wait_warm(host: str, port: int, path: str, limit: float) -> float:
    """Seconds until 10 answers in a row to `path` take < 1 s (every worker's in-memory index built at
    start-up: a worker still building takes seconds), or `limit` (a loaded machine may never get there)."""
    t0 = time.perf_counter()
    fast = 0
    while fast < 10 and time.perf_counter() - t0 < limit:
        a = time.perf_counter()
        try:
            ok = httpx.get(f"http://{host}:{port}{path}", timeout=limit).status_code == 200
        except httpx.HTTPError:
            ok = False
        fast = fast + 1 if ok and time.perf_counter() - a < 1.0 else 0
        if not ok:
            time.sleep(0.5)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=2504)
    parser.add_argument("--sites", type=int, default=1_000_000, help="about this many segregating sites")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--max-requests", type=int, default=200_000, help="per phase")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/lb_beacon_bench")
    parser.add_argument("--workers", type=int, default=1, help="lifebank serve --workers")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--reuse", action="store_true", help="reuse the bank built in --workdir for this backend")
    parser.add_argument("--phases", default="all", help="comma-separated phase names (default: all)")
    parser.add_argument("--warm-limit", type=float, default=180, help="seconds to wait for the warm-up at most")
    parser.add_argument("--build-only", action="store_true", help="build the bank in --workdir and stop")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    print(f"load average at start (1/5/15 min): {load()}; {cores} cores")
    work = args.workdir or Path(tempfile.mkdtemp(prefix="beacon-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    url, data_dir, token, sites, _ = prepare(args, work)
    if args.build_only:
        return
    port = free_port()
    host = "127.0.0.1"
    env = os.environ | {"LIFEBANK_DATABASE_URL": url, "LIFEBANK_DATA_DIR": str(data_dir),
                        "LIFEBANK_SECRET_KEY": "bench-secret-key-0123456789abcdef"}
    command = [LIFEBANK, "serve", "--host", host, "--port", str(port), "--workers", str(args.workers)]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 600  # a loaded machine starts a server slowly
        while True:
            try:
                if httpx.get(f"http://{host}:{port}/api/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("lifebank serve did not start")
            time.sleep(0.2)
        rng = random.Random(args.seed)
        registered = {"Authorization": f"Bearer {token}"}

        def at_position(granularity: str, headers: dict[str, str]):
            def make() -> tuple[str, dict[str, str]]:
                pos, ref, alt = rng.choice(sites)
                return (f"{B}/g_variants?referenceName=22&start={pos - 1}&referenceBases={ref}"
                        f"&alternateBases={alt}&requestedGranularity={granularity}", headers)
            return make

        def in_region(granularity: str, headers: dict[str, str]):
            def make() -> tuple[str, dict[str, str]]:
                start = rng.randint(0, CHR22_LENGTH - 100_000)
                return (f"{B}/g_variants?referenceName=chr22&start={start}&end={start + 100_000}"
                        f"&requestedGranularity={granularity}", headers)
            return make

        def individuals() -> tuple[str, dict[str, str]]:
            sex = rng.choice(["NCIT:C16576", "NCIT:C20197"])
            duo = rng.choice(["DUO:0000042", "DUO:0000006"])
            return f"{B}/individuals?filters={sex},{duo}&requestedGranularity=count", registered

        def biosamples() -> tuple[str, dict[str, str]]:
            sex = rng.choice(["NCIT:C16576", "NCIT:C20197"])
            return f"{B}/biosamples?filters=UBERON:0000178,{sex}&requestedGranularity=count", registered

        makers = [at_position("boolean", {}), at_position("count", registered), in_region("boolean", {}),
                  in_region("count", registered), individuals]

        def mixed() -> tuple[str, dict[str, str]]:
            return rng.choice(makers)()

        def answered(body: bytes) -> bool:
            return b'"responseSummary"' in body

        phases = [("info_peer", lambda: (f"{B}/info", {})),
                  ("g_variants_boolean_position", makers[0]), ("g_variants_count_position", makers[1]),
                  ("g_variants_boolean_region", makers[2]), ("g_variants_count_region", makers[3]),
                  ("individuals_count_two_filters", individuals), ("beacon_mixed", mixed),
                  ("biosamples_count_two_filters", biosamples)]
        if args.phases != "all":
            chosen = args.phases.split(",")
            phases = [p for p in phases if p[0] in chosen or p[0] == "info_peer"]
        warm = wait_warm(host, port, makers[3]()[0], args.warm_limit)
        print(f"server warm-up wait (10 region counts in a row each < 1 s, at most {args.warm_limit:.0f} s): "
              f"{warm:.0f} s", flush=True)
        asyncio.run(phase(host, port, mixed, 5, args.concurrency, 5000, answered))  # not measured
        results = {}
        for name, make in phases:
            cpu0 = server_cpu(server)
            before = load()
            r = results[name] = asyncio.run(phase(host, port, make, args.seconds, args.concurrency,
                                                  args.max_requests, None if name == "info_peer" else answered))
            server_seconds = server_cpu(server) - cpu0
            per_request = server_seconds / max(1, r["requests"])
            print(f"{name}_rps: {r['rps']:.0f} requests/s ({r['requests']} in {r['wall']:.0f} s)")
            print(f"{name}_p50: {r['p50_ms']:.1f} ms")
            print(f"{name}_p99: {r['p99_ms']:.1f} ms")
            print(f"{name}_errors: {r['errors']} of {r['requests']}")
            print(f"{name}_server_cpu_per_request: {1000 * per_request:.2f} ms (server CPU "
                  f"{server_seconds:.1f} s = {server_seconds / r['wall']:.2f} cores)")
            print(f"{name}_server_sustainable_rps: {cores / per_request:.0f} requests/s on {cores} cores "
                  f"({min(cores, args.workers) / per_request:.0f} with {args.workers} worker(s) at one core each)")
            print(f"{name}_client_cpu: {r['client_cpu'] / r['wall']:.2f} cores "
                  f"({1e6 * r['client_cpu'] / max(1, r['requests']):.0f} us a request)")
            print(f"{name}_load_average: {before} -> {load()}")
            if name != "info_peer":
                print(f"{name}_rps_vs_info_peer: {r['rps'] / results['info_peer']['rps']:.2f} x")
        print(f"backend: {args.backend}; server: {' '.join(command)} (workers {args.workers}); "
              f"client: raw asyncio HTTP/1.1 keep-alive, {args.concurrency} in flight, {args.seconds:.0f} s per phase")
        print("peer command: the same client on GET /api/beacon/v2/info of the same server")
        print("targets: >= 500 requests/s for 60 s, p99 <= 100 ms, no error")
    finally:
        server.terminate()
        server.wait(timeout=60)
        print(f"load average at end (1/5/15 min): {load()}")
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
