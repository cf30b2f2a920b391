"""The `lifebank clinical` commands, run as a user runs them (a subprocess on a real database)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import FIXTURES
from .fhir_fixtures import condition, ndjson, patient
from .test_omop import EUNOMIA


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lifebank", "clinical", *args], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=120)


def test_cli_import_export_and_vocabulary(tmp_path: Path, db_url: str, backend: str):
    if backend != "sqlite":
        pytest.skip("the adapter once; the services it calls are tested on both databases")
    env = {"LIFEBANK_DATABASE_URL": db_url, "LIFEBANK_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "200"}
    fhir = tmp_path / "p.ndjson"
    fhir.write_text(ndjson(patient("pat-1"), condition("c-1", "pat-1")))
    refused = run(["import", str(fhir), "--format", "json"], env)
    assert refused.returncode == 1
    assert json.loads(refused.stdout)[0]["column"] == "Patient.identifier"
    done = run(["import", str(fhir), "--create-participants", "--format", "json"], env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["resources"] == {"Condition": 1, "Patient": 1}
    omop = run(["import", str(EUNOMIA), "--create-participants", "--format", "json"], env)
    assert json.loads(omop.stdout)["tables"]["person"] == 6, omop.stderr
    vocab = run(["vocabulary", "load", str(FIXTURES / "athena"), "--format", "json"], env)
    assert json.loads(vocab.stdout)["concepts"] == 5, vocab.stderr
    exported = run(["export-omop", str(tmp_path / "cdm"), "--format", "parquet"], env)
    assert exported.returncode == 0, exported.stderr
    assert (tmp_path / "cdm" / "person.parquet").is_file() and (tmp_path / "cdm" / "specimen.parquet").is_file()
