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


def _cli(args: list[str], env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lifebank", "celltherapy", *args], env={**os.environ, **env},
                          input=stdin, capture_output=True, text=True, timeout=120)


def test_cli_din_order_step_chain(tmp_path: Path, db_url: str, chain, users) -> None:
    users("technician", "tech9")
    env = {"LIFEBANK_DATABASE_URL": db_url, "LIFEBANK_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "200",
           "LIFEBANK_SECRET_KEY": chain.settings.secret_key}
    checked = _cli(["din", "check", "G123498654321", "--format", "json"], env)
    assert json.loads(checked.stdout) == {"din": "G123498654321", "valid": True, "check_character": "H",
                                          "flags": "77", "eye_readable": "G1234 98 654321"}
    assert json.loads(_cli(["din", "check", "G12349865432177", "--format", "json"], env).stdout)["valid"] is True
    bad = _cli(["din", "check", "G12349865432176", "--format", "json"], env)
    assert bad.returncode == 1 and json.loads(bad.stdout)["valid"] is False
    created = _cli(["order", "create", "--participant", "P1", "--product", "car-t", "--centre", "Ruijin", "--dob",
                    DOB, "--format", "json"], env)
    assert created.returncode == 0, created.stderr
    order = json.loads(created.stdout)
    assert set(order) == {"id", "coi"}
    missing = _cli(["step", order["coi"], "collection", "--field", "volume_ml=250", "--signer", "tech9",
                    "--password-stdin", "--format", "json"], env, stdin=PASSWORD + "\n")
    assert missing.returncode == 1 and "step collection needs tnc_e9, cd3_e9" in missing.stderr
    done = _cli(["step", str(order["id"]), "collection", "--field", "volume_ml=250", "--field", "tnc_e9=12",
                 "--field", "cd3_e9=4", "--signer", "tech9", "--password-stdin", "--format", "json"], env,
                stdin=PASSWORD + "\n")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["next_step"] == "packaging"
    shown = json.loads(_cli(["chain", order["coi"], "--format", "json"], env).stdout)
    assert shown["steps"][0]["signatures"][0]["signer"] == "tech9" and shown["steps"][0]["values"]["cd3_e9"] == 4
    helped = _cli(["step", "--help"], env).stdout
    for name in ("collection", "qc-release", "bedside-verification", "infusion"):
        assert name in helped
    assert service.get_order(chain.db, order["coi"])["steps_done"] == 1
