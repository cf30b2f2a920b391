"""The commands as users run them: real subprocesses on real databases."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from lifebank.audit import service as ledger
from lifebank.biobank.models import Specimen

from .biobank_fixtures import ACTOR, participants_csv, specimens_csv


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lifebank", *args], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=300)


@pytest.fixture
def cli_env(db_url: str, tmp_path: Path) -> dict[str, str]:
    return {"LIFEBANK_DATABASE_URL": db_url, "LIFEBANK_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "200"}


def test_import_then_search_as_json(bank, cli_env, tmp_path):
    people = tmp_path / "people.csv"
    people.write_bytes(participants_csv(3, start=10))
    assert run(["import", "participants", str(people)], cli_env).returncode == 0
    tubes = tmp_path / "tubes.csv"
    tubes.write_bytes(specimens_csv(4, 2).replace(b"P000001", b"P000010").replace(b"P000002", b"P000011"))
    done = run(["import", "specimens", str(tubes), "--format", "json"], cli_env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["rows"] == 4
    found = run(["specimens", "search", "--participant", "P000010", "--type", "SER", "--limit", "1",
                 "--format", "json"], cli_env)
    body = json.loads(found.stdout)
    assert body["total"] == 2
    assert [i["barcode"] for i in body["items"]] == ["T00000000"]


def test_rejected_import_lists_rows_as_json_and_text(bank, cli_env, tmp_path):
    tubes = tmp_path / "tubes.csv"
    tubes.write_bytes(specimens_csv(3, 1).replace(b"T00000001,P000001,SER,1.0,mL", b"T00000001,P000001,SER,x,mL"))
    as_json = run(["import", "specimens", str(tubes), "--format", "json"], cli_env)
    assert as_json.returncode == 1
    assert json.loads(as_json.stdout) == [
        {"line": 3, "column": "quantity", "reason": "'x' is not a non-negative number"}]
    as_text = run(["import", "specimens", str(tubes)], cli_env)
    assert as_text.returncode == 1
    assert "line 3, column quantity: 'x' is not a non-negative number" in as_text.stderr


def test_sigkill_mid_import_leaves_the_database_unchanged(bank, cli_env, tmp_path, backend):
    from .biobank_fixtures import add_participant

    for i in range(3, 23):
        add_participant(bank, f"P{i:06d}")
    tubes = tmp_path / "big.csv"
    tubes.write_bytes(specimens_csv(400_000, 20).replace(b"P000001,", b"P000003,").replace(b"P000002,", b"P000004,"))
    before = ledger.verify(bank)
    proc = subprocess.Popen([sys.executable, "-m", "lifebank", "import", "specimens", str(tubes)],
                            env={**os.environ, **cli_env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    wal = Path(str(bank.url).removeprefix("sqlite:///") + "-wal") if backend == "sqlite" else None
    while time.monotonic() < deadline and proc.poll() is None:
        if wal is not None:
            if wal.exists() and wal.stat().st_size > 4_000_000:
                break
        else:
            with bank.engine.connect() as conn:
                busy = conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE (query LIKE "
                                         "'COPY bb_specimen%' OR query LIKE 'INSERT INTO bb_specimen%') "
                                         "AND state <> 'idle'")).scalar()
            if busy:
                break
        time.sleep(0.02)
    assert proc.poll() is None, "the import finished before it could be killed; make the file bigger"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    time.sleep(0.2)
    with bank.session() as session:
        assert session.scalar(select(func.count()).select_from(Specimen)) == 0
    after = ledger.verify(bank)
    assert after.ok and after.checked == before.checked
    assert ACTOR


def test_storage_and_specimen_commands(db, cli_env, tmp_path):
    steps = [
        ["biobank", "container-type-add", "Freezer", "--kind", "freezer"],
        ["biobank", "container-type-add", "Box 9x9", "--kind", "box", "--rows", "9", "--columns", "9"],
        ["biobank", "container-add", "FRZ-9", "--type", "Freezer", "--temperature", "-80C"],
        ["biobank", "container-add", "BX-1", "--type", "Box 9x9", "--parent", "FRZ-9"],
        ["biobank", "participant-add", "P000100", "--sex", "F", "--site", "SH", "--birth-year", "1970"],
        ["biobank", "consent-add", "P000100", "--duo", "GRU;IRB", "--date", "2024-05-01"],
        ["biobank", "specimen-add", "--participant", "P000100", "--type", "PL1", "--quantity", "2",
         "--barcode", "PL-9"],
        ["biobank", "place", "PL-9"],
        ["biobank", "labels", "PL-9", "--output", str(tmp_path / "label.png"), "--symbology", "datamatrix"],
    ]
    for step in steps:
        done = run(step, cli_env)
        assert done.returncode == 0, (step, done.stderr)
    occupancy = json.loads(run(["biobank", "occupancy", "FRZ-9", "--format", "json"], cli_env).stdout)
    assert (occupancy["used"], occupancy["capacity"]) == (1, 81)
    grid = json.loads(run(["biobank", "box-map", "FRZ-9/BX-1", "--format", "json"], cli_env).stdout)
    assert grid["cells"][0]["specimen"]["barcode"] == "PL-9"
    assert (tmp_path / "label.png").read_bytes().startswith(b"\x89PNG")
    withdrawn = run(["biobank", "consent-withdraw", "P000100", "--reason", "request"], cli_env)
    assert "1 specimen no longer distributable" in withdrawn.stdout
    refused = run(["biobank", "reserve", "PL-9", "--purpose", "study"], cli_env)
    assert refused.returncode == 1
    assert "PL-9 cannot be reserved: it is not distributable (consent withdrawn)" in refused.stderr
