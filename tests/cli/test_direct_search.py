"""`lifebank specimens search` without the ORM gives exactly what the service gives, on SQLite and PostgreSQL.

`lifebank.biobank.search_direct` re-states the search as plain SQL over the driver (issue 10: a one-shot
query's fixed cost). These tests build one bank with every kind of row the views show (boxes of both label
schemes, unplaced tubes, aliquots, statuses, withdrawn consent, notes, odd timestamps) and compare the two
paths filter by filter, sort by sort, page by page, error by error; then run the real command in a fresh
process and check it took the direct path and printed the service's answer.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from lifebank.biobank import search_direct, service
from lifebank.cli import direct
from lifebank.db.engine import Database
from lifebank.errors import LifeBankError

ACTOR = "tester"


def build_bank(db: Database) -> None:
    for name, kind, extra in (("Site", "site", {}), ("Upright -80", "freezer", {}), ("LN2 tank", "tank", {}),
                              ("Rack", "rack", {}), ("Box 9x9", "box", {"rows": 9, "columns": 9,
                                                                       "scheme": "letter-number"}),
                              ("Box 10x10", "box", {"rows": 10, "columns": 10, "scheme": "sequential"})):
        service.define_container_type(db, name, kind=kind, actor=ACTOR, **extra)
    service.create_container(db, "FRZ-01", type_name="Upright -80", temperature_class="-80C", actor=ACTOR)
    service.create_container(db, "R01", type_name="Rack", parent_path="FRZ-01", actor=ACTOR)
    service.create_container(db, "BOX-1", type_name="Box 9x9", parent_path="FRZ-01/R01", actor=ACTOR)
    service.create_container(db, "BOX-2", type_name="Box 9x9", parent_path="FRZ-01/R01", actor=ACTOR)
    service.create_container(db, "TANK-01", type_name="LN2 tank", temperature_class="LN2", actor=ACTOR)
    service.create_container(db, "RL1", type_name="Rack", parent_path="TANK-01", actor=ACTOR)
    service.create_container(db, "CB-1", type_name="Box 10x10", parent_path="TANK-01/RL1", actor=ACTOR)
    for code, codes, sex in (("P000001", "DUO:0000042", "F"), ("P000002", "DUO:0000006;DUO:0000021", "M"),
                             ("P000003", "DUO:0000042;DUO:0000006", "F")):
        service.register_participant(db, code, sex=sex, birth_year=1980, site="SH", actor=ACTOR)
        service.record_consent(db, code, duo_codes=codes, consent_date=datetime(2024, 1, 2).date(), actor=ACTOR)
    tubes = [("S01", "P000001", "SER", 1.5, "FRZ-01/R01/BOX-1/A1", datetime(2024, 3, 1, 8, 0, tzinfo=UTC)),
             ("S02", "P000001", "PL1", 0.5, "FRZ-01/R01/BOX-1/B3", datetime(2024, 3, 1, 8, 0, 0, 123456, UTC)),
             ("S03", "P000002", "SER", 2, "FRZ-01/R01/BOX-2/I9", None),
             ("S04", "P000002", "DNA", 10, "TANK-01/RL1/CB-1/42", datetime(2023, 12, 31, 23, 59, 59, tzinfo=UTC)),
             ("S05", "P000003", "PL1", 1, None, datetime(2024, 5, 5, 5, 5, 5, tzinfo=UTC)),
             ("S06", "P000002", "SER", None, "FRZ-01/R01/BOX-1/C2", None),
             ("S07", "P000003", "SER", 1, "FRZ-01/R01/BOX-2/A1", datetime(2024, 2, 2, tzinfo=UTC))]
    for barcode, participant, type_, quantity, location, collected in tubes:
        service.register_specimen(db, barcode, participant=participant, type=type_, quantity=quantity,
                                  collected_at=collected, location=location, actor=ACTOR)
    service.split_specimen(db, "S01", count=2, quantity=0.25, actor=ACTOR)  # aliquots with a parent, unplaced
    service.reserve_specimens(db, ["S02"], purpose="study 7", actor=ACTOR)
    service.discard_specimen(db, "S03", reason="broken", actor=ACTOR)
    service.withdraw_consent(db, "P000003", reason="asked", actor=ACTOR)


@pytest.fixture
def bank(db: Database) -> Database:
    build_bank(db)
    return db


@pytest.fixture
def direct_env(db_url: str, tmp_path: Path) -> dict[str, str]:
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    return {"LIFEBANK_DATABASE_URL": db_url, "LIFEBANK_DATA_DIR": str(data)}


def outcome(run: Any, *args: Any, **kwargs: Any) -> Any:
    """The result, or the error's class and English message (what the CLI prints)."""
    try:
        return run(*args, **kwargs)
    except LifeBankError as exc:
        return type(exc).__name__, exc.detail


FILTERS: list[dict[str, str | None]] = [
    {}, {"type": "SER"}, {"type": " pl1 "}, {"status": "available"}, {"status": "Reserved"},
    {"type": "SER", "status": "available"}, {"participant": "P000001"}, {"participant": " P000002 "},
    {"participant": "NOBODY"}, {"consent": "DUO:0000042"}, {"consent": "GRU"}, {"consent": "0000006"},
    {"consent": "HMB", "type": "SER"}, {"container": "FRZ-01"}, {"container": " FRZ-01 / R01/ "},
    {"container": "FRZ-01/R01/BOX-1"}, {"container": "FRZ-01/R01/BOX-1/A1"}, {"container": "TANK-01"},
    {"container": "FRZ-01", "type": "SER"}, {"container": "FRZ-01", "type": "SER", "status": "available"},
    {"container": "FRZ-01", "consent": "GRU", "type": "SER", "status": "available"},
    {"container": "FRZ-01", "participant": "P000001", "status": "available"},
    # the errors: each must be the same error with the same words
    {"type": "BANANA"}, {"status": "bogus"}, {"consent": "DUO:9999999"}, {"container": "NO/SUCH"},
]
SORTS = [None, "barcode", "-barcode", "type", "-status", "participant", "-participant", "collected", "-collected",
         "location", "-location", "bogus"]


def test_every_filter_sort_and_page_gives_the_service_answer(bank: Database, direct_env: dict[str, str]) -> None:
    conn = direct.connect(direct_env)
    assert conn is not None, "a current schema on a plain URL takes the direct path"
    try:
        compared = 0
        for flt in FILTERS:
            for sort in SORTS:
                for limit, offset in ((50, 0), (2, 3)):
                    expected = outcome(service.search_specimens, bank, service.SpecimenFilter(**flt), limit=limit,
                                       offset=offset, sort=sort)
                    got = outcome(search_direct.search_specimens, conn, **flt, limit=limit, offset=offset, sort=sort)
                    assert got == expected, (flt, sort, limit, offset)
                    compared += 1
        assert compared == len(FILTERS) * len(SORTS) * 2
    finally:
        conn.close()
    everything = service.search_specimens(bank, service.SpecimenFilter(), limit=100)
    assert everything[0] == 9 and {item["location"] for item in everything[1]} >= {
        "FRZ-01/R01/BOX-1/A1", "TANK-01/RL1/CB-1/42", None}  # the bank shows what the comparison covers


def test_not_sure_means_the_service_path(bank: Database, db_url: str, direct_env: dict[str, str],
                                         tmp_path: Path) -> None:
    """An outdated schema, an unusual URL, a doubtful setting or a missing database: no direct connection."""
    with bank.transaction() as session:
        from sqlalchemy import text

        session.execute(text("UPDATE alembic_version SET version_num = '0001_foundation' "
                             "WHERE version_num LIKE '0%'"))
    assert direct.connect(direct_env) is None
    assert direct.connect({**direct_env, "LIFEBANK_TIME_ZONE": "Mars/Olympus"}) is None
    assert direct.connect({**direct_env, "lifebank_data_dir": "/elsewhere"}) is None  # the same name twice
    assert direct.connect({"LIFEBANK_DATABASE_URL": "sqlite:///" + str(tmp_path / "none.db"),
                           "LIFEBANK_DATA_DIR": str(tmp_path)}) is None
    assert not (tmp_path / "none.db").exists(), "a read never creates a database"
    assert direct.connect({"LIFEBANK_DATABASE_URL": "sqlite:///x.db?mode=ro"}) is None
    assert direct.connect({"LIFEBANK_DATABASE_URL": "mysql://x@localhost/db"}) is None
    assert direct.connect({"LIFEBANK_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none"}) is None
    assert direct.connect({"LIFEBANK_DATA_DIR": str(tmp_path / "missing")}) is None


PROBE = """
import json, sys
from lifebank.cli.main import main
sys.argv = ["lifebank", *sys.argv[1:]]
try:
    main()
finally:
    print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def test_the_command_takes_the_direct_path_and_prints_the_service_answer(bank: Database,
                                                                         direct_env: dict[str, str]) -> None:
    args = ["--container", "FRZ-01", "--sort", "-location", "--limit", "3"]
    proc = subprocess.run([sys.executable, "-c", PROBE, "specimens", "search", *args, "--format", "json"],
                          capture_output=True, text=True, timeout=120, env={**os.environ, **direct_env})
    assert proc.returncode == 0, proc.stderr[-2000:]
    modules = set(json.loads(proc.stderr.strip().splitlines()[-1]))
    for heavy in ("sqlalchemy", "pydantic_settings", "lifebank.biobank.service", "lifebank.biobank.models",
                  "lifebank.hla.cli", "lifebank.omics.cli"):
        assert heavy not in modules, heavy
    total, items = service.search_specimens(bank, service.SpecimenFilter(container="FRZ-01"), limit=3,
                                            sort="-location")
    assert json.loads(proc.stdout) == json.loads(json.dumps({"total": total, "items": items}, default=str))
    assert total == 4 and len(items) == 3
    wrong = subprocess.run([sys.executable, "-m", "lifebank", "specimens", "search", "--type", "BANANA"],
                           capture_output=True, text=True, timeout=120, env={**os.environ, **direct_env})
    assert wrong.returncode == 1 and wrong.stderr.startswith("error: unknown specimen type BANANA; allowed: BLD")
