"""Cell-therapy chain: orders through the full chain of custody via the service layer, the order page, and a
7-day logger trace. Plain script, one `name: value unit` line per figure, each beside a peer from the same run.

Figures (issue 15's targets):
- chain_steps: N orders (default 10,000) walked through all 12 steps with `service.record_step` (rules, bag
  scans, wristband check with decryption, consent re-read, signatures, ledger; the cryopreservation registers
  the two product bags as biobank specimens at their LN2 positions) - target >= 200 steps/s on SQLite and
  PostgreSQL, wall clock of record_step; the same per CPU-second of this process beside it (on a shared,
  loaded machine the wall clock mostly measures the queue for a core; on PostgreSQL the server's CPU is not
  in the process's figure). Peer: the same rows (step, signature, order counter, ledger event) written with
  SQLAlchemy and `audit.service.record` in one transaction per step, no rules (`raw_steps` below), one peer
  order after every tenth of ours, so both meet the same load. Also printed: SQL statements per step (an
  engine event counts them), the cost of one round trip (SELECT 1) and of one empty write transaction (the
  writers' turn: BEGIN IMMEDIATE on SQLite; BEGIN + pg_advisory_xact_lock on PostgreSQL), and the load average
  and machine size. Signatures are `SignedBy` values made directly; what a real signature adds - one Argon2id
  password check by `service.sign` - is measured on its own (`signature_check`).
- order_page: GET /celltherapy/orders/{coi} of an order with its full chain, median of 30 - target <= 100 ms.
  Peer: GET /api/v1/celltherapy/orders/{coi}, the same chain as JSON.
- trace_import: a 7-day trace at one reading a minute (10,080 rows) imported and checked - target <= 1 s.
  Peer: the same CSV read with csv.reader + datetime.fromisoformat + float, nothing else.

    .venv/bin/python benchmarks/celltherapy_chain.py --orders 10000            # SQLite
    .venv/bin/python benchmarks/celltherapy_chain.py --orders 10000 --postgres # PostgreSQL (LIFEBANK_TEST_POSTGRES_URL)
    (--max-minutes M stops walking orders after M minutes and reports the orders done)
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import re
import statistics
import tempfile
import time
import uuid
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, event, text, update
from sqlalchemy.engine import make_url

from lifebank.audit import service as ledger
from lifebank.auth import service as auth
from lifebank.biobank import service as biobank
from lifebank.celltherapy import service
from lifebank.celltherapy.chain import RECEIPTS, STEPS, rule_of
from lifebank.celltherapy.models import Order, Signature, Step
from lifebank.celltherapy.products import PRODUCTS
from lifebank.celltherapy.signatures import SignedBy
from lifebank.config import Settings
from lifebank.db import migrate
from lifebank.db.base import utcnow
from lifebank.db.engine import Database

POSTGRES_URL = os.environ.get("LIFEBANK_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
PASSWORD = "Bench-horse-battery-42"
CODES = "code,description,product,shelf_life_hours\nX0001,start,car-t,48\nX0002,product,car-t,8760\n"
VALUES = {
    "collection": {"volume_ml": "250", "tnc_e9": "12", "cd3_e9": "4"},
    "packaging": {"bags": "1", "product_code": "X0001"},
    "shipment-to-manufacturing": {"courier": "C", "logger_id": "L1"},
    "receipt-at-manufacturing": {"condition": "intact"},
    "manufacturing": {"batch_record": "BR", "activation": "2026-01-02", "vector_lot": "LV",
                      "transduction": "2026-01-03", "expansion_days": "9"},
    "qc-release": {"sterility": "negative", "mycoplasma": "negative", "endotoxin": "0.5", "viability": "92",
                   "cd3_percent": "97", "car_percent": "41", "potency": "850"},
    "cryopreservation": {"bags": "2", "product_code": "X0002", "storage_location": "", "freezer_run": "CRF",
                         "volume_ml": "68", "cells_e6": "250"},
    "shipment-to-centre": {"courier": "C", "logger_id": "L2"},
    "receipt-at-centre": {"condition": "intact"},
    "thaw": {"thaw_minutes": "3"},
    "bedside-verification": {"wristband_code": "P1", "wristband_dob": "1970-05-04"},
    "infusion": {"volume_ml": "68"},
}
TRACES = {"to-manufacturing": "time,temperature_c\n2026-01-01T08:00:00Z,4\n2026-01-01T09:00:00Z,5\n",
          "to-centre": "time,temperature_c\n2026-01-01T08:00:00Z,-180\n2026-01-01T09:00:00Z,-179\n"}


@contextmanager
def database(postgres: bool):
    if not postgres:
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{Path(folder) / 'bench.db'}", Path(folder)
        return
    name = f"lbbench_ct_{uuid.uuid4().hex[:8]}"
    admin = create_engine(make_url(POSTGRES_URL).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        with tempfile.TemporaryDirectory() as folder:
            yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False), Path(folder)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


BOX_BAGS = 50  # orders' product bags per 10 x 10 cryobox (two bags an order)


def add_ln2_boxes(db: Database, orders: int) -> None:
    """An LN2 tank with enough 10 x 10 cryoboxes for every order's two product bags (registered as specimens)."""
    biobank.define_container_type(db, "LN2 tank", kind="tank", actor="bench")
    biobank.define_container_type(db, "Rack", kind="rack", actor="bench")
    biobank.define_container_type(db, "Cryobox 10x10", kind="box", rows=10, columns=10, scheme="letter-number",
                                  actor="bench")
    biobank.create_container(db, "LN2-01", type_name="LN2 tank", temperature_class="LN2", actor="bench")
    for box in range(orders // BOX_BAGS + 1):
        if box % 20 == 0:
            biobank.create_container(db, f"R{box // 20 + 1}", type_name="Rack", parent_path="LN2-01", actor="bench")
        biobank.create_container(db, f"B{box + 1}", type_name="Cryobox 10x10", parent_path=f"LN2-01/R{box // 20 + 1}",
                                 actor="bench")


def place_of(n: int) -> str:
    """The first of the two free positions of the n-th order (0-based) placed in the tank."""
    box, slot = divmod(n, BOX_BAGS)
    index = 2 * slot
    return f"LN2-01/R{box // 20 + 1}/B{box + 1}/{'ABCDEFGHIJ'[index // 10]}{index % 10 + 1}"


def walk(db: Database, settings: Settings, coi: str, place: str, statements: list[int]) -> tuple[float, float, int]:
    """Record the 12 steps of one order; the wall and CPU seconds spent in record_step and the SQL statements it
    sent (`statements[0]` is moved by an engine event; trace imports excluded from all three)."""
    spent = cpu = 0.0
    sent = 0
    bag = None
    for step in STEPS:
        if step in RECEIPTS:
            service.import_trace(db, coi, RECEIPTS[step], TRACES[RECEIPTS[step]], actor="bench")
        values = dict(VALUES[step])
        if step in ("thaw", "bedside-verification", "infusion"):
            values["bag"] = bag
        if step == "cryopreservation":
            values["storage_location"] = place
        signers = [SignedBy(n, utcnow()) for n in ("tech", "nurse")[: len(rule_of(step, PRODUCTS["car-t"]).meanings)]]
        start, start_cpu, before = time.perf_counter(), time.process_time(), statements[0]
        done = service.record_step(db, coi, step, values, signers, actor="tech", settings=settings)
        spent += time.perf_counter() - start
        cpu += time.process_time() - start_cpu
        sent += statements[0] - before
        if step == "cryopreservation":
            bag = done["values"]["bags_made"][0]
    return spent, cpu, sent


def raw_steps(db: Database, order_id: int, coi: str) -> None:
    """The peer: the same rows per step - step, signature(s), the order's counter, a ledger event - no rules."""
    for seq, step in enumerate(STEPS):
        with db.transaction() as session:
            row = Step(order_id=order_id, seq=seq, step=step, values_json=json.dumps(VALUES[step]), recorded_by="tech")
            session.add(row)
            session.flush()
            session.add(Signature(step_id=row.id, signer="tech", display_name="tech", meaning="performed",
                                  signed_at=utcnow()))
            session.execute(update(Order).where(Order.id == order_id).values(steps_done=seq + 1))
            ledger.record(session, actor="tech", action="celltherapy.step", entity_type="therapy_order",
                          entity_id=coi, change={"step": step, "values": VALUES[step]})


class Tally:
    """Steps, wall seconds, CPU seconds and SQL statements, summed over orders."""

    def __init__(self) -> None:
        self.steps = self.statements = 0
        self.wall = self.cpu = 0.0

    def add(self, wall: float, cpu: float, steps: int, statements: int) -> None:
        self.wall, self.cpu = self.wall + wall, self.cpu + cpu
        self.steps, self.statements = self.steps + steps, self.statements + statements

    def rate(self) -> float:
        return self.steps / self.wall if self.wall else 0.0

    def cpu_rate(self) -> float:
        return self.steps / self.cpu if self.cpu else 0.0


def timed(work) -> tuple[float, float]:
    start, start_cpu = time.perf_counter(), time.process_time()
    work()
    return time.perf_counter() - start, time.process_time() - start_cpu


def machine() -> str:
    memory = next((int(line.split()[1]) // 1024 ** 2 for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal")), 0) if Path("/proc/meminfo").exists() else 0
    return f"machine: {os.cpu_count()} CPUs, {memory} GiB; load average: {os.getloadavg()[0]:.2f}"


def round_trips(db: Database) -> None:
    """What one statement's round trip and one empty write transaction (the writers' turn) cost, median of 200."""
    with db.engine.connect() as conn:
        trips = [timed(lambda: conn.execute(text("SELECT 1")))[0] for _ in range(200)]
    turns = []
    for _ in range(200):
        start = time.perf_counter()
        with db.transaction() as session:
            session.execute(text("SELECT 1"))
        turns.append(time.perf_counter() - start)
    what = "BEGIN, pg_advisory_xact_lock, SELECT 1, COMMIT" if db.dialect == "postgresql" else \
        "BEGIN IMMEDIATE, SELECT 1, COMMIT"
    print(f"round_trip: {statistics.median(trips) * 1000:.2f} ms (SELECT 1, median of 200); write_turn: "
          f"{statistics.median(turns) * 1000:.2f} ms ({what}); load average {os.getloadavg()[0]:.2f}")


def week_trace() -> str:
    """Fresh starting material at 4-6 °C for 7 days, one reading a minute, with one 30-minute excursion."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    rows = ["time,temperature_c"]
    for minute in range(7 * 24 * 60):
        value = 4.0 + (minute % 30) * 0.07 + (6.0 if 5000 <= minute < 5030 else 0.0)
        rows.append(f"{(start + timedelta(minutes=minute)).isoformat()},{value:.1f}")
    return "\n".join(rows) + "\n"


def plain_parse(trace: str) -> int:
    rows = csv.reader(io.StringIO(trace))
    next(rows)
    return sum(1 for t, v in rows if datetime.fromisoformat(t) and float(v) == float(v))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--postgres", action="store_true", help="on PostgreSQL (LIFEBANK_TEST_POSTGRES_URL)")
    parser.add_argument("--max-minutes", type=float, default=0,
                        help="stop walking orders after this long and report what was done (0: no limit)")
    args = parser.parse_args()
    with database(args.postgres) as (url, folder):
        db = Database(url)
        migrate.upgrade(db)
        settings = Settings(data_dir=folder, database_url=url, secret_key="bench-secret-key-0123456789")
        biobank.register_participant_with_consent(db, "P1", sex="F", birth_year=1970, site="SH",
                                                  duo_codes=["DUO:0000042"], consent_date=date(2025, 1, 1),
                                                  actor="bench")
        service.load_product_codes(db, CODES, actor="bench")
        auth.create_user(db, "tech", PASSWORD, ["technician"])
        add_ln2_boxes(db, args.orders + 1)
        print(f"database: {'postgresql' if args.postgres else 'sqlite'}; orders: {args.orders}; {machine()}")
        statements = [0]

        def count(*_args) -> None:
            statements[0] += 1

        for engine in {db.engine, db.write_engine}:
            event.listen(engine, "before_cursor_execute", count)
        ours = Tally()
        peer = Tally()
        cois = []
        started = time.perf_counter()
        for n in range(args.orders):
            order = service.create_order(db, participant="P1", product="car-t", centre="C", identity_kind="dob",
                                         identity_value="1970-05-04", actor="bench", settings=settings)
            wall, cpu, sent = walk(db, settings, order["coi"], place_of(n), statements)
            ours.add(wall, cpu, len(STEPS), sent)
            cois.append(order["coi"])
            if n % 10 == 0:  # the peer, interleaved: same data, same moment, same load
                other = service.create_order(db, participant="P1", product="car-t", centre="C",
                                             identity_kind="dob", identity_value="1970-05-04", actor="bench",
                                             settings=settings)
                before = statements[0]
                wall, cpu = timed(lambda: raw_steps(db, other["id"], other["coi"]))  # noqa: B023 - called at once
                peer.add(wall, cpu, len(STEPS), statements[0] - before)
            if (n + 1) % 1000 == 0:
                print(f"  {n + 1} orders: {ours.rate():,.0f} steps/s wall, {ours.cpu_rate():,.0f} per CPU-second; "
                      f"load average {os.getloadavg()[0]:.1f}", flush=True)
            if args.max_minutes and time.perf_counter() - started > args.max_minutes * 60:
                print(f"  stopped after {n + 1} orders: the --max-minutes {args.max_minutes:g} budget is spent")
                break
        total = time.perf_counter() - started
        print(f"chain_steps: {ours.rate():,.0f} steps/s (wall, record_step only; {ours.steps} steps of "
              f"{len(cois)} orders; load average now {os.getloadavg()[0]:.2f})")
        print(f"chain_with_orders_and_traces: {ours.steps / total:,.0f} steps/s (order creation, 2 trace imports per "
              f"order and the interleaved peer included)")
        print(f"peer_raw_steps: {peer.rate():,.0f} steps/s (same rows, SQLAlchemy + ledger.record, no rules; "
              f"{peer.steps // len(STEPS)} orders interleaved with ours; raw_steps() in this file)")
        print(f"chain_vs_peer: {ours.rate() / peer.rate():.2f} x")
        # On a loaded machine the wall clock measures the queue for the CPU; the process's own CPU time is what a
        # quiet machine would take (SQLite runs in-process; on PostgreSQL the server's share is not in it).
        print(f"chain_steps_per_cpu_second: {ours.cpu_rate():,.0f} steps/s (client process CPU)")
        print(f"peer_raw_steps_per_cpu_second: {peer.cpu_rate():,.0f} steps/s")
        print(f"statements_per_step: {ours.statements / ours.steps:.1f} (SQL statements record_step sent: BEGIN, "
              f"rules, rows, the ledger, the biobank specimens); peer: {peer.statements / peer.steps:.1f}")
        round_trips(db)
        start = time.perf_counter()
        for _ in range(5):
            service.sign(db, "tech", PASSWORD, order=cois[0], settings=settings)
        print(f"signature_check: {(time.perf_counter() - start) / 5 * 1000:.0f} ms per signature (Argon2id, "
              f"auth.service.authenticate)")

        from fastapi.testclient import TestClient

        from lifebank.web.app import create_app

        migrate.upgrade(db)  # a long run may outlive the schema it started with (others' migrations land meanwhile)
        with TestClient(create_app(settings, db)) as client:
            token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
            client.post("/login", data={"username": "tech", "password": PASSWORD, "csrf_token": token})
            timings: dict[str, list[float]] = {"page": [], "api": []}
            for _ in range(30):
                for kind, path in (("page", f"/celltherapy/orders/{cois[0]}"),
                                   ("api", f"/api/v1/celltherapy/orders/{cois[0]}")):
                    start = time.perf_counter()
                    answer = client.get(path)
                    timings[kind].append(time.perf_counter() - start)
                    assert answer.status_code == 200, answer.text[:200]
            page, api = statistics.median(timings["page"]) * 1000, statistics.median(timings["api"]) * 1000
            print(f"order_page: {page:.1f} ms (median of 30, full chain of 12 steps)")
            print(f"peer_order_json: {api:.1f} ms (GET /api/v1/celltherapy/orders/{{coi}}, same chain)")
            print(f"order_page_vs_json: {page / api:.2f} x")

        trace = week_trace()
        order = service.create_order(db, participant="P1", product="car-t", centre="C", identity_kind="dob",
                                     identity_value="1970-05-04", actor="bench", settings=settings)
        for step in STEPS[:3]:
            signers = [SignedBy("tech", utcnow())]
            service.record_step(db, order["coi"], step, VALUES[step], signers, actor="tech", settings=settings)
        start = time.perf_counter()
        result = service.import_trace(db, order["coi"], "to-manufacturing", trace, actor="bench")
        ours_trace = time.perf_counter() - start
        start = time.perf_counter()
        plain_parse(trace)
        peer_trace = time.perf_counter() - start
        print(f"trace_import: {ours_trace * 1000:.0f} ms ({result['readings']} readings, "
              f"{len(result['excursions'])} excursion(s) found)")
        print(f"peer_plain_csv_parse: {peer_trace * 1000:.0f} ms (csv.reader + datetime.fromisoformat + float)")
        print(f"trace_vs_plain_parse: {ours_trace / peer_trace:.2f} x")
        db.dispose()


if __name__ == "__main__":
    main()
