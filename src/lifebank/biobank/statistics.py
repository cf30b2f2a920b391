"""The bank in numbers, for the dashboard: specimens by type and status, storage fill, collections per
month, consent status.

At 10 M specimens these aggregates read every index entry of the specimen table (1–5 s), far above what a
dashboard may take (≤ 300 ms). So they are computed as one snapshot, kept in memory and shown with the time
it was taken: a snapshot older than `MAX_AGE` is served while a background thread computes the next
(stale-while-revalidate), and `lifebank serve` computes the first one as it starts (`service.warm_up`).
Counts that must be exact at the moment of reading (a specimen's own status, a search total) never come
from here.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from lifebank.biobank.models import Consent, Container, Participant, Specimen
from lifebank.biobank.storage_layout import STORAGE_UNITS
from lifebank.db.engine import Database

MAX_AGE = 300.0  # seconds a snapshot is shown before a fresh one is computed in the background
MONTHS = 24  # collections per month: this many months back from the current one


@dataclass(frozen=True, slots=True)
class StorageFill:
    path: str
    kind: str
    temperature_class: str | None
    used: int
    capacity: int

    @property
    def share(self) -> float:
        return self.used / self.capacity if self.capacity else 0.0


@dataclass(frozen=True, slots=True)
class BankStatistics:
    taken_at: datetime
    seconds: float  # how long computing it took
    by_type_status: dict[tuple[str, str], int]
    storage: list[StorageFill]
    collections_by_month: list[tuple[str, int]]
    participants: int
    consent: dict[str, int] = field(default_factory=dict)  # in_force, withdrawn, none

    @property
    def specimens(self) -> int:
        return sum(self.by_type_status.values())

    def by_status(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for (_type, status), n in self.by_type_status.items():
            out[status] = out.get(status, 0) + n
        return dict(sorted(out.items(), key=lambda kv: -kv[1]))

    def by_type(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for (type_, _status), n in self.by_type_status.items():
            out[type_] = out.get(type_, 0) + n
        return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def _month_key(session: Any) -> Any:
    if session.get_bind().dialect.name == "sqlite":
        return func.substr(Specimen.collected_at, 1, 7)
    return func.to_char(func.timezone("UTC", Specimen.collected_at), "YYYY-MM")


def _months_back(now: datetime, count: int) -> list[str]:
    year, month = now.year, now.month
    keys = []
    for _ in range(count):
        keys.append(f"{year:04d}-{month:02d}")
        month -= 1
        if month == 0:
            year, month = year - 1, 12
    return keys[::-1]


def compute(db: Database) -> BankStatistics:
    """One snapshot of the bank's aggregates (reads whole indexes: seconds at 10 M specimens)."""
    started = time.perf_counter()
    now = datetime.now(UTC)
    with db.session() as session:
        by_type_status = {(t, s): n for t, s, n in session.execute(
            select(Specimen.type, Specimen.status, func.count()).group_by(Specimen.type, Specimen.status))}
        units = session.execute(select(Container.id, Container.name_path, Container.kind,
                                       Container.temperature_class, Container.path)
                                .where(Container.kind.in_([k.value for k in STORAGE_UNITS]))).all()
        used = select(func.count()).where(Specimen.container_id == Container.id).scalar_subquery()
        boxes = session.execute(select(Container.path, Container.capacity, used).where(Container.capacity > 0)).all()
        months = _months_back(now, MONTHS)
        cutoff = datetime(int(months[0][:4]), int(months[0][5:]), 1, tzinfo=UTC) - timedelta(days=1)
        key = _month_key(session)
        per_month = dict(session.execute(select(key, func.count()).where(Specimen.collected_at >= cutoff)
                                         .group_by(key)).all())
        participants = session.scalar(select(func.count()).select_from(Participant)) or 0
        in_force = session.scalar(select(func.count(func.distinct(Consent.participant_id)))
                                  .where(Consent.withdrawn_at.is_(None))) or 0
        with_any = session.scalar(select(func.count(func.distinct(Consent.participant_id)))) or 0
    by_unit: dict[str, list[int]] = {}
    unit_of_prefix = {path: name for _id, name, _k, _t, path in units}
    for box_path, capacity, count in boxes:
        # A box path is '/site/unit/rack/box/': the unit is the longest unit path that prefixes it.
        parts = box_path.strip("/").split("/")
        for depth in range(len(parts), 0, -1):
            name = unit_of_prefix.get("/" + "/".join(parts[:depth]) + "/")
            if name is not None:
                tally = by_unit.setdefault(name, [0, 0])
                tally[0] += count
                tally[1] += capacity
                break
    storage = sorted((StorageFill(name, kind, temp, *by_unit.get(name, [0, 0]))
                      for _id, name, kind, temp, _path in units), key=lambda u: u.path)
    return BankStatistics(
        taken_at=now, seconds=time.perf_counter() - started, by_type_status=by_type_status, storage=storage,
        collections_by_month=[(m, int(per_month.get(m, 0))) for m in months], participants=participants,
        consent={"in_force": in_force, "withdrawn": with_any - in_force, "none": participants - with_any},
    )


class _Cache:
    """One snapshot per database URL, refreshed by at most one background thread at a time."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.snapshots: dict[str, BankStatistics] = {}
        self.running: dict[str, threading.Thread] = {}

    def refresh_in_background(self, db: Database) -> threading.Thread:
        with self.lock:
            thread = self.running.get(db.url)
            if thread is not None and thread.is_alive():
                return thread

            def run() -> None:
                try:
                    snapshot = compute(db)
                    with self.lock:
                        self.snapshots[db.url] = snapshot
                finally:
                    with self.lock:
                        self.running.pop(db.url, None)

            thread = threading.Thread(target=run, name="lifebank-bank-statistics", daemon=True)
            self.running[db.url] = thread
            thread.start()
            return thread


_cache = _Cache()


def bank_statistics(db: Database, *, wait: float = 0.1, max_age: float = MAX_AGE) -> BankStatistics | None:
    """The latest snapshot; computes one in the background when it is missing or older than `max_age`.

    Waits up to `wait` seconds for a missing snapshot (a small bank answers at once); None means it is still
    being computed — the dashboard says so and asks again.
    """
    snapshot = _cache.snapshots.get(db.url)
    fresh = snapshot is not None and (datetime.now(UTC) - snapshot.taken_at).total_seconds() < max_age
    if fresh:
        return snapshot
    thread = _cache.refresh_in_background(db)
    if snapshot is None and wait > 0:
        thread.join(wait)
        return _cache.snapshots.get(db.url)
    return snapshot


def refresh(db: Database) -> BankStatistics:
    """Compute a snapshot now and keep it (server warm-up, tests)."""
    snapshot = compute(db)
    with _cache.lock:
        _cache.snapshots[db.url] = snapshot
    return snapshot


__all__ = ["BankStatistics", "StorageFill", "bank_statistics", "compute", "refresh"]
