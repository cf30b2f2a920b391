"""`lifebank backup` / `lifebank restore` on SQLite and PostgreSQL: a real bank, real archives, real damage."""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import RUN_ID, TEST_PASSWORD, _create_pg_database, _drop_pg_database
from lifebank.audit import service as audit
from lifebank.auth import service as auth
from lifebank.config import Settings
from lifebank.db.backup import BackupError, backup
from lifebank.db.engine import Database
from lifebank.db.restore import restore, verify_archive


@pytest.fixture
def bank(settings: Settings, db: Database) -> Settings:
    """A small bank: accounts and their ledger events in the database, a Parquet file and a key in the folder."""
    for name in ("alice", "bob"):
        auth.create_user(db, name, TEST_PASSWORD, ["biobank_manager"])
    omics = settings.data_dir / "omics" / "dataset=1"
    omics.mkdir(parents=True)
    (omics / "part-0.parquet").write_bytes(b"PAR1" + os.urandom(300_000) + b"PAR1")
    (settings.data_dir / "secret_key").write_text("generated-secret-key")
    return settings


@pytest.fixture
def empty_target(backend: str, tmp_path: Path) -> Iterator[Settings]:
    """Where a restore goes: an empty data folder and an empty database of the same kind."""
    folder = tmp_path / "restored"
    if backend == "sqlite":
        yield Settings(data_dir=folder, database_url=f"sqlite:///{folder / 'lifebank.db'}", secret_key="x" * 32)
        return
    name = f"lbr_{RUN_ID}_{uuid.uuid4().hex[:8]}"
    url = _create_pg_database(name)
    yield Settings(data_dir=folder, database_url=url, secret_key="x" * 32)
    _drop_pg_database(name)


def test_backup_then_restore_gives_the_same_bank(bank: Settings, db: Database, empty_target: Settings,
                                                 tmp_path: Path) -> None:
    archive = tmp_path / "bank.tar.gz"
    summary = backup(bank, archive)
    assert archive.exists() and summary.tables["ledger_event"] == audit.verify(db).checked >= 2
    assert summary.tables["auth_user"] == 2
    restored = restore(empty_target, archive)
    assert restored.tables == summary.tables
    parquet = "omics/dataset=1/part-0.parquet"
    assert (empty_target.data_dir / parquet).read_bytes() == (bank.data_dir / parquet).read_bytes()
    assert (empty_target.data_dir / "secret_key").read_text() == "generated-secret-key"
    copy = Database(empty_target.effective_database_url)
    try:
        result = audit.verify(copy)
        assert result.ok and result.checked == summary.tables["ledger_event"]
        assert auth.authenticate(copy, empty_target, "alice", TEST_PASSWORD).username == "alice"
    finally:
        copy.dispose()


def test_a_backup_never_overwrites_a_file(bank: Settings, tmp_path: Path) -> None:
    archive = tmp_path / "bank.tar.gz"
    archive.write_bytes(b"precious")
    with pytest.raises(BackupError, match="already exists"):
        backup(bank, archive)
    assert archive.read_bytes() == b"precious"


def _rewrite(archive: Path, out: Path, *, drop: str | None = None, corrupt: str | None = None) -> Path:
    """Copy an archive member by member, dropping or altering one, keeping the original manifest."""
    with tarfile.open(archive, "r:gz") as src, tarfile.open(out, "w:gz") as dst:
        for member in src:
            data = src.extractfile(member).read()
            if member.name == drop:
                continue
            if member.name == corrupt:
                data = data[:100] + bytes([data[100] ^ 0xFF]) + data[101:]
            dst.addfile(member, io.BytesIO(data))
    return out


@pytest.mark.parametrize("backend", ["sqlite"])
def test_damaged_truncated_or_incomplete_archives_are_refused_naming_the_file(bank: Settings, tmp_path: Path,
                                                                            empty_target: Settings) -> None:
    archive = tmp_path / "bank.tar.gz"
    backup(bank, archive)
    parquet = "data/omics/dataset=1/part-0.parquet"

    cases = {
        "altered": (_rewrite(archive, tmp_path / "altered.tar.gz", corrupt=parquet), f"{parquet} is damaged"),
        "missing": (_rewrite(archive, tmp_path / "missing.tar.gz", drop=parquet), f"{parquet} is missing"),
        "no manifest": (_rewrite(archive, tmp_path / "nomani.tar.gz", drop="manifest.json"), "has no manifest"),
    }
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    cases["truncated"] = (truncated, "damaged or truncated")
    flipped = bytearray(gzip.decompress(archive.read_bytes()))
    flipped[len(flipped) // 3] ^= 0xFF
    bitrot = tmp_path / "bitrot.tar.gz"
    bitrot.write_bytes(gzip.compress(bytes(flipped)))
    cases["bit rot"] = (bitrot, "damaged")

    for what, (path, expected) in cases.items():
        with pytest.raises(BackupError, match=expected.replace("(", r"\(").replace(")", r"\)")):
            restore(empty_target, path)
        assert not empty_target.data_dir.exists(), what  # nothing written
    assert verify_archive(archive)["database"] == "sqlite"


@pytest.mark.parametrize("backend", ["sqlite"])
def test_restore_refuses_a_folder_or_database_that_is_not_empty(bank: Settings, tmp_path: Path,
                                                                empty_target: Settings) -> None:
    archive = tmp_path / "bank.tar.gz"
    backup(bank, archive)
    empty_target.data_dir.mkdir()
    (empty_target.data_dir / "notes.txt").write_text("someone's file")
    with pytest.raises(BackupError, match="is not empty"):
        restore(empty_target, archive)
    assert (empty_target.data_dir / "notes.txt").read_text() == "someone's file"
    with pytest.raises(BackupError, match="same kind of database"):
        restore(Settings(data_dir=tmp_path / "pg", database_url="postgresql+psycopg://postgres@127.0.0.1/x"),
                archive)


@pytest.mark.parametrize("backend", ["sqlite"])
def test_cli_backup_and_restore(bank: Settings, db_url: str, tmp_path: Path) -> None:
    def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "lifebank", *args], env={**os.environ, **env},
                              capture_output=True, text=True, timeout=120)

    source = {"LIFEBANK_DATABASE_URL": db_url, "LIFEBANK_DATA_DIR": str(bank.data_dir)}
    archive = tmp_path / "cli.tar.gz"
    done = cli(source, "backup", str(archive), "--format", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["files"] == 3  # database, Parquet file, secret key
    again = cli(source, "backup", str(archive))
    assert again.returncode == 1 and "never overwrites" in again.stderr

    target_dir = tmp_path / "fresh"
    target = {"LIFEBANK_DATABASE_URL": f"sqlite:///{target_dir / 'lifebank.db'}", "LIFEBANK_DATA_DIR": str(target_dir)}
    damaged = _rewrite(archive, tmp_path / "damaged.tar.gz", corrupt="data/omics/dataset=1/part-0.parquet")
    refused = cli(target, "restore", str(damaged))
    assert refused.returncode == 1
    assert "data/omics/dataset=1/part-0.parquet" in refused.stderr and not target_dir.exists()
    restored = cli(target, "restore", str(archive))
    assert restored.returncode == 0, restored.stderr
    assert "ledger intact" in restored.stdout
