"""Biobank at scale: bulk-import N specimens (N/5 participants, lineage, storage) and time typical queries.

Issue 3 anchors: import >= 100,000 rows/s and >= 25 % of a raw `sqlite3.executemany` of the same rows into
the same schema; p95 <= 50 ms per query, box map <= 20 ms; peak memory <= 2 GiB. Issue 10: the headline is
the specimen search WITH its exact total (what every CLI, API and UI call asks for), beside its first page
alone, against a fair peer - the same filters as plain SQL through the driver (count(*) and the first page),
with the same total and page asserted before timing; its SQL is printed.

    .venv/bin/python benchmarks/biobank_scale.py --specimens 10000000           # SQLite (default file in /tmp)
    .venv/bin/python benchmarks/biobank_scale.py --specimens 1000000 \\
        --url postgresql+psycopg://postgres@127.0.0.1:5432/lifebank_bench        # an empty PostgreSQL database
    .venv/bin/python benchmarks/biobank_scale.py --queries-only --db /tmp/lifebank_biobank_bench.db  # re-time

Specimens go through `lifebank.biobank.imports.import_specimens` (the code path of `lifebank import
specimens`), as CSV files of --batch rows each (a bank imports day by day; one file keeps memory bounded).
Per participant: an EDTA blood tube (consumed), two plasma aliquots and a DNA extract derived from it, and a
serum tube; 80 % of specimens are stored in -80 °C freezers of 100,000 positions (10 racks x 100 boxes 10x10).
Storage containers are created with Core inserts (setup, not measured).
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, make_url, text

from lifebank.biobank import imports, service
from lifebank.biobank.models import Container, ContainerType
from lifebank.biobank.storage_layout import GridLayout
from lifebank.db import migrate
from lifebank.db.engine import Database

PER_PARTICIPANT = 5
RACKS, BOXES_PER_RACK, GRID = 10, 100, GridLayout(10, 10)
FREEZER_CAPACITY = RACKS * BOXES_PER_RACK * GRID.capacity
LABELS = GRID.labels()
SPREC = {"BLD": "BLD-PED-A-N-N-N-A", "PL1": "PL1-PED-A-D-N-B-A", "SER": "SER-SST-A-D-N-B-A"}
COLUMNS = ("id", "barcode", "participant_id", "type", "quantity", "unit", "collected_at", "status",
           "distributable", "lineage", "parent_id", "sprec", "freeze_thaw", "container_id", "position")


@contextmanager
def quiet(_description: str, _total: int | None, _unit: str = "rows"):
    yield lambda _n: None


def build_storage(db: Database, freezers: int) -> list[tuple[int, str]]:
    """Site > freezers > racks > boxes, written directly; returns (box id, box path) in filling order."""
    boxes: list[tuple[int, str]] = []
    rows = []
    next_id = 1
    rows.append({"id": next_id, "name": "BANK", "type_id": 1, "kind": "site", "parent_id": None, "path": "/1/",
                 "name_path": "BANK", "temperature_class": None, "capacity": 0})
    for f in range(1, freezers + 1):
        next_id += 1
        fid, fname = next_id, f"FRZ-{f:03d}"
        rows.append({"id": fid, "name": fname, "type_id": 2, "kind": "freezer", "parent_id": 1,
                     "path": f"/1/{fid}/", "name_path": f"BANK/{fname}", "temperature_class": "-80C", "capacity": 0})
        for r in range(1, RACKS + 1):
            next_id += 1
            rid, rname = next_id, f"R{r:02d}"
            rows.append({"id": rid, "name": rname, "type_id": 3, "kind": "rack", "parent_id": fid,
                         "path": f"/1/{fid}/{rid}/", "name_path": f"BANK/{fname}/{rname}",
                         "temperature_class": "-80C", "capacity": 0})
            for b in range(1, BOXES_PER_RACK + 1):
                next_id += 1
                bname = f"B{b:03d}"
                path = f"BANK/{fname}/{rname}/{bname}"
                rows.append({"id": next_id, "name": bname, "type_id": 4, "kind": "box", "parent_id": rid,
                             "path": f"/1/{fid}/{rid}/{next_id}/", "name_path": path, "temperature_class": "-80C",
                             "capacity": GRID.capacity})
                boxes.append((next_id, path))
    with db.transaction() as session:
        session.execute(insert(ContainerType.__table__), [
            {"id": 1, "name": "Site", "kind": "site", "rows": None, "columns": None, "scheme": None},
            {"id": 2, "name": "ULT freezer", "kind": "freezer", "rows": None, "columns": None, "scheme": None},
            {"id": 3, "name": "Rack", "kind": "rack", "rows": None, "columns": None, "scheme": None},
            {"id": 4, "name": "Box 10x10", "kind": "box", "rows": 10, "columns": 10, "scheme": "letter-number"},
        ])
        for start in range(0, len(rows), 20000):
            session.connection().execute(insert(Container.__table__), rows[start:start + 20000])
        if db.dialect == "postgresql":
            session.execute(text("SELECT setval(pg_get_serial_sequence('bb_container', 'id'), :n)"), {"n": next_id})
    return boxes


def participants_csv(first: int, count: int, rng: random.Random) -> bytes:
    lines = ["participant,sex,birth_year,site,consent_codes,consent_date\n"]
    for i in range(first, first + count):
        codes = "DUO:0000042;DUO:0000021" if rng.random() < 0.7 else "DUO:0000006"
        lines.append(f"P{i:08d},{'FM'[i % 2]},{1940 + i % 60},{('SH', 'HZ', 'SZ')[i % 3]},{codes},2024-01-15\n")
    return "".join(lines).encode()


class SpecimenGenerator:
    """Deterministic rows, as CSV for the import and as tuples for the raw insert."""

    def __init__(self, boxes: list[tuple[int, str]], seed: int = 7) -> None:
        self.boxes = boxes
        self.slot = 0
        self.rng = random.Random(seed)
        self.raw_id = 0

    def _location(self) -> tuple[str, int, int]:
        box_id, path = self.boxes[self.slot // GRID.capacity]
        index = self.slot % GRID.capacity
        self.slot += 1
        return f"{path}/{LABELS[index]}", box_id, index

    def batch(self, first_participant: int, participants: int) -> tuple[bytes, list[tuple]]:
        lines = ["barcode,participant,type,quantity,unit,collected_at,parent_barcode,sprec,location,status\n"]
        raw: list[tuple] = []
        start = datetime(2020, 1, 1, 8, tzinfo=UTC)
        for p in range(first_participant, first_participant + participants):
            code = f"P{p:08d}"
            drawn = start + timedelta(days=self.rng.randrange(1800), minutes=self.rng.randrange(600))
            stamp = drawn.strftime("%Y-%m-%dT%H:%M:%SZ")
            raw_stamp = drawn.strftime("%Y-%m-%d %H:%M:%S.%f")
            blood = f"B{p:09d}"
            blood_id = self.raw_id + 1
            specimens = [
                (blood, code, "BLD", "9", "mL", "", SPREC["BLD"], None, "consumed", "primary"),
                (f"P{p:09d}A", "", "PL1", "0.5", "mL", blood, SPREC["PL1"], self._location(), "", "derivative"),
                (f"P{p:09d}B", "", "PL1", "0.5", "mL", blood, SPREC["PL1"], self._location(), "", "derivative"),
                (f"D{p:09d}", "", "DNA", "25", "µg", blood, "", self._location(), "", "derivative"),
                (f"S{p:09d}", code, "SER", "1", "mL", "", SPREC["SER"], self._location(), "", "primary"),
            ]
            for barcode, participant, type_, qty, unit, parent, sprec, loc, status, lineage in specimens:
                self.raw_id += 1
                lines.append(f"{barcode},{participant},{type_},{qty},{unit},{stamp},{parent},{sprec},"
                             f"{loc[0] if loc else ''},{status}\n")
                raw.append((self.raw_id, barcode, p, type_, float(qty), unit, raw_stamp, status or "available", 1,
                            lineage, blood_id if parent else None, sprec or None, 0,
                            loc[1] if loc else None, loc[2] if loc else None))
        return "".join(lines).encode(), raw


def raw_insert_sqlite(path: Path, rows_iter) -> float:
    """Seconds for sqlite3.executemany of the rows into a fresh database of the same schema."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    db = Database(f"sqlite:///{path}")
    migrate.upgrade(db)
    db.dispose()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA cache_size=-65536")
    sql = f"INSERT INTO bb_specimen ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
    spent = 0.0
    for rows in rows_iter:
        began = time.perf_counter()
        conn.execute("BEGIN")
        conn.executemany(sql, rows)
        conn.execute("COMMIT")
        spent += time.perf_counter() - began
    conn.close()
    return spent


def raw_insert_postgres(db: Database, rows_iter) -> float:
    with db.engine.connect() as conn:
        conn.execute(text("DROP TABLE IF EXISTS bench_raw_specimen"))
        conn.execute(text("CREATE TABLE bench_raw_specimen (LIKE bb_specimen INCLUDING ALL)"))
        conn.commit()
    spent = 0.0
    sql = f"INSERT INTO bench_raw_specimen ({', '.join(COLUMNS)}) VALUES ({', '.join(['%s'] * len(COLUMNS))})"
    raw_conn = db.engine.raw_connection()
    try:
        for rows in rows_iter:
            began = time.perf_counter()
            with raw_conn.cursor() as cursor:
                cursor.executemany(sql, [r[:8] + (bool(r[8]),) + r[9:] for r in rows])
            raw_conn.commit()
            spent += time.perf_counter() - began
        with raw_conn.cursor() as cursor:
            cursor.execute("DROP TABLE bench_raw_specimen")
        raw_conn.commit()
    finally:
        raw_conn.close()
    return spent


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    samples = []
    for _ in range(repeat):
        began = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - began) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(round(0.95 * (len(samples) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--specimens", "--scale", type=int, default=10_000_000, help="specimens to import")
    parser.add_argument("--url", default=None, help="database URL (default: a fresh SQLite file, see --db)")
    parser.add_argument("--db", default="/tmp/lifebank_biobank_bench.db", help="SQLite file (recreated)")
    parser.add_argument("--batch", type=int, default=500_000, help="specimens per import file")
    parser.add_argument("--repeat", type=int, default=50, help="runs per query")
    parser.add_argument("--skip-raw", action="store_true", help="skip the raw executemany comparison")
    parser.add_argument("--queries-only", action="store_true",
                        help="time the queries again on the database a run with the same --specimens left")
    args = parser.parse_args()
    if args.queries_only:
        db = Database(args.url or f"sqlite:///{args.db}")
        migrate.upgrade(db)  # a bank built before biobank_0005 gains its tallies (a one-off backfill)
        run_queries(args, db, max(1, args.specimens // PER_PARTICIPANT))
        return

    participants = max(1, args.specimens // PER_PARTICIPANT)
    if args.url:
        url = args.url
    else:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{args.db}{suffix}").unlink(missing_ok=True)
        url = f"sqlite:///{args.db}"
    db = Database(url)
    migrate.upgrade(db)
    freezers = -(-participants * 4 // FREEZER_CAPACITY)
    boxes = build_storage(db, freezers)
    rng = random.Random(11)

    began = time.perf_counter()
    per_file = 250_000
    for first in range(1, participants + 1, per_file):
        count = min(per_file, participants + 1 - first)
        imports.import_participants(db, participants_csv(first, count, rng), actor="bench", progress=quiet)
    participant_seconds = time.perf_counter() - began

    generator = SpecimenGenerator(boxes)
    per_batch = max(1, args.batch // PER_PARTICIPANT)
    import_seconds = 0.0
    imported = 0
    for first in range(1, participants + 1, per_batch):
        count = min(per_batch, participants + 1 - first)
        content, _raw = generator.batch(first, count)
        del _raw
        started = time.perf_counter()
        imported += imports.import_specimens(db, content, actor="bench", progress=quiet).rows
        import_seconds += time.perf_counter() - started
        print(f"  imported {imported:,} specimens ({imported / import_seconds:,.0f} rows/s)", file=sys.stderr)
    rate = imported / import_seconds

    backend = db.dialect
    print(f"backend: {backend}")
    print(f"load_average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}  (1, 5, 15 min)")
    print(f"specimens: {imported} rows  (participants {participants}, freezers {freezers}, boxes {len(boxes)})")
    print(f"participant_import: {participants / participant_seconds:,.0f} rows/s")
    print(f"specimen_import: {rate:,.0f} rows/s  (target >= 100,000 rows/s)")

    if not args.skip_raw:
        def raw_rows():
            regen = SpecimenGenerator(boxes)
            for first in range(1, participants + 1, per_batch):
                count = min(per_batch, participants + 1 - first)
                yield regen.batch(first, count)[1]

        if backend == "sqlite":
            raw_seconds = raw_insert_sqlite(Path(f"{args.db}.raw"), raw_rows())
            for suffix in ("", "-wal", "-shm"):
                Path(f"{args.db}.raw{suffix}").unlink(missing_ok=True)
            label = "sqlite3.executemany"
        else:
            raw_seconds = raw_insert_postgres(db, raw_rows())
            label = "psycopg executemany"
        raw_rate = imported / raw_seconds
        print(f"raw_insert ({label}): {raw_rate:,.0f} rows/s")
        print(f"import_vs_raw: {100 * rate / raw_rate:.0f} %  (target >= 25 %)")

    if backend == "sqlite":
        size = sum(os.path.getsize(p) for p in (args.db, f"{args.db}-wal") if os.path.exists(p))
    else:
        with db.engine.connect() as conn:
            size = conn.execute(text("SELECT pg_database_size(current_database())")).scalar() or 0
    print(f"database_size: {size / 2**20:,.0f} MiB")

    run_queries(args, db, participants, boxes)


PEER_WHERE = {
    "sqlite": "s.type = ? AND s.status = ?"
              "\n  AND s.container_id IN (SELECT id FROM bb_container WHERE path >= ? AND path < ?)"
              "\n  AND EXISTS (SELECT 1 FROM bb_consent_code c WHERE c.participant_id = s.participant_id"
              "\n              AND c.duo_code = ? AND c.in_force)",
    "postgresql": "s.type = %s AND s.status = %s"
                  "\n  AND s.container_id IN (SELECT id FROM bb_container WHERE path LIKE %s)"
                  "\n  AND EXISTS (SELECT 1 FROM bb_consent_code c WHERE c.participant_id = s.participant_id"
                  "\n              AND c.duo_code = %s AND c.in_force)",
}
PEER_TOTAL = "SELECT count(*) FROM bb_specimen s\nWHERE {where}"
PEER_PAGE = ("SELECT s.barcode, p.code, s.type, s.quantity, s.unit, s.collected_at, s.status, s.sprec, s.position, "
             "b.name_path\nFROM bb_specimen s LEFT JOIN bb_participant p ON p.id = s.participant_id "
             "LEFT JOIN bb_container b ON b.id = s.container_id\nWHERE {where}\n"
             "ORDER BY s.container_id, s.position, s.id LIMIT 50")


class PlainSqlPeer:
    """The same search as a competent user writes it by hand: one count(*) and one page query, through the
    database's own driver (sqlite3 with LifeBank's cache and mmap settings; psycopg), with the subtree as an
    indexable range and the consent as an EXISTS probe of (participant_id, duo_code, in_force)."""

    def __init__(self, db: Database, url: str) -> None:
        self.dialect = db.dialect
        if self.dialect == "sqlite":
            self.conn: Any = sqlite3.connect(make_url(url).database)
            self.conn.execute("PRAGMA cache_size=-65536")
            self.conn.execute("PRAGMA mmap_size=2147418112")
        else:
            self.conn = db.engine.raw_connection()
        where = PEER_WHERE[self.dialect]
        self.total_sql, self.page_sql = PEER_TOTAL.format(where=where), PEER_PAGE.format(where=where)
        self.paths = {name: path for name, path in self._rows(
            "SELECT name_path, path FROM bb_container WHERE kind = 'freezer'", ())}

    def _rows(self, sql: str, params: tuple) -> list[tuple]:
        cursor = self.conn.cursor()
        cursor.execute(sql, params)
        rows = cursor.fetchall()
        cursor.close()
        return rows

    def search(self, freezer: str) -> tuple[int, list[str]]:
        path = self.paths[freezer]
        subtree = (path, path[:-1] + "0") if self.dialect == "sqlite" else (path + "%",)
        params = ("PL1", "available", *subtree, "DUO:0000042")
        total = self._rows(self.total_sql, params)[0][0]
        page = self._rows(self.page_sql, params)
        if self.dialect == "postgresql":
            self.conn.rollback()  # end the read transaction, as LifeBank's session does
        return total, [row[0] for row in page]

    def close(self) -> None:
        self.conn.close()


def run_queries(args: argparse.Namespace, db: Database, participants: int,
                boxes: list[tuple[int, str]] | None = None) -> None:
    if boxes is None:
        with db.engine.connect() as conn:
            boxes = [(i, p) for i, p in conn.execute(text("SELECT id, name_path FROM bb_container "
                                                          "WHERE kind = 'box' ORDER BY id"))]
    print(f"load_average_before_queries: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    freezers = -(-participants * 4 // FREEZER_CAPACITY)
    freezer_paths = [f"BANK/FRZ-{f:03d}" for f in range(1, freezers + 1)]
    used_boxes = boxes[: max(1, participants * 4 // GRID.capacity)]
    pick = random.Random(5)
    # Every contender searches the same freezers in the same order.
    sequence = [random.Random(9).choice(freezer_paths) for _ in range(args.repeat + 1)]

    def plasma_filter(freezer: str) -> service.SpecimenFilter:
        return service.SpecimenFilter(type="PL1", status="available", consent="DUO:0000042", container=freezer)

    def in_turn(search: Callable[[str], object]) -> Callable[[], object]:
        turn = iter(sequence * 2)
        return lambda: search(next(turn))

    peer = PlainSqlPeer(db, args.url or f"sqlite:///{args.db}")
    for freezer in sorted(set(sequence))[:5]:  # same total, same first page, before anything is timed
        total, items = service.search_specimens(db, plasma_filter(freezer), limit=50)
        assert (total, [i["barcode"] for i in items]) == peer.search(freezer), freezer
    contenders = [
        ("LifeBank search_specimens, exact total + first page",
         in_turn(lambda f: service.search_specimens(db, plasma_filter(f), limit=50))),
        ("LifeBank first page alone (with_total=False)",
         in_turn(lambda f: service.search_specimens(db, plasma_filter(f), limit=50, with_total=False))),
        (f"peer: plain SQL through {'sqlite3' if peer.dialect == 'sqlite' else 'psycopg'}, count(*) + first page",
         in_turn(peer.search)),
    ]
    figures = []
    for _name, fn in contenders:
        fn()  # warm the cache once, as a running server would be
        figures.append(timed(fn, args.repeat))
    peer.close()
    (p50, p95), (f50, f95), (q50, q95) = figures
    print("headline: specimen search WITH the exact total — available plasma (PL1), DUO:0000042 in force, "
          "one 100,000-tube freezer")
    print(f"query_plasma_duo42_in_freezer_with_exact_total: p50 {p50:.1f} ms, p95 {p95:.1f} ms  "
          f"(target p95 <= 50 ms; first page alone p50 {f50:.1f}, p95 {f95:.1f} ms)")
    print(f"peer_plain_sql_with_exact_total: p50 {q50:.1f} ms, p95 {q95:.1f} ms  "
          f"(peer / LifeBank: p50 {q50 / p50:.1f}x, p95 {q95 / p95:.1f}x)")
    print("  LifeBank: the total is the sum of the freezer's ~1,000 box rows of bb_specimen_tally (kept by "
          "triggers), the page is the first 50 matches in storage order")
    print("  peer: same filters, same total and first page (asserted on 5 freezers); its exact SQL:")
    print("    " + peer.total_sql.replace("\n", "\n    ") + ";")
    print("    " + peer.page_sql.replace("\n", "\n    ") + ";")

    def lineage_query() -> object:
        p = pick.randrange(1, participants + 1)
        return service.specimen_lineage(db, pick.choice([f"B{p:09d}", f"D{p:09d}"]))

    queries = [
        ("query_lineage", lineage_query, 50),
        ("query_box_map", lambda: service.box_map(db, pick.choice(used_boxes)[1]), 20),
        ("query_freezer_occupancy", lambda: service.occupancy(db, pick.choice(freezer_paths)), 50),
        ("query_barcode_lookup",
         lambda: service.get_specimen(db, f"S{pick.randrange(1, participants + 1):09d}"), 50),
    ]
    for name, fn, target in queries:
        fn()
        p50, p95 = timed(fn, args.repeat)
        print(f"{name}: p50 {p50:.1f} ms, p95 {p95:.1f} ms  (target p95 <= {target} ms)")
    print(f"load_average_after_queries: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak_memory: {peak:,.0f} MiB  (target <= 2048 MiB)")
    db.dispose()


if __name__ == "__main__":
    main()
