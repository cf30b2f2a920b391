"""The chain through the HTTP API and the command line, with the issue's exact shapes; signatures with real
passwords (a wrong one refused and ledgered)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from lifebank.audit.models import LedgerEvent
from lifebank.celltherapy import service
from lifebank.celltherapy.chain import StepRefused

from .chain_values import PRODUCT_CODES_CSV
from .conftest import DOB

API = "/api/v1/celltherapy"
PASSWORD = "Correct-horse-battery-9"  # tests/conftest.py's TEST_PASSWORD


def test_api_order_step_signatures_chain_labels_fhir(client, users, chain) -> None:
    manager = users.headers("biobank_manager", "mgr1")
    clinician = users.headers("clinician", "doc1")
    users.headers("technician", "tech1")
    researcher = users.headers("researcher")
    assert client.get(f"{API}/din/G123498654321", headers=clinician).json() == {
        "din": "G123498654321", "valid": True, "check_character": "H", "flags": "77", "eye_readable": "G1234 98 654321"}
    bad = client.get(f"{API}/din/G123498654321A", headers={**clinician, "Accept-Language": "zh-CN"}).json()
    assert bad["valid"] is False and "校验字符 A 错误" in bad["reason"]
    rejected = client.put(f"{API}/product-codes", headers=manager, content="code,description,product,shelf_life_hours\n"
                          "X1,a,car-t,1\n")
    assert rejected.status_code == 422 and rejected.json()["errors"][0]["column"] == "code"
    assert client.put(f"{API}/product-codes", headers=manager, content=PRODUCT_CODES_CSV).json() == {"loaded": 4}
    body = {"participant": "P1", "product": "car-t", "centre": "Ruijin", "identity_kind": "dob",
            "identity_value": DOB}
    assert client.post(f"{API}/orders", headers=researcher, json=body).status_code == 403
    created = client.post(f"{API}/orders", headers=clinician, json=body)
    assert created.status_code == 201
    coi = created.json()["coi"]
    step = {"values": {"volume_ml": 250, "tnc_e9": 12.5, "cd3_e9": 4.2},
            "signatures": [{"username": "tech1", "password": "wrong-password-123"}]}
    refused = client.post(f"{API}/orders/{coi}/steps/collection", headers=clinician, json=step)
    assert refused.status_code == 401 and "electronic signature of tech1 refused" in refused.json()["detail"]
    with chain.db.session() as session:
        actions = list(session.scalars(select(LedgerEvent.action).where(LedgerEvent.entity_id == coi)))
    assert "celltherapy.signature.refused" in actions
    step["signatures"] = [{"username": "tech1", "password": PASSWORD}]
    done = client.post(f"{API}/orders/{coi}/steps/collection", headers=clinician, json=step)
    assert done.status_code == 201 and done.json()["signatures"][0]["meaning"] == "performed"
    skipped = client.post(f"{API}/orders/{coi}/steps/thaw", headers=clinician,
                          json={"values": {}, "signatures": step["signatures"]})
    assert skipped.status_code == 409 and "the next step is packaging" in skipped.json()["detail"]
    order = {"coi": coi, "product": "car-t", "participant": "P1"}
    for name in ("packaging", "shipment-to-manufacturing"):
        chain.step(order, name)
    warm = "time,temperature_c\n2026-01-01T08:00:00Z,4\n2026-01-01T08:20:00Z,11\n2026-01-01T08:50:00Z,4\n"
    trace = client.post(f"{API}/orders/{coi}/traces/to-manufacturing", headers=clinician, content=warm)
    assert trace.status_code == 201 and trace.json()["excursions"][0]["minutes"] == 30.0
    receipt = client.post(f"{API}/orders/{coi}/steps/receipt-at-manufacturing", headers=clinician,
                          json={"values": {"condition": "intact"}, "signatures": step["signatures"]})
    assert receipt.status_code == 422 and "excursion" in receipt.json()["detail"]
    for name in ("receipt-at-manufacturing", "manufacturing", "qc-release", "cryopreservation"):
        values = dict(chain.values(order, name), **({"deviation": "DEV-1"} if name.startswith("receipt") else {}))
        chain.step(order, name, values)
    view = client.get(f"{API}/orders/{coi}", headers=clinician).json()
    assert [s["step"] for s in view["steps"]][-1] == "cryopreservation" and view["order"]["next_step"] == \
        "shipment-to-centre"
    fhir = client.get(f"{API}/orders/{coi}/fhir", headers=clinician).json()
    assert fhir["resourceType"] == "BiologicallyDerivedProduct" and fhir["status"] == "available"
    pdf = client.get(f"{API}/orders/{coi}/labels.pdf", headers=clinician)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    zpl = client.get(f"{API}/orders/{coi}/labels.zpl", headers=clinician).text
    assert zpl.count("^XA") == 3 and f"^FD={coi}" in zpl and "^BXN" in zpl and "^GB44,44,3" in zpl
    assert "^FD=<X00020A0^FS" in zpl and "^FD=+03000=" in zpl


def _cli(args: list[str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    """The real `lifebank` entry point, in a subprocess (no database needed)."""
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "lifebank", "celltherapy", *args], env=env, input=stdin,
                          capture_output=True, text=True, timeout=120)


def test_cli_din_check_and_step_help() -> None:
    checked = _cli(["din", "check", "G123498654321", "--format", "json"])
    assert json.loads(checked.stdout) == {"din": "G123498654321", "valid": True, "check_character": "H",
                                          "flags": "77", "eye_readable": "G1234 98 654321"}
    bad = _cli(["din", "check", "G12349865432176", "--format", "json"])
    assert bad.returncode == 1 and json.loads(bad.stdout)["valid"] is False
    assert "flag characters 76 are wrong (expected 77)" in json.loads(bad.stdout)["reason"]
    helped = " ".join(_cli(["step", "--help"]).stdout.split())
    for line in ("collection: volume_ml, tnc_e9, cd3_e9", "bedside-verification: bag, wristband_code",
                 "2 signature(s): verified, second verification", "infusion: bag, volume_ml"):
        assert line in helped


def test_cli_order_step_chain(tmp_path: Path, db_url: str, chain, users, monkeypatch) -> None:
    """The commands in-process (Typer's runner): order create, a refused and a signed step, the chain."""
    from typer.testing import CliRunner

    from lifebank.celltherapy.cli import app
    from lifebank.config import get_settings

    users("technician", "tech9")
    monkeypatch.setenv("LIFEBANK_DATABASE_URL", db_url)
    monkeypatch.setenv("LIFEBANK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LIFEBANK_SECRET_KEY", chain.settings.secret_key)
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        assert json.loads(runner.invoke(app, ["din", "check", "G12349865432177", "--format", "json"]).stdout)[
            "valid"] is True
        created = runner.invoke(app, ["order", "create", "--participant", "P1", "--product", "car-t", "--centre",
                                      "Ruijin", "--dob", DOB, "--format", "json"])
        assert created.exit_code == 0, created.output
        order = json.loads(created.stdout)
        assert set(order) == {"id", "coi"}
        missing = runner.invoke(app, ["step", order["coi"], "collection", "--field", "volume_ml=250", "--signer",
                                      "tech9", "--password-stdin", "--format", "json"], input=PASSWORD + "\n")
        assert isinstance(missing.exception, StepRefused)
        assert "step collection needs tnc_e9, cd3_e9" in missing.exception.detail
        done = runner.invoke(app, ["step", str(order["id"]), "collection", "--field", "volume_ml=250", "--field",
                                   "tnc_e9=12", "--field", "cd3_e9=4", "--signer", "tech9", "--password-stdin",
                                   "--format", "json"], input=PASSWORD + "\n")
        assert done.exit_code == 0, done.output
        assert json.loads(done.stdout)["next_step"] == "packaging"
        wrong = runner.invoke(app, ["step", order["coi"], "packaging", "--field", "bags=1", "--field",
                                    "product_code=X0001", "--signer", "tech9", "--password-stdin"],
                              input="not-the-password\n")
        assert "electronic signature of tech9 refused" in wrong.exception.detail
        shown = json.loads(runner.invoke(app, ["chain", order["coi"], "--format", "json"]).stdout)
        assert shown["steps"][0]["signatures"][0]["signer"] == "tech9" and shown["steps"][0]["values"]["cd3_e9"] == 4
        assert service.get_order(chain.db, order["coi"])["steps_done"] == 1
        early = runner.invoke(app, ["labels", order["coi"], "-o", str(tmp_path / "l.pdf")])
        assert "has no bags to label yet" in early.exception.detail
        chain.step({**order, "product": "car-t", "participant": "P1"}, "packaging")
        printed = runner.invoke(app, ["labels", order["coi"], "-o", str(tmp_path / "l.zpl"), "--label-format", "zpl"])
        assert printed.exit_code == 0 and (tmp_path / "l.zpl").read_text().startswith("^XA")
    finally:
        get_settings.cache_clear()
