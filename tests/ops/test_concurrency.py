"""Hundreds of reservations racing over HTTP against two worker processes: never a tube reserved twice.

The full run (1,000 attempts, PostgreSQL) is `benchmarks/concurrency.py`; this one is the same harness, smaller.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
SCRIPT = Path(__file__).parents[2] / "benchmarks" / "concurrency.py"


def test_racing_reservations_never_double_allocate_on_postgresql() -> None:
    """PostgreSQL is where writers really race (SQLite's BEGIN IMMEDIATE queues them); before writers took
    turns, this race deadlocked on the specimen tally rows and answered 500."""
    done = subprocess.run([sys.executable, str(SCRIPT), "--attempts", "200", "--concurrency", "32", "--pool", "60"],
                          capture_output=True, text=True, timeout=600)
    report = dict(line.split(": ", 1) for line in done.stdout.splitlines() if ": " in line)
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    assert report["double_allocations"] == "0" and report["server_errors"] == "0"
    assert report["ledger_ok"] == "true" and report["ledger_reserve_events"] == report["accepted"]
    assert int(report["accepted"]) > 10 and report["invariants"] == "hold"
