"""A technician's specimen commands as users run them: wrong filters exit 1 naming the allowed values; check
out/in, discard and label prints (ZPL, PDF) through real subprocesses on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from lifebank.audit import service as ledger
from lifebank.biobank import service

from .biobank_fixtures import ACTOR
from .test_cli import run


@pytest.fixture
def cli_env(db_url: str, tmp_path: Path) -> dict[str, str]:
    return {"LIFEBANK_DATABASE_URL": db_url, "LIFEBANK_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "200"}


def test_search_with_an_unknown_status_or_type_exits_1_naming_the_allowed_values(bank, cli_env):
    bogus = run(["specimens", "search", "--status", "bogus"], cli_env)
    assert bogus.returncode == 1
    assert "unknown status bogus; allowed: available, reserved, in_use, distributed, consumed, destroyed" \
        in bogus.stderr
    banana = run(["specimens", "search", "--type", "BANANA"], cli_env)
    assert banana.returncode == 1 and "unknown specimen type BANANA; allowed: BLD, SER" in banana.stderr
    service.register_specimen(bank, "S1", participant="P000001", type="SER", quantity=1, actor=ACTOR)
    found = run(["specimens", "search", "--consent", "GRU"], cli_env)
    assert found.returncode == 0 and "1 specimen" in found.stdout and "1 specimens" not in found.stdout


def test_check_out_in_discard_and_print_labels(bank, cli_env, tmp_path):
    service.register_specimen(bank, "S1", participant="P000001", type="SER", quantity=1,
                              location="FRZ-01/R01/BOX-1/A1", actor=ACTOR)
    service.register_specimen(bank, "S2", participant="P000001", type="SER", quantity=1, actor=ACTOR)
    assert run(["biobank", "checkout", "S1"], cli_env).returncode == 0
    assert run(["biobank", "checkin", "S1"], cli_env).returncode == 0
    assert service.get_specimen(bank, "S1")["freeze_thaw"] == 1
    zpl = tmp_path / "labels.zpl"
    done = run(["biobank", "labels", "S1", "S2", "-o", str(zpl)], cli_env)
    assert done.returncode == 0, done.stderr
    assert "printed 2 labels to" in done.stdout
    assert "^FDS1^FS" in zpl.read_text() and "^FDS2^FS" in zpl.read_text()
    pdf = tmp_path / "labels.pdf"
    assert "reprinted 1 label to" in run(["biobank", "labels", "S1", "-o", str(pdf)], cli_env).stdout
    assert pdf.read_bytes().startswith(b"%PDF")
    png = run(["biobank", "labels", "S2", "-o", str(tmp_path / "s2.png")], cli_env)
    assert png.returncode == 0
    _total, events = ledger.list_events(bank, entity_id="S2", limit=10)
    assert [e.action for e in events].count("specimen.label_printed") == 1  # the PNG was not a print
    unknown = run(["biobank", "labels", "S1", "X1", "X2", "-o", str(pdf)], cli_env)
    assert unknown.returncode == 1 and "2 specimens do not exist: X1, X2" in unknown.stderr
    refused = run(["biobank", "discard", "S2", "--reason", " "], cli_env)
    assert refused.returncode == 1 and "a reason is required" in refused.stderr
    assert run(["biobank", "discard", "S2", "--reason", "cracked"], cli_env).returncode == 0
    assert service.get_specimen(bank, "S2")["status"] == "destroyed"
