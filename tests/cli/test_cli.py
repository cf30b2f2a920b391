"""The `lifebank` command as a user runs it: real subprocesses, real databases, one clear line on bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PASSWORD = "Correct-horse-battery-9"


def run(args: list[str], env: dict[str, str], input_text: str | None = None,
        cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lifebank", *args], env={**os.environ, **env}, input=input_text,
                          capture_output=True, text=True, timeout=180, cwd=cwd)


@pytest.fixture
def cli_env(db_url: str, tmp_path: Path) -> dict[str, str]:
    return {"LIFEBANK_DATABASE_URL": db_url, "LIFEBANK_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "200"}


def test_version_and_help() -> None:
    proc = run(["--version"], {})
    assert proc.returncode == 0 and proc.stdout.startswith("lifebank ")
    helptext = run(["--help"], {}).stdout
    for group in ("serve", "db", "user", "token", "audit", "config", "demo"):
        assert group in helptext


def test_user_token_audit_round_trip(cli_env: dict[str, str]) -> None:
    env = {**cli_env, "LIFEBANK_NEW_PASSWORD": PASSWORD}
    created = run(["user", "create", "dora", "--role", "biobank_manager", "--role", "technician"], env)
    assert created.returncode == 0, created.stderr
    listed = json.loads(run(["user", "list", "--format", "json"], env).stdout)
    assert listed == [{"username": "dora", "display_name": "dora", "roles": ["biobank_manager", "technician"],
                       "active": True, "locale": None, "time_zone": None, "last_login_at": None,
                       "locked_until": None, "organisation": None, "scoped_roles": []}]
    token = json.loads(run(["token", "create", "dora", "--format", "json"], env).stdout)
    assert token["token"].startswith("lbt_")
    assert run(["token", "revoke", token["prefix"]], env).returncode == 0
    tokens = json.loads(run(["token", "list", "--format", "json"], env).stdout)
    assert tokens[0]["revoked"] is True
    log = json.loads(run(["audit", "log", "--entity", "user:dora", "--format", "json"], env).stdout)
    assert [e["action"] for e in log["items"]] == ["user.create"]
    assert log["items"][0]["actor"].startswith("cli")
    verify = run(["audit", "verify", "--format", "json"], env)
    assert verify.returncode == 0 and json.loads(verify.stdout) == {"ok": True, "checked": 3, "broken_seq": None,
                                                                    "reason": None}
    disabled = run(["user", "disable", "dora"], env)
    assert disabled.returncode == 0


def test_duplicate_user_and_weak_password_give_one_clear_line(cli_env: dict[str, str]) -> None:
    env = {**cli_env, "LIFEBANK_NEW_PASSWORD": PASSWORD}
    assert run(["user", "create", "erin", "--role", "clinician"], env).returncode == 0
    duplicate = run(["user", "create", "erin", "--role", "clinician"], env)
    assert duplicate.returncode == 1
    assert duplicate.stderr.strip() == "error: user 'erin' already exists"
    weak = run(["user", "create", "frank", "--role", "clinician"], {**cli_env, "LIFEBANK_NEW_PASSWORD": "abc"})
    assert weak.returncode == 1 and "too weak" in weak.stderr and "Traceback" not in weak.stderr
    role = run(["user", "create", "gina", "--role", "wizard"], env)
    assert role.returncode == 1 and "unknown role 'wizard'" in role.stderr and "biobank_manager" in role.stderr
    missing = run(["token", "revoke", "deadbeef"], env)
    assert missing.returncode == 1 and "no API token" in missing.stderr


def test_bad_configuration_is_one_line_and_non_zero(tmp_path: Path) -> None:
    cases = {
        "not a url": ({"LIFEBANK_DATABASE_URL": "nonsense"}, "is not a database URL"),
        "unreachable": ({"LIFEBANK_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none"},
                        "cannot connect to the database"),
        "unwritable": ({"LIFEBANK_DATA_DIR": "/proc/lifebank"}, "is not writable"),
        "unsupported": ({"LIFEBANK_DATABASE_URL": "mysql://x@localhost/db"}, "is not supported"),
    }
    for name, (env, message) in cases.items():
        proc = run(["db", "current"], {"LIFEBANK_DATA_DIR": str(tmp_path / name), **env})
        assert proc.returncode == 1, name
        assert message in proc.stderr, (name, proc.stderr)
        assert "Traceback" not in proc.stderr


def test_serve_refuses_an_outdated_schema(tmp_path: Path) -> None:
    env = {"LIFEBANK_DATA_DIR": str(tmp_path / "fresh")}
    proc = run(["serve", "--port", "1"], env)
    assert proc.returncode == 1
    assert "run `lifebank db upgrade`" in proc.stderr
    current = run(["db", "current"], env)
    assert current.returncode == 1 and "outdated" in current.stdout
    assert run(["db", "upgrade"], env).returncode == 0
    assert run(["db", "current"], env).returncode == 0


def test_config_show_masks_secrets(tmp_path: Path) -> None:
    env = {"LIFEBANK_DATABASE_URL": "postgresql+psycopg://app:s3cret@db.example/lifebank",
           "LIFEBANK_SECRET_KEY": "abc", "LIFEBANK_DATA_DIR": str(tmp_path)}
    shown = json.loads(run(["config", "show", "--format", "json"], env).stdout)
    assert shown["database_url"] == "postgresql+psycopg://app:***@db.example/lifebank"
    assert shown["secret_key"] == "(set)"
    assert shown["data_dir"] == str(tmp_path)


def test_last_active_admin_keeps_the_role_and_cannot_be_disabled(cli_env: dict[str, str]) -> None:
    env = {**cli_env, "LIFEBANK_NEW_PASSWORD": PASSWORD}
    assert run(["user", "create", "ada", "--role", "admin"], env).returncode == 0
    demoted = run(["user", "roles", "ada", "--remove", "admin", "--add", "technician"], env)
    assert demoted.returncode == 1
    assert demoted.stderr.strip() == ("error: ada is the last active administrator: give another active user the "
                                      "admin role first")
    disabled = run(["user", "disable", "ada"], env)
    assert disabled.returncode == 1 and "last active administrator" in disabled.stderr
    assert json.loads(run(["user", "list", "--format", "json"], env).stdout)[0]["roles"] == ["admin"]

    assert run(["user", "create", "ben", "--role", "technician"], env).returncode == 0
    promoted = run(["user", "roles", "ben", "--add", "admin"], env)
    assert promoted.returncode == 0 and promoted.stdout.strip() == "ben: admin, technician"
    now_allowed = run(["user", "roles", "ada", "--remove", "admin", "--add", "researcher"], env)
    assert now_allowed.returncode == 0, now_allowed.stderr
    users = {u["username"]: u for u in json.loads(run(["user", "list", "--format", "json"], env).stdout)}
    assert users["ada"]["roles"] == ["researcher"] and users["ben"]["roles"] == ["admin", "technician"]
    assert run(["user", "disable", "ben"], env).returncode == 1  # ben is now the last one
    log = json.loads(run(["audit", "log", "--entity", "user:ada", "--format", "json"], env).stdout)
    assert [e["action"] for e in log["items"]] == ["user.roles", "user.create"]


def test_unknown_command_or_option_is_one_usage_line_and_exit_2(cli_env: dict[str, str]) -> None:
    for args, needle in ((["bogus"], "No such command 'bogus'"), (["user", "list", "--bogus"], "--bogus"),
                         (["user", "roles"], "Missing argument")):
        proc = run(args, cli_env)
        assert proc.returncode == 2, (args, proc.stderr)
        assert "Traceback" not in proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("usage error: ") and needle in lines[0], proc.stderr


def test_tables_keep_long_ids_whole_at_80_columns(cli_env: dict[str, str]) -> None:
    env = {**cli_env, "LIFEBANK_NEW_PASSWORD": PASSWORD, "COLUMNS": "80"}
    long_name = "technician.with.a.very.long.username.for.the.bench.tablet0123456"
    assert len(long_name) == 64
    assert run(["user", "create", long_name, "--role", "technician", "--name", "Zhang Wei of the cryostore"],
               env).returncode == 0
    table = run(["user", "list"], env)
    assert table.returncode == 0
    assert long_name in table.stdout and "…" not in table.stdout
    assert any(long_name in line and "Zhang Wei of the cryostore" in line for line in table.stdout.splitlines())


def test_outside_a_project_no_data_folder_is_created_silently(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("LIFEBANK_")}
    env["COLUMNS"] = "200"

    def bare(args: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "lifebank", *args], env=env, capture_output=True, text=True,
                              timeout=180, cwd=tmp_path)

    listed = bare(["user", "list"])
    assert listed.returncode == 1
    assert str(tmp_path / "data") in listed.stderr and "LIFEBANK_DATA_DIR" in listed.stderr
    assert "lifebank db upgrade" in listed.stderr and "Traceback" not in listed.stderr
    assert not (tmp_path / "data").exists()
    assert bare(["db", "upgrade"]).returncode == 0  # created deliberately
    assert (tmp_path / "data" / "lifebank.db").exists()
    assert bare(["user", "list", "--format", "json"]).stdout.strip() == "[]"
