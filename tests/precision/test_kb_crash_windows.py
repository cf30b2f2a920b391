"""A knowledge-base load killed (SIGKILL, no cleanup runs) in each of its windows leaves exactly the old release
in force or exactly the new one, on SQLite and PostgreSQL; the next load sweeps the orphans and switches.

The load runs in a child process that kills itself at one precise moment: while a file is being written to
the staging folder, with the staging folder complete but not renamed, with the release folder in place but no
row written, with the pointer switched and the ledger event appended but not committed, and just after the
commit. The parent then reads the bank as a reader does (through the pointer) and checks the ledger.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from lifebank.audit import service as audit
from lifebank.db.engine import Database
from lifebank.precision import kb_releases, kb_store

from .conftest import FIXTURES

CIVIC = FIXTURES / "01-Nov-2026-ClinicalEvidenceSummaries.tsv"

# The child: patch one step of the load so the process kills itself there, then load.
CHILD = r"""
import os, signal, sys
from pathlib import Path
from lifebank.db.engine import Database
from lifebank.precision import kb_releases, kb_store

url, data_dir, folder, window = sys.argv[1:5]
die = lambda: os.kill(os.getpid(), signal.SIGKILL)
real_fsync, real_rename, real_install, real_record = kb_store._fsync, os.rename, kb_store.install, kb_releases.record
if window == "writing":  # the release file copied into staging, before its fsync and the manifest
    kb_store._fsync = lambda path: die() if path.suffix == ".tsv" else real_fsync(path)
elif window == "staged":  # staging complete and fsynced, not renamed into place
    kb_store.os.rename = lambda src, dst: die()
elif window == "installed":  # release folder in place, no row yet
    kb_store.install = lambda release, data: (real_install(release, data), die())
elif window == "ledgered":  # pointer switched and ledger event appended, transaction not committed
    kb_releases.record = lambda *a, **k: (real_record(*a, **k), die())
kb_releases.load(Database(url), Path(data_dir), Path(folder), actor="curator")
if window == "committed":
    die()
"""
WINDOWS = ["writing", "staged", "installed", "ledgered", "committed"]


def _release(tmp_path: Path, name: str, keep_rows: int | None = None) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    lines = CIVIC.read_text().splitlines(keepends=True)
    (folder / f"{name}-ClinicalEvidenceSummaries.tsv").write_text("".join(lines[:keep_rows] if keep_rows else lines))
    shutil.copy(FIXTURES / "LICENSE.metakb.MIT.txt", folder)
    return folder


def _killed_load(db_url: str, data_dir: Path, folder: Path, window: str) -> int:
    done = subprocess.run([sys.executable, "-c", CHILD, db_url, str(data_dir), str(folder), window],
                          capture_output=True, text=True, timeout=300, env={**os.environ})
    assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]
    return done.returncode


def _loads(db: Database) -> int:
    with db.engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM ledger_event WHERE action = 'precision.kb.load'")).scalar_one()


def _seen(db: Database, data_dir: Path) -> dict[str, object]:
    """What a reader sees: the CIViC release in force, its file's digest and evidence, and the ledger."""
    files = kb_releases.current_files(db, data_dir)
    civic = files["civic"]
    manifest = json.loads((civic.path.parent / kb_store.MANIFEST).read_text())
    kb = kb_store.knowledge_base(files)
    evidence = next(len(s.evidence) for s in kb.sources if s.name == "CIViC")
    verified = audit.verify(db)
    return {"version": civic.version, "file_sha256": kb_store.file_digest(civic.path), "sha256": civic.sha256,
            "manifest_sha256": manifest["sha256"], "evidence": evidence, "ledger_ok": verified.ok,
            "loads": _loads(db)}


@pytest.mark.parametrize("window", WINDOWS)
def test_a_load_killed_in_any_window_leaves_the_old_release_or_the_new_one(db, db_url, tmp_path, window):
    data_dir = tmp_path / "data"
    old, new = _release(tmp_path, "01-Nov-2026"), _release(tmp_path, "02-Nov-2026", keep_rows=4)
    kb_releases.load(db, data_dir, old, actor="curator")
    before = _seen(db, data_dir)
    assert before["version"] == "01-Nov-2026" and before["evidence"] == 3 and before["loads"] == 1

    _killed_load(db_url, data_dir, new, window)
    seen = _seen(db, data_dir)
    assert seen["ledger_ok"] and seen["file_sha256"] == seen["sha256"] == seen["manifest_sha256"]
    if window == "committed":
        assert seen["version"] == "02-Nov-2026" and seen["loads"] == 2 and seen["evidence"] == 2
    else:
        assert seen == before  # the old release, whole, and no ledger event for the killed load
        in_force = kb_releases.in_force(db)["civic"].folder
        assert in_force in {p.name for p in kb_store.releases_dir(data_dir).iterdir()}

    # The next load completes, sweeps what the killed one left, and never a folder a committed row names.
    kb_releases.load(db, data_dir, new, actor="curator")
    after = _seen(db, data_dir)
    assert after["version"] == "02-Nov-2026" and after["evidence"] == 2 and after["ledger_ok"]
    assert after["loads"] == (3 if window == "committed" else 2)
    with db.engine.connect() as conn:
        committed = set(conn.execute(text("SELECT folder FROM precision_kb_release")).scalars())
    assert {p.name for p in kb_store.releases_dir(data_dir).iterdir()} == committed
    staging = kb_store.staging_dir(data_dir)
    assert len(committed) == 2 and not (staging.exists() and list(staging.iterdir()))


def test_a_superseded_release_stays_readable_and_a_missing_one_is_named(db, tmp_path):
    data_dir = tmp_path / "data"
    old, new = _release(tmp_path, "01-Nov-2026"), _release(tmp_path, "02-Nov-2026", keep_rows=4)
    kb_releases.load(db, data_dir, old, actor="curator")
    resolved = kb_releases.current_files(db, data_dir)["civic"]  # a reader resolved it just before the switch
    kb_releases.load(db, data_dir, new, actor="curator")
    assert resolved.path.is_file() and kb_store.file_digest(resolved.path) == resolved.sha256
    again = kb_releases.load(db, data_dir, old, actor="curator")  # the same release again: its folder reused
    assert again[0]["version"] == "01-Nov-2026"
    assert kb_releases.current_files(db, data_dir)["civic"].path == resolved.path
    assert len(list(kb_store.releases_dir(data_dir).iterdir())) == 2
    shutil.rmtree(resolved.path.parent)
    with pytest.raises(kb_store.ConfigError, match="is missing from"):
        kb_releases.current_files(db, data_dir)


def test_a_file_changed_between_validation_and_install_is_refused_and_nothing_is_installed(tmp_path):
    data_dir = tmp_path / "data"
    folder = _release(tmp_path, "03-Nov-2026")
    (release,) = kb_store.prepare_release(folder, kb_store.vendored_files())
    tsv = folder / "03-Nov-2026-ClinicalEvidenceSummaries.tsv"
    tsv.write_text(tsv.read_text().replace("Afatinib", "Placebo"))
    with pytest.raises(kb_store.ValidationFailed, match="changed while it was being loaded"):
        kb_store.install(release, data_dir)
    assert not kb_store.releases_dir(data_dir).exists() and not list(kb_store.staging_dir(data_dir).iterdir())
