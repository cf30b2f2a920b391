"""The exact interfaces of issue 11 as users run them: real `lifebank` subprocesses on real databases."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .access_fixtures import Bank


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lifebank", *args], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=300)


@pytest.fixture
def cli_env(db_url: str, tmp_path: Path) -> dict[str, str]:
    return {"LIFEBANK_DATABASE_URL": db_url, "LIFEBANK_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "200"}


def test_request_create_then_check_as_json(bank: Bank, cli_env: dict[str, str], tmp_path: Path):
    created = run(["access", "request", "create", "--title", "Breast cancer proteomics", "--org", "Pharma GmbH",
                   "--purpose", "DUO:0000006", "--specimen-type", "SER", "--ethics-approval", "EC-2026-7",
                   "--format", "json"], cli_env)
    assert created.returncode == 0, created.stderr
    request_id = json.loads(created.stdout)["id"]
    checked = run(["access", "check", str(request_id), "--format", "json"], cli_env)
    assert checked.returncode == 0, checked.stderr
    result = json.loads(checked.stdout)
    assert set(result) == {"eligible", "excluded"}
    # HMB request from a for-profit company with an ethics approval: NPU (P000004) refuses, DS-only
    # (P000003) does not cover HMB; GRU, HMB and GRU+IRB consents do.
    assert result["eligible"] == ["P000001", "P000002", "P000005", "P000006"]
    reasons = {e["participant"]: e["reason"] for e in result["excluded"]}
    assert set(reasons) == {"P000003", "P000004"}
    assert "for-profit" in reasons["P000004"]
    report = tmp_path / "hgr.xlsx"
    made = run(["access", "hgr-report", "--year", "2026", "--format", "xlsx", "--output", str(report)], cli_env)
    assert made.returncode == 0, made.stderr
    assert report.read_bytes()[:2] == b"PK"


def test_unknown_organisation_and_missing_selection_are_refused(bank: Bank, cli_env: dict[str, str]):
    nowhere = run(["access", "request", "create", "--title", "T", "--org", "Nowhere", "--purpose", "GRU",
                   "--specimen-type", "SER", "--format", "json"], cli_env)
    assert nowhere.returncode != 0 and "Nowhere" in nowhere.stderr
    empty = run(["access", "request", "create", "--title", "T", "--org", "Hospital A", "--purpose", "GRU",
                 "--format", "json"], cli_env)
    assert empty.returncode != 0 and "specimen type" in empty.stderr


def test_the_cli_refuses_to_ship_abroad_without_hgr_approval(bank: Bank, cli_env: dict[str, str]):
    from lifebank.access import service

    manager = bank.principal("manager")
    request_id = service.create_request(bank.db, bank.draft(organisation="Pharma GmbH", purposes=["GRU"]),
                                        principal=manager)
    service.appoint_committee(bank.db, request_id, ["rev2"], principal=manager)
    service.cast_vote(bank.db, request_id, "approve", principal=bank.principal("rev2"))
    service.add_document(bank.db, request_id, kind="agreement", filename="mta.pdf", content=b"%PDF",
                         content_type="application/pdf", principal=manager)
    service.sign_agreement(bank.db, request_id, principal=manager)
    for pick in service.allocate(bank.db, request_id, principal=manager) and service.pick_list(
            bank.db, request_id, manager):
        service.scan(bank.db, request_id, pick["barcode"], principal=manager)
    refused = run(["access", "ship", str(request_id), "--courier", "SF", "--tracking", "SF1",
                   "--temperature", "dry_ice", "--un3373"], cli_env)
    assert refused.returncode != 0 and "HGR approval" in refused.stderr
    assert service.request_view(bank.db, request_id, manager)["state"] == "in_fulfilment"
