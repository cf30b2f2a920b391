"""Access requests at scale (issue 11): consent matching, allocation + reservation, pick list, feasibility.

Targets: consent matching of one request over 1,000,000 participants <= 2 s; allocation + reservation of
10,000 specimens <= 5 s; pick list of 10,000 tubes across >= 500 boxes <= 1 s; feasibility count p95 <= 200 ms.
The bank is the one `benchmarks/biobank_scale.py` builds (5 specimens per participant: BLD consumed, two PL1
aliquots and DNA stored, SER stored; 70 % of participants consent GRU+IRB, 30 % HMB), built here through the
same import path, or reused with --reuse.

    .venv/bin/python benchmarks/access_scale.py --specimens 10000000                 # SQLite, builds the bank
    .venv/bin/python benchmarks/access_scale.py --specimens 5000000 --reuse          # time again on that file
    .venv/bin/python benchmarks/access_scale.py --specimens 1000000 \\
        --url postgresql+psycopg://postgres@127.0.0.1:5432/lifebank_access_bench     # an empty PostgreSQL db

Each figure is printed beside a fair peer doing the same work in the same run, through the database's own
driver, with its SQL printed: consent matching as one plain SQL fetch of every candidate's consent (a row per
candidate) + the same rule-table decision per distinct consent, sorting each candidate into eligible or
excluded; the same 10,000 tubes reserved by a plain conditional UPDATE + INSERT (rolled back); the pick list as
one ordered SQL join. The machine is shared: every figure is printed with the load average, and with the CPU
time of this process (SQLite runs in it; PostgreSQL's work is in its server processes, so there the client's
CPU is printed beside the server's: the CPU its backends for this database used, read from /proc).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from biobank_scale import (
    FREEZER_CAPACITY,
    PER_PARTICIPANT,
    SpecimenGenerator,
    build_storage,
    participants_csv,
    quiet,
)
from sqlalchemy import make_url

import lifebank.auth as auth_domain
from lifebank.access import consent_rules, exports, service
from lifebank.access.consent_check import _counts, evaluate_request
from lifebank.access.consent_details import consent_of
from lifebank.access.models import AccessRequest, RequestItem
from lifebank.access.requests import requested_use
from lifebank.auth import service as auth
from lifebank.biobank import imports
from lifebank.db import migrate
from lifebank.db.engine import Database


@dataclass(frozen=True)
class Staff:
    username: str
    organisation_id: int | None = None

    def can(self, permission: str) -> bool:
        return True


def build(db: Database, specimens: int) -> int:
    participants = max(1, specimens // PER_PARTICIPANT)
    migrate.upgrade(db)
    freezers = -(-participants * 4 // FREEZER_CAPACITY)
    boxes = build_storage(db, freezers)
    rng = random.Random(11)
    for first in range(1, participants + 1, 250_000):
        imports.import_participants(db, participants_csv(first, min(250_000, participants + 1 - first), rng),
                                    actor="bench", progress=quiet)
        print(f"  participants {min(first + 249_999, participants):,}", file=sys.stderr)
    generator = SpecimenGenerator(boxes)
    per_batch = 100_000
    for first in range(1, participants + 1, per_batch):
        content, _raw = generator.batch(first, min(per_batch, participants + 1 - first))
        imports.import_specimens(db, content, actor="bench", progress=quiet)
        print(f"  specimens of participants up to {min(first + per_batch - 1, participants):,}", file=sys.stderr)
    return participants


def _load(db: Database, request_id: int) -> tuple[AccessRequest, list[RequestItem]]:
    from sqlalchemy import select

    with db.session() as session:
        request = session.get(AccessRequest, request_id)
        items = list(session.scalars(select(RequestItem).where(RequestItem.request_id == request_id)))
        session.expunge_all()
    assert request is not None
    return request, items


def setup(db: Database) -> tuple[Staff, int, int]:
    """Two requests: A (HMB + ethics approval, SER: every participant a candidate and eligible) for consent
    matching and feasibility; B (HMB, no ethics approval, 10,000 PL1: only HMB-only consents qualify, so
    the tubes spread over many boxes) taken to an agreement and allocated."""
    from sqlalchemy import delete

    from lifebank.access import models as m

    with db.transaction() as session:  # a --reuse run starts from the bank alone
        for table in (m.Notification, m.Allocation, m.Shipment, m.ReviewEntry, m.Reviewer, m.Transition,
                      m.Document, m.RequestItem, m.AccessRequest):
            session.execute(delete(table))
        session.execute(delete(__import__("lifebank.biobank.models", fromlist=["Reservation"]).Reservation))
        from sqlalchemy import update

        from lifebank.biobank.models import Specimen
        session.execute(update(Specimen).where(Specimen.status == "reserved").values(status="available"))
    try:
        auth_domain.get_organisation(db, "Bench Hospital")
    except Exception:
        auth_domain.create_organisation(db, "Bench Hospital", country="CN", kind="hospital", actor="bench")
    for name, role in (("bench-manager", "biobank_manager"), ("bench-reviewer", "researcher")):
        try:
            auth.get_user(db, name)
        except Exception:
            auth.create_user(db, name, "Bench-password-2026", [role])
    staff = Staff("bench-manager")
    a = service.create_request(db, service.RequestDraft(
        title="bench A", organisation="Bench Hospital", purposes=["HMB"], ethics_approval="EC-1",
        items=[service.Item("SER", 1)]), principal=staff)
    b = service.create_request(db, service.RequestDraft(
        title="bench B", organisation="Bench Hospital", purposes=["HMB"],
        items=[service.Item("PL1", 1, 10_000)]), principal=staff)
    reviewer = auth.principal_of(auth.get_user(db, "bench-reviewer"))
    service.appoint_committee(db, b, ["bench-reviewer"], principal=staff)
    service.cast_vote(db, b, "approve", principal=reviewer)
    service.add_document(db, b, kind="agreement", filename="mta.pdf", content=b"%PDF", content_type="application/pdf",
                         principal=staff)
    service.sign_agreement(db, b, principal=staff)
    return staff, a, b


PEER_CONSENTS = {
    "sqlite": ("SELECT p.code, c.consent_date, c.scope, group_concat(cc.duo_code, ';')\n"
               "FROM bb_participant p JOIN bb_consent c ON c.participant_id = p.id AND c.withdrawn_at IS NULL\n"
               "JOIN bb_consent_code cc ON cc.consent_id = c.id\n"
               "WHERE p.id IN (SELECT s.participant_id FROM bb_specimen s WHERE s.type = 'SER' "
               "AND s.status = 'available')\nGROUP BY p.code, c.id ORDER BY p.code"),
    "postgresql": ("SELECT p.code, c.consent_date, c.scope, string_agg(cc.duo_code, ';')\n"
                   "FROM bb_participant p JOIN bb_consent c ON c.participant_id = p.id AND c.withdrawn_at IS NULL\n"
                   "JOIN bb_consent_code cc ON cc.consent_id = c.id\n"
                   "WHERE p.id IN (SELECT s.participant_id FROM bb_specimen s WHERE s.type = 'SER' "
                   "AND s.status = 'available')\nGROUP BY p.code, c.id ORDER BY p.code"),
}
PEER_FEASIBILITY = (
    "SELECT p.consent_signature_id, count(*) FROM bb_participant p WHERE p.id IN (SELECT s.participant_id "
    "FROM bb_specimen s WHERE s.type IN ({marks}) AND s.status = 'available') GROUP BY 1",
    "SELECT p.consent_signature_id, s.type, count(*) FROM bb_specimen s JOIN bb_participant p "
    "ON p.id = s.participant_id WHERE s.type IN ({marks}) AND s.status = 'available' AND s.distributable "
    "GROUP BY 1, 2",
)
PEER_PICK = ("SELECT s.barcode, b.name_path, s.position FROM bb_specimen s JOIN bb_container b "
             "ON b.id = s.container_id\nWHERE s.status = 'reserved' ORDER BY b.name_path, s.position")


class Peer:
    """The same work as plain SQL through the database's own driver."""

    def __init__(self, db: Database, url: str) -> None:
        self.dialect = db.dialect
        if self.dialect == "sqlite":
            self.conn: Any = sqlite3.connect(make_url(url).database)
            self.conn.execute("PRAGMA cache_size=-65536")
            self.conn.execute("PRAGMA mmap_size=2147418112")
        else:
            self.conn = db.engine.raw_connection()
        self.mark = "?" if self.dialect == "sqlite" else "%s"

    def rows(self, sql: str, params: tuple = ()) -> list[tuple]:
        cursor = self.conn.cursor()
        cursor.execute(sql, params)
        out = cursor.fetchall()
        cursor.close()
        return out

    def consents(self) -> int:
        found = self.rows(PEER_CONSENTS[self.dialect])
        self.conn.rollback()
        return len(found)

    def consent_matching(self, use: consent_rules.RequestedUse) -> tuple[list[str], list[tuple[str, tuple]]]:
        """The plain SQL fetch, then the rule table once per distinct consent (codes, date, scope) and each
        candidate sorted into eligible or excluded: the same work as LifeBank's check, written by hand."""
        decided: dict[tuple, consent_rules.Decision] = {}
        eligible: list[str] = []
        excluded: list[tuple[str, tuple]] = []
        cursor = self.conn.cursor()
        cursor.execute(PEER_CONSENTS[self.dialect])
        for code, day, scope, codes in cursor:
            key = (codes, day, scope)
            decision = decided.get(key)
            if decision is None:
                ordered = tuple(sorted(codes.split(";")))
                when = day if isinstance(day, date) or day is None else date.fromisoformat(str(day)[:10])
                decision = decided[key] = consent_rules.evaluate(consent_of(ordered, when, scope or ""), use)
            if decision.permitted:
                eligible.append(code)
            else:
                excluded.append((code, decision.reasons))
        cursor.close()
        self.conn.rollback()
        return eligible, excluded

    def feasibility(self, types: list[str], use: consent_rules.RequestedUse) -> tuple[int, int, int]:
        """Two grouped counts by the participants' stored consent signature (candidates; their available,
        distributable tubes per type), then the rule table once per signature: the same counts, by hand."""
        kinds = sorted(set(types))
        marks = ",".join([self.mark] * len(kinds))
        signed = {sid: (tuple(codes.split(";")) if codes else (), day, scope or "") for sid, codes, day, scope in
                  self.rows("SELECT id, codes, consent_date, scope FROM bb_consent_signature")}
        people = self.rows(PEER_FEASIBILITY[0].format(marks=marks), tuple(kinds))
        tubes: dict[Any, int] = {}
        for sid, kind, n in self.rows(PEER_FEASIBILITY[1].format(marks=marks), tuple(kinds)):
            tubes[sid] = tubes.get(sid, 0) + n * types.count(kind)
        self.conn.rollback()
        eligible = excluded = specimens = 0
        for sid, n in people:
            consent = None
            if sid is not None:
                codes, day, scope = signed[sid]
                when = day if isinstance(day, date) or day is None else date.fromisoformat(str(day)[:10])
                consent = consent_of(codes, when, scope)
            if consent_rules.evaluate(consent, use).permitted:
                eligible += n
                specimens += tubes.get(sid, 0)
            else:
                excluded += n
        return eligible, excluded, specimens

    def reserve(self, barcodes: list[str]) -> int:
        """Conditional UPDATE per chunk + one INSERT of reservations, then ROLLBACK (the tubes stay free)."""
        cursor = self.conn.cursor()
        flipped: list[tuple] = []
        for start in range(0, len(barcodes), 5000):
            chunk = barcodes[start:start + 5000]
            marks = ",".join([self.mark] * len(chunk))
            cursor.execute(f"UPDATE bb_specimen SET status = 'reserved' WHERE barcode IN ({marks}) "
                           "AND status = 'available' AND distributable RETURNING id", chunk)
            flipped += cursor.fetchall()
        cursor.executemany(f"INSERT INTO bb_reservation (specimen_id, purpose, reserved_by, reserved_at) "
                           f"VALUES ({self.mark}, 'peer', 'peer', CURRENT_TIMESTAMP)", flipped)
        self.conn.rollback()
        return len(flipped)

    def pick(self) -> int:
        found = self.rows(PEER_PICK)
        self.conn.rollback()
        return len(found)


class ServerCpu:
    """CPU seconds the PostgreSQL server spent for this database: utime + stime (from /proc) of its backends,
    sampled before and after a step (the server runs on this machine). Parallel workers that start and end
    inside a step are missed, so this is a lower bound; on SQLite there is no server (None)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.ticks = os.sysconf("SC_CLK_TCK")
        self.seen: dict[int, float] = {}

    def _sample(self) -> dict[int, float]:
        from sqlalchemy import text

        with self.db.engine.connect() as connection:
            pids = [r[0] for r in connection.execute(text(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"))]
        out = {}
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            out[pid] = (int(fields[11]) + int(fields[12])) / self.ticks
        return out

    def start(self) -> None:
        if self.db.dialect == "postgresql":
            self.seen = self._sample()

    def seconds(self) -> float | None:
        if self.db.dialect != "postgresql":
            return None
        now = self._sample()
        return sum(cpu - self.seen.get(pid, 0.0) for pid, cpu in now.items())


def server(cpu: float | None) -> str:
    return "" if cpu is None else f", server {cpu:.2f} s CPU"


def timed(fn: Callable[[], object], repeat: int = 3) -> tuple[float, object]:
    return timed_cpu(fn, repeat)[0::2]  # type: ignore[return-value]


def timed_cpu(fn: Callable[[], object], repeat: int = 3) -> tuple[float, float, object]:
    """Best wall seconds, best CPU seconds of this process (time.process_time), last value."""
    best, best_cpu, value = float("inf"), float("inf"), None
    for _ in range(repeat):
        started, cpu = time.perf_counter(), time.process_time()
        value = fn()
        best = min(best, time.perf_counter() - started)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    return best, best_cpu, value


def load() -> str:
    return "load " + " ".join(f"{x:.1f}" for x in os.getloadavg())


QUESTIONS = [  # (purposes, disease, commercial, ethics approval, specimen types): what requesters ask
    (["HMB"], None, False, "EC-1", ["SER"]), (["GRU"], None, False, None, ["PL1"]),
    (["HMB"], None, False, None, ["DNA"]), (["GRU"], None, True, "EC-2", ["SER", "PL1"]),
    (["DS"], "C50", False, "EC-3", ["DNA", "SER"]), (["HMB"], None, True, None, ["PL1", "DNA"]),
    (["GRU"], None, False, "EC-4", ["BLD"]), (["HMB"], None, False, "EC-5", ["SER", "PL1", "DNA"]),
    (["DS"], "E11", True, None, ["PL1"]), (["GRU"], None, False, None, ["DNA", "BLD"]),
]


def feasibility_new(db: Database, staff: Staff, peer: Peer, backend: ServerCpu, args: argparse.Namespace) -> None:
    """Feasibility of new questions: each request counted once, the first time it is asked (as when a
    requester fills in the form), against the peer's plain SQL for the same counts (asserted equal)."""
    ids = []
    for round_ in range(args.rounds):
        for n, (purposes, disease, commercial, ethics, types) in enumerate(QUESTIONS):
            ids.append((types, service.create_request(db, service.RequestDraft(
                title=f"bench Q{round_}.{n}", organisation="Bench Hospital", purposes=purposes, disease=disease,
                commercial=commercial, ethics_approval=ethics, items=[service.Item(t, 1) for t in types]),
                principal=staff)))
    walls, cpus = [], []
    backend.start()
    answers = {}
    for _types, request_id in ids:
        started, cpu = time.perf_counter(), time.process_time()
        answer = service.feasibility(db, request_id, staff)
        walls.append(time.perf_counter() - started)
        cpus.append(time.process_time() - cpu)
        answers[request_id] = answer
    server_all = backend.seconds()
    at = load()
    peer_walls, peer_cpus = [], []
    for types, request_id in ids:
        request, _items = _load(db, request_id)
        use = requested_use(request)
        started, cpu = time.perf_counter(), time.process_time()
        counts = peer.feasibility(types, use)
        peer_walls.append(time.perf_counter() - started)
        peer_cpus.append(time.process_time() - cpu)
        answer = answers[request_id]
        assert counts == (answer["participants"], answer["excluded"], answer["specimens"]), (types, counts, answer)
    peer_at = load()

    def p(values: list[float], q: int) -> float:
        return statistics.quantiles(values, n=100)[q - 1] * 1000 if len(values) > 1 else values[0] * 1000

    per_call = "" if server_all is None else f", server {server_all / len(ids) * 1000:.1f} ms CPU per call"
    print(f"feasibility_new_question: p50 {p(walls, 50):.1f} ms, p95 {p(walls, 95):.1f} ms wall, p95 "
          f"{p(cpus, 95):.1f} ms CPU{per_call}  ({len(ids)} questions, each asked once: {len(QUESTIONS)} purposes x "
          f"type sets, {args.rounds} rounds; API-level call with the permission check and threshold; "
          f"target p95 <= 200 ms; {at})")
    print(f"feasibility_new_question_peer: p50 {p(peer_walls, 50):.1f} ms, p95 {p(peer_walls, 95):.1f} ms wall "
          f"(peer / LifeBank at p95: {p(peer_walls, 95) / p(walls, 95):.1f}x; same counts asserted; {peer_at}; "
          f"plain SQL through {'sqlite3' if db.dialect == 'sqlite' else 'psycopg'}, then the rule table once per "
          f"signature:\n{PEER_FEASIBILITY[0]}\n{PEER_FEASIBILITY[1]})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--specimens", type=int, default=10_000_000, help="specimens of the bank")
    parser.add_argument("--url", default=None, help="database URL (default: a SQLite file, see --db)")
    parser.add_argument("--db", default="/tmp/lifebank_access_bench.db", help="SQLite file")
    parser.add_argument("--reuse", action="store_true", help="time again on a bank an earlier run built")
    parser.add_argument("--repeat", type=int, default=50, help="feasibility calls for the p95")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each timed step (the best is printed)")
    args = parser.parse_args()
    if args.url:
        url = args.url
    else:
        if not args.reuse:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{args.db}{suffix}").unlink(missing_ok=True)
        url = f"sqlite:///{args.db}"
    db = Database(url)
    if args.reuse:
        migrate.upgrade(db)
        participants = max(1, args.specimens // PER_PARTICIPANT)
    else:
        started = time.perf_counter()
        participants = build(db, args.specimens)
        print(f"bank_build: {time.perf_counter() - started:,.0f} s", file=sys.stderr)
    staff, a, b = setup(db)
    peer = Peer(db, url)

    print(f"backend: {db.dialect}")
    print(f"bank: {args.specimens:,} specimens, {participants:,} participants"
          + ("" if args.specimens >= 10_000_000 else "  (smaller than the issue's 10 M bank: see --specimens)"))
    print(f"load_average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}  (1, 5, 15 min)")
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    print(f"machine: {os.cpu_count()} CPUs, {memory:.0f} GiB memory, shared")

    request, items = _load(db, a)
    backend = ServerCpu(db)
    backend.start()
    seconds, cpu, result = timed_cpu(lambda: evaluate_request(db, request, items), args.rounds)
    server_check = backend.seconds()
    server_check = None if server_check is None else server_check / args.rounds
    assert isinstance(result, service.CheckResult)
    at = load()
    use = requested_use(request)
    peer_seconds, peer_cpu, (peer_eligible, peer_excluded) = timed_cpu(  # type: ignore[misc]
        lambda: peer.consent_matching(use), args.rounds)
    peer_at = load()
    assert peer_eligible == result.eligible and len(peer_excluded) == result.excluded_count, \
        (len(peer_eligible), len(result.eligible))
    candidates = len(result.eligible) + result.excluded_count
    print(f"consent_matching: {seconds:.2f} s wall, {cpu:.2f} s CPU{server(server_check)}  "
          f"({candidates:,} candidate participants, "
          f"{len(result.eligible):,} eligible; per 1,000,000: {seconds * 1e6 / candidates:.2f} s wall, "
          f"{cpu * 1e6 / candidates:.2f} s CPU; target <= 2 s at 1,000,000; {at})")
    print(f"consent_matching_peer: {peer_seconds:.2f} s wall, {peer_cpu:.2f} s CPU  (peer / LifeBank: wall "
          f"{peer_seconds / seconds:.1f}x, CPU {peer_cpu / cpu:.1f}x; same eligible list asserted; {peer_at}; "
          f"plain SQL through {'sqlite3' if db.dialect == 'sqlite' else 'psycopg'}, a row per candidate, then "
          f"the rule table once per distinct (codes, date, scope) and each row sorted into eligible/excluded:\n"
          f"{PEER_CONSENTS[db.dialect]})")
    out_seconds, out_cpu, text_out = timed_cpu(lambda: json.dumps(result.as_dict()), 1)
    print(f"consent_matching_json: {out_seconds:.2f} s wall, {out_cpu:.2f} s CPU  (as_dict + json.dumps of the "
          f"answer the CLI and API print, {len(text_out) / 2**20:.0f} MiB; {load()})")  # type: ignore[arg-type]

    backend.start()
    started, cpu = time.perf_counter(), time.process_time()
    allocated = service.allocate(db, b, principal=staff)
    allocation_seconds, allocation_cpu = time.perf_counter() - started, time.process_time() - cpu
    server_allocation = backend.seconds()
    allocation_at = load()
    rows = service.pick_list(db, b, staff)
    barcodes = [r["barcode"] for r in rows]
    boxes = len({r["source"].rsplit("/", 1)[0] for r in rows if r["source"]})
    service.withdraw_request(db, b, principal=staff, note="bench: release for the peer")
    peer_alloc, reserved = timed(lambda: peer.reserve(barcodes), 1)
    assert reserved == len(barcodes)
    print(f"allocation_and_reservation: {allocation_seconds:.2f} s wall, {allocation_cpu:.2f} s CPU"
          f"{server(server_allocation)}  "
          f"({allocated['allocated']:,} tubes, {allocated['participants']:,} participants, consent matching of the "
          f"participants read included; target <= 5 s; {allocation_at})")
    print(f"reservation_peer: {peer_alloc:.2f} s  (LifeBank / peer {allocation_seconds / peer_alloc:.1f}x; "
          f"conditional UPDATE of the same tubes in chunks of 5,000 + executemany INSERT of reservations, rolled "
          f"back; the peer neither selects the tubes nor checks consent; {load()})")

    # Re-allocate for the pick list (the withdrawal released the tubes).
    c = service.create_request(db, service.RequestDraft(
        title="bench C", organisation="Bench Hospital", purposes=["HMB"],
        items=[service.Item("PL1", 1, 10_000)]), principal=staff)
    reviewer = auth.principal_of(auth.get_user(db, "bench-reviewer"))
    service.appoint_committee(db, c, ["bench-reviewer"], principal=staff)
    service.cast_vote(db, c, "approve", principal=reviewer)
    service.add_document(db, c, kind="agreement", filename="mta.pdf", content=b"%PDF",
                         content_type="application/pdf", principal=staff)
    service.sign_agreement(db, c, principal=staff)
    service.allocate(db, c, principal=staff)
    pick_seconds, pick_rows = timed(lambda: exports.pick_list_bytes(c, service.pick_list(db, c, staff), "json"), 3)
    pdf_seconds, pdf = timed(lambda: exports.pick_list_bytes(c, service.pick_list(db, c, staff), "pdf"), 1)
    peer_pick, picked = timed(peer.pick, 3)
    print(f"pick_list: {pick_seconds:.2f} s  ({len(barcodes):,} tubes across {boxes:,} boxes, storage-path "
          f"order, JSON job file; target <= 1 s)")
    print(f"pick_list_pdf: {pdf_seconds:.2f} s  ({len(pdf) / 2**20:.1f} MiB)")  # type: ignore[arg-type]
    print(f"pick_list_peer: {peer_pick:.2f} s  (ratio {pick_seconds / peer_pick:.1f}x; {picked:,} rows of:\n"
          f"{PEER_PICK})")

    feasibility_new(db, staff, peer, backend, args)

    request, items = _load(db, a)
    from lifebank.access import consent_check

    filtered = service.create_request(db, service.RequestDraft(  # a minimum volume: counted from the tubes
        title="bench F", organisation="Bench Hospital", purposes=["HMB"], ethics_approval="EC-1",
        items=[service.Item("SER", 1, None, 0.5)]), principal=staff)
    request, items = _load(db, filtered)
    colds = []
    for _ in range(args.rounds):
        consent_check._CACHE.clear()
        backend.start()
        started, cpu = time.perf_counter(), time.process_time()
        counts = _counts(db, request, items)
        colds.append((time.perf_counter() - started, time.process_time() - cpu, backend.seconds()))
    cold_at = load()
    times = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        service.feasibility(db, filtered, staff)
        times.append(time.perf_counter() - started)
    p95 = statistics.quantiles(times, n=20)[-1]
    cold, cold_cpu, cold_server = min(colds, key=lambda c: c[0])
    print(f"feasibility_volume_first: {cold:.2f} s wall, {cold_cpu:.2f} s CPU{server(cold_server)}  (a request "
          f"with a minimum volume, which only the tubes themselves can answer: best of {args.rounds} first calls, "
          f"{counts[0]:,} eligible, {counts[1]:,} excluded, {counts[2]:,} tubes; {cold_at})")
    print(f"feasibility_volume_repeated_p95: {p95 * 1000:.1f} ms  ({args.repeat} calls within the minute such "
          f"counts are kept; {load()})")
    peer.conn.close()


if __name__ == "__main__":
    main()
