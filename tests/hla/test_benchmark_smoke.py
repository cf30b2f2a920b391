"""The HLA benchmarks still run (tiny scale) and print one `name: value unit` per line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_benchmark_runs_small():
    script = Path(__file__).parents[2] / "benchmarks" / "hla_search.py"
    out = subprocess.run([sys.executable, str(script), "--donors", "20000", "--patients", "4", "--scan-patients",
                          "2", "--mvt3-patients", "2"], capture_output=True, text=True, timeout=300, check=True)
    lines = [line for line in out.stdout.splitlines() if line.strip()]
    assert all(": " in line for line in lines)
    names = {line.split(":", 1)[0] for line in lines}
    assert {"index_build", "index_memory", "search_p50_2mm_10of10", "speedup_vs_full_scan_0mm"} <= names


def test_index_from_database_benchmark_runs_small():
    script = Path(__file__).parents[2] / "benchmarks" / "hla_index_from_db.py"
    out = subprocess.run([sys.executable, str(script), "--donors", "3000"], capture_output=True, text=True,
                         timeout=300, check=True)
    values = dict(line.split(": ", 1) for line in out.stdout.splitlines() if line.strip())
    assert values["donors"] == "3000 donors"
    assert {"write", "index_from_database", "index_memory", "first_search_after_warm_up",
            "first_search_after_mac_load"} <= set(values)


def test_match_prediction_benchmark_runs_small():
    script = Path(__file__).parents[2] / "benchmarks" / "hla_match_prediction.py"
    out = subprocess.run([sys.executable, str(script), "--donors", "3000", "--patients", "2", "--peer-patients", "1",
                          "--skip-mvt3"], capture_output=True, text=True, timeout=300, check=True)
    lines = [line for line in out.stdout.splitlines() if line.strip()]
    assert all(": " in line for line in lines)
    names = {line.split(":", 1)[0] for line in lines}
    assert {"registry_precompute", "search_top100_by_p10_p50", "peer_reimputing_p50", "memory_rss"} <= names
