"""`lifebank org create` and `lifebank user create --org --scope` as a user runs them (real subprocesses)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PASSWORD = "Correct-horse-battery-9"


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lifebank", *args], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=180)


@pytest.mark.parametrize("backend", ["sqlite"])
def test_org_and_scoped_user_from_the_command_line(db_url: str, tmp_path: Path) -> None:
    env = {"LIFEBANK_DATABASE_URL": db_url, "LIFEBANK_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "200",
           "LIFEBANK_NEW_PASSWORD": PASSWORD}
    acme = run(["org", "create", "Acme Pharma", "--country", "DE", "--kind", "company", "--format", "json"], env)
    assert acme.returncode == 0, acme.stderr
    assert json.loads(acme.stdout) == {"id": 1, "name": "Acme Pharma", "country": "DE", "kind": "company",
                                       "for_profit": True}
    charity = run(["org", "create", "Open Cures", "--kind", "company", "--not-for-profit"], env)
    assert charity.returncode == 0 and "not-for-profit" in charity.stdout
    hospital = run(["org", "create", "Ruijin Hospital", "--kind", "hospital"], env)
    assert "(hospital, CN, not-for-profit)" in hospital.stdout
    bad = run(["org", "create", "Nowhere", "--country", "ZZ"], env)
    assert bad.returncode == 1 and bad.stderr.strip() == \
        "error: 'ZZ' is not an ISO 3166-1 alpha-2 country code (e.g. CN, DE, US)"
    pia = run(["user", "create", "pia", "--role", "partner", "--org", "Acme Pharma"], env)
    assert pia.returncode == 0, pia.stderr
    tim = run(["user", "create", "tim", "--role", "technician", "--scope", "site:Hangzhou",
               "--scope", "collection:ZJ/FRZ-01", "--org", "Ruijin Hospital"], env)
    assert tim.stdout.strip() == "created user tim (technician@collection:ZJ/FRZ-01, technician@site:Hangzhou)"
    unknown = run(["user", "create", "zed", "--role", "partner", "--org", "Beta"], env)
    assert unknown.returncode == 1 and "organisation 'Beta' does not exist" in unknown.stderr
    listed = {u["username"]: u for u in json.loads(run(["user", "list", "--format", "json"], env).stdout)}
    assert listed["pia"]["organisation"] == "Acme Pharma" and listed["pia"]["roles"] == ["partner"]
    assert listed["tim"]["roles"] == [] and listed["tim"]["scoped_roles"] == \
        ["technician@collection:ZJ/FRZ-01", "technician@site:Hangzhou"]
    scoped = run(["user", "scope", "tim", "--role", "clinician", "--add", "site:Suzhou",
                  "--remove", "site:Nowhere"], env)
    assert scoped.returncode == 1 and "holds no clinician grant in site:Nowhere" in scoped.stderr
    moved = run(["user", "org", "pia", "Open Cures"], env)
    assert moved.stdout.strip() == "pia: Open Cures"
    orgs = json.loads(run(["org", "list", "--format", "json"], env).stdout)
    assert [o["name"] for o in orgs] == ["Acme Pharma", "Open Cures", "Ruijin Hospital"]
