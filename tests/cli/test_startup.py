"""CLI start-up stays cheap: what `lifebank --help` and a one-shot command import, not how long they take.

A timing test would be noise on a shared machine; the cost came from imports (SQLAlchemy, Alembic, the domain
services with NumPy, pyarrow, DuckDB...), so these tests look at `sys.modules` of fresh processes, and a
future module-level import that brings the cost back fails here. benchmarks/cli_startup.py has the times.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from lifebank.auth.passwords import DUMMY_HASH
from lifebank.cli import schema
from lifebank.db import migrate
from lifebank.db.engine import Database
from lifebank.errors import SchemaOutdated

# Libraries only the commands that use them may import (not `--help`, `--version`, nor any group's help).
HEAVY = ("sqlalchemy", "alembic", "numpy", "pyarrow", "duckdb", "cyvcf2", "fastapi", "starlette", "uvicorn",
         "pydantic_settings", "babel", "reportlab", "PIL", "argon2", "jinja2", "openpyxl", "mako")
LIFEBANK_HEAVY = re.compile(r"lifebank\.(db|web|\w+\.(service|models|imports|api|web|search|index|store))(\.|$)")

# Runs the CLI in a fresh interpreter, then reports what it imported (one JSON list on the last stderr line).
PROBE = """
import json, sys
from lifebank.cli.main import main
sys.argv = ["lifebank", *sys.argv[1:]]
try:
    main()
finally:
    print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def imported_by(args: list[str], env: dict[str, str] | None = None) -> tuple[subprocess.CompletedProcess[str],
                                                                                set[str]]:
    proc = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=180,
                          env={**os.environ, "COLUMNS": "120", **(env or {})})
    modules = set(json.loads(proc.stderr.strip().splitlines()[-1]))
    return proc, modules


def heavy_in(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in HEAVY or LIFEBANK_HEAVY.match(m))


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["specimens", "search", "--help"], ["hla", "--help"],
                                  ["omics", "af", "--help"], ["biobank", "--help"], ["user", "--help"]])
def test_help_and_version_import_no_heavy_library(args: list[str]) -> None:
    proc, modules = imported_by(args)
    assert proc.returncode == 0 and proc.stdout.strip(), proc.stderr[-2000:]
    assert heavy_in(modules) == []
    assert "typer" in modules and "rich" in modules  # the probe saw the real CLI run


def test_one_shot_query_skips_alembic_on_a_current_schema(tmp_path: Path) -> None:
    env = {"LIFEBANK_DATA_DIR": str(tmp_path / "data"), "LIFEBANK_DATABASE_URL": ""}
    created, _ = imported_by(["db", "upgrade"], env)
    assert created.returncode == 0, created.stderr[-2000:]
    proc, modules = imported_by(["specimens", "search", "--type", "SER", "--format", "json"], env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout) == {"total": 0, "items": []}
    assert "sqlite3" in modules  # the query ran, through the driver (lifebank.cli.direct): no ORM, no settings object
    assert [m for m in modules if m.split(".")[0] in ("sqlalchemy", "pydantic_settings", "alembic", "mako", "numpy",
                                                      "pyarrow", "duckdb", "cyvcf2", "fastapi", "uvicorn",
                                                      "reportlab", "PIL")] == []
    # only the command's own domain was loaded to find it (lifebank.cli.lazy), not every domain's CLI module
    assert "lifebank.biobank.cli" in modules and "lifebank.omics.cli" not in modules


def test_outdated_schema_is_still_refused_by_alembic(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'lifebank.db'}")
    migrate.upgrade(db, "0001_foundation")
    db.dispose()
    env = {"LIFEBANK_DATA_DIR": str(tmp_path), "LIFEBANK_DATABASE_URL": ""}
    proc, _ = imported_by(["user", "list", "--format", "json"], env)
    assert proc.returncode == 1
    assert "the database schema is outdated" in proc.stderr and "lifebank db upgrade" in proc.stderr


def test_quick_schema_check_agrees_with_alembic(db: Database) -> None:
    graph = schema.revision_graph()
    assert graph is not None, "every migration states its links as literals"
    assert schema.heads(graph) == migrate.head_revisions(db)
    current = migrate.current_revisions(db)
    assert schema.applied(graph, current) == migrate.applied_revisions(db, current)
    assert schema.known_current(db) is True
    migrate.ensure_current(db)  # Alembic agrees


def test_quick_schema_check_defers_to_alembic_when_not_current(tmp_path: Path) -> None:
    empty = Database(f"sqlite:///{tmp_path / 'empty.db'}")
    assert schema.known_current(empty) is False  # no alembic_version table
    with pytest.raises(SchemaOutdated):
        migrate.ensure_current(empty)
    empty.dispose()
    partial = Database(f"sqlite:///{tmp_path / 'partial.db'}")
    migrate.upgrade(partial, "biobank@head")
    assert schema.known_current(partial) is False
    with pytest.raises(SchemaOutdated):
        migrate.ensure_current(partial)
    migrate.upgrade(partial)
    assert schema.known_current(partial) is True
    partial.dispose()


def test_unreadable_revision_file_means_ask_alembic(tmp_path: Path) -> None:
    odd = tmp_path / "0099_odd.py"
    odd.write_text("revision = 'x'\ndown_revision = compute()\n")
    assert schema._read_revision(odd) is None
    plain = tmp_path / "0098_plain.py"
    plain.write_text("revision: str = 'b'\ndown_revision: str | None = ('a',)\ndepends_on = None\n")
    assert schema._read_revision(plain) == ("b", ("a",), ())
    assert schema.applied({"b": (("a",), ())}, {"b"}) is None  # 'a' unknown: not sure, so not "current"


def test_dummy_hash_has_the_hasher_parameters() -> None:
    """The written-out dummy hash (no Argon2 work at import) must cost what a real verification costs."""
    hasher = PasswordHasher()
    assert not hasher.check_needs_rehash(DUMMY_HASH)
    assert hasher.verify(DUMMY_HASH, "lifebank-dummy-password-for-timing")


# --- the help texts list the same commands ------------------------------------------------------------------

# Every command path of the CLI when its imports were made lazy (issue 10). Moving an import must never lose
# a command or a group; new commands may be added freely (this checks the listing contains at least these).
COMMAND_TREE = """
audit: log verify
biobank: box-map checkin checkout consent-add consent-withdraw container-add container-type-add containers
  discard labels move move-container occupancy participant-add participant-show participants place qc release
  reserve specimen-add split status
config: show
db: current upgrade
hla: allele donors grade import index macs nomenclature search
hla donors: delete list show update
hla import: donors
hla index: status
hla macs: load
hla nomenclature: load
import: participants specimens
omics: af cohort datasets export genotypes import query samples
omics cohort: create delete list show
specimens: search show
token: create list revoke
user: create disable enable list password roles unlock
lifebank: audit biobank config db demo hla import omics serve specimens token user
"""

HELP_DUMP = """
import json, sys
from typer.testing import CliRunner
from lifebank.cli.main import app
runner = CliRunner()
out = {}
for path in json.loads(sys.argv[1]):
    out[" ".join(path)] = runner.invoke(app, [*path, "--help"], terminal_width=120).output
print(json.dumps(out))
"""


def expected_tree() -> dict[str, set[str]]:
    tree: dict[str, set[str]] = {}
    for entry in re.sub(r"\n  ", " ", COMMAND_TREE).strip().splitlines():
        group, _, commands = entry.partition(":")
        tree["" if group == "lifebank" else group] = set(commands.split())
    return tree


def listed_commands(help_text: str) -> set[str]:
    """The command names of the 'Commands' panel of a Rich help text."""
    panel = help_text.split("─ Commands ", 1)[1].split("╰", 1)[0]
    return {match.group(1) for match in re.finditer(r"^│ (\S+)\s", panel, flags=re.MULTILINE)}


def test_help_texts_list_the_same_commands() -> None:
    tree = expected_tree()
    paths = [group.split() for group in tree]
    proc = subprocess.run([sys.executable, "-c", HELP_DUMP, json.dumps(paths)], capture_output=True, text=True,
                          timeout=180, env={**os.environ, "COLUMNS": "120"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    helps = json.loads(proc.stdout)
    for group, commands in tree.items():
        listed = listed_commands(helps[group])
        assert commands <= listed, f"`lifebank {group} --help` lost {sorted(commands - listed)}"


def test_a_command_line_loads_only_the_domains_it_needs() -> None:
    from lifebank.cli.lazy import LazyRoot

    root = LazyRoot(name="t", domains=("auth", "biobank", "hla", "omics"))
    root.callback()(lambda: None)
    pruned = root.for_args(["hla", "search"])
    assert [g.name for g in pruned._groups] == ["hla"] and pruned._commands == []
    assert root._pending == ["auth", "biobank", "omics"]  # the domain named after itself came first, alone
    pruned = root.for_args(["specimens", "search"])  # biobank registers `specimens`: found after auth, biobank
    assert [g.name for g in pruned._groups] == ["specimens"] and root._pending == ["omics"]
    root.for_args(["--help"])
    assert root._pending == [] and {"hla", "specimens", "import", "omics"} <= {g.name for g in root.registered_groups}


def test_a_broken_domain_cli_is_named_and_the_other_commands_still_run(monkeypatch: pytest.MonkeyPatch,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    import lifebank.domains
    from lifebank.cli.lazy import LazyRoot

    real = lifebank.domains.domain_module

    def half_done(domain: str, name: str) -> object:
        if domain == "hla":
            raise ImportError("cannot import name 'x' from 'lifebank.hla.half_done'")
        return real(domain, name)

    monkeypatch.setattr(lifebank.domains, "domain_module", half_done)
    root = LazyRoot(name="t", domains=("hla", "omics"))
    assert [g.name for g in root.for_args(["--help"]).registered_groups] == ["omics"]
    assert "warning: the hla commands are unavailable: ImportError: cannot import name 'x'" in capsys.readouterr().err


def test_revision_links_are_read_from_the_header_unless_reassigned_below(tmp_path: Path) -> None:
    plain = tmp_path / "0097_plain.py"
    plain.write_text("revision = 'c'\ndown_revision = 'b'\n\n\ndef upgrade() -> None:\n    x = 'revision = 1'\n")
    assert schema._read_revision(plain) == ("c", ("b",), ())
    relinked = tmp_path / "0096_relinked.py"
    relinked.write_text("revision = 'c'\ndown_revision = 'b'\n\n\ndef upgrade() -> None:\n    pass\n\n\n"
                        "down_revision = compute()\n")
    assert schema._read_revision(relinked) is None  # the whole file is read, and it is not plain literals


def test_the_root_help_lists_every_group_as_the_full_tree_does() -> None:
    """`lifebank --help` builds each group as a shell (name and help only): it must read as the full tree's."""
    proc, _ = imported_by(["--help"])
    full = subprocess.run([sys.executable, "-c", HELP_DUMP, json.dumps([[]])], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "COLUMNS": "120"})
    assert proc.returncode == 0 and full.returncode == 0, proc.stderr[-2000:] + full.stderr[-2000:]
    assert proc.stdout == json.loads(full.stdout)[""]
