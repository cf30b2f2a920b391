"""`lifebank backup` and `lifebank restore`: the whole bank in one archive, checked before anything is restored.

An archive (`.tar.gz`) holds a consistent snapshot of the database (SQLite's online-backup API, or `pg_dump`
of an exported PostgreSQL snapshot), every file of the data folder (the omics Parquet store, uploaded
documents, the generated secret key) and, last, `manifest.json`: the SHA-256 and size of every other member
and the row count of every table in that same snapshot. Restore reads the archive twice: once to prove every
member against the manifest (a damaged, truncated or incomplete archive is refused, naming the file) and only
then to write, into an empty data folder and an empty database, after which the row counts must match.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from lifebank.config import Settings
from lifebank.errors import LifeBankError

FORMAT = "lifebank-backup/1"
MANIFEST = "manifest.json"
SQLITE_MEMBER = "database/lifebank.sqlite"
POSTGRES_MEMBER = "database/postgresql.dump"
CHUNK = 1 << 20


class BackupError(LifeBankError):
    """A backup that cannot be written or an archive that cannot be restored (exit 1, naming the file)."""

    status = 422
    title = "Backup refused"


@dataclass(frozen=True, slots=True)
class BackupSummary:
    path: Path
    database: str
    files: int
    bytes: int
    tables: dict[str, int]
    sha256: str


# --- the database snapshot ----------------------------------------------------------------------------

def sqlite_path(settings: Settings) -> Path:
    from sqlalchemy.engine import make_url

    database = make_url(settings.effective_database_url).database
    if not database or database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return Path(database).expanduser().resolve()


def sqlite_counts(path: Path) -> dict[str, int]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        names = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        return {name: conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] for name in names}


def _snapshot_sqlite(settings: Settings, work: Path) -> tuple[Path, dict[str, int]]:
    source = sqlite_path(settings)
    if not source.is_file():
        raise BackupError("no database at {path}", path=str(source))
    target = work / "lifebank.sqlite"
    # The online-backup API copies a consistent image while writers go on (WAL readers never block them).
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst, pages=4096)
    finally:
        dst.close()
        src.close()
    return target, sqlite_counts(target)


def pg_env(settings: Settings) -> tuple[dict[str, str], str]:
    from sqlalchemy.engine import make_url

    url = make_url(settings.effective_database_url)
    env = dict(os.environ)
    for key, value in (("PGHOST", url.host), ("PGPORT", url.port), ("PGUSER", url.username),
                       ("PGPASSWORD", url.password)):
        if value is not None:
            env[key] = str(value)
    return env, url.database or "postgres"


def run_tool(command: list[str], env: dict[str, str]) -> None:
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise BackupError("{program} is not installed (it comes with the PostgreSQL client tools)",
                          program=command[0]) from None
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["exit " + str(done.returncode)])[-1]
        raise BackupError("{program} failed: {reason}", program=command[0], reason=reason)


def pg_counts(conn: Any) -> dict[str, int]:
    names = [r[0] for r in conn.exec_driver_sql(
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename")]
    return {name: conn.exec_driver_sql(f'SELECT count(*) FROM "{name}"').scalar_one() for name in names}


def _snapshot_postgresql(settings: Settings, work: Path) -> tuple[Path, dict[str, int]]:
    """pg_dump reads the very snapshot the row counts were taken in (`pg_export_snapshot`), so the manifest's
    counts describe exactly the rows in the dump even while the bank keeps writing."""
    from sqlalchemy import create_engine

    env, dbname = pg_env(settings)
    target = work / "postgresql.dump"
    engine = create_engine(settings.effective_database_url)
    try:
        with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn, conn.begin():
            snapshot = conn.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one()
            counts = pg_counts(conn)
            run_tool(["pg_dump", "--format=custom", "--no-owner", "--no-privileges", f"--snapshot={snapshot}",
                  f"--file={target}", dbname], env)
    finally:
        engine.dispose()
    return target, counts


# --- writing the archive ------------------------------------------------------------------------------

class _HashingReader(io.RawIOBase):
    """Feeds tarfile a file while hashing it, so each member is read from disk once."""

    def __init__(self, handle: IO[bytes]) -> None:
        self._handle = handle
        self.digest = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._handle.read(len(buffer))
        self.digest.update(data)
        buffer[: len(data)] = data
        return len(data)


def _data_files(data_dir: Path, skip: set[Path]) -> Iterator[tuple[Path, str]]:
    if not data_dir.is_dir():
        return
    for root, dirs, files in os.walk(data_dir):
        dirs[:] = sorted(d for d in dirs if d != ".staging")  # an import's work area, never read
        for name in sorted(files):
            path = Path(root, name)
            if path.resolve() in skip or name == ".write-test" or path.is_symlink():
                continue
            yield path, "data/" + path.relative_to(data_dir).as_posix()


def backup(settings: Settings, dest: Path, on_progress: Callable[[int], None] | None = None) -> BackupSummary:
    """Write the archive `dest` (refusing to overwrite one); the file appears complete or not at all."""
    dest = dest.expanduser().resolve()
    if not dest.name.endswith(".tar.gz"):
        raise BackupError("the backup file name must end in .tar.gz: {path}", path=str(dest))
    if dest.exists():
        raise BackupError("{path} already exists; a backup never overwrites a file", path=str(dest))
    if not dest.parent.is_dir():
        raise BackupError("folder {folder} does not exist", folder=str(dest.parent))
    with tempfile.TemporaryDirectory(prefix=".lifebank-backup-", dir=dest.parent) as tmp:
        work = Path(tmp)
        if settings.is_sqlite:
            db_file, counts, member, kind = *_snapshot_sqlite(settings, work), SQLITE_MEMBER, "sqlite"
            skip = {sqlite_path(settings)}
            skip |= {Path(str(p) + suffix) for p in skip for suffix in ("-wal", "-shm", "-journal")}
        else:
            db_file, counts, member, kind = *_snapshot_postgresql(settings, work), POSTGRES_MEMBER, "postgresql"
            skip = set()
        skip.add(dest)
        members = [(db_file, member), *_data_files(settings.data_dir, skip)]
        partial = work / "archive.tar.gz"
        listed: list[dict[str, object]] = []
        with tarfile.open(partial, "w:gz", compresslevel=6) as archive:
            for path, name in members:
                if work.resolve() in path.resolve().parents and path != db_file:
                    continue
                with path.open("rb") as handle:
                    size = os.fstat(handle.fileno()).st_size
                    info = tarfile.TarInfo(name)
                    info.size, info.mtime, info.mode = size, int(path.stat().st_mtime), 0o600
                    reader = _HashingReader(handle)
                    archive.addfile(info, io.BufferedReader(reader, CHUNK))
                listed.append({"path": name, "size": size, "sha256": reader.digest.hexdigest()})
                if on_progress:
                    on_progress(1)
            manifest = {
                "format": FORMAT, "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "lifebank_version": _version(), "database": kind, "tables": counts, "files": listed,
            }
            encoded = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mtime, info.mode = len(encoded), int(datetime.now(UTC).timestamp()), 0o600
            archive.addfile(info, io.BytesIO(encoded))
        with partial.open("rb") as handle:
            os.fsync(handle.fileno())
        try:
            os.link(partial, dest)  # fails if dest appeared meanwhile: still never an overwrite
        except FileExistsError:
            raise BackupError("{path} already exists; a backup never overwrites a file", path=str(dest)) from None
        except OSError:
            shutil.copyfile(partial, dest)
    return BackupSummary(path=dest, database=kind, files=len(listed), bytes=dest.stat().st_size,
                         tables=counts, sha256=_sha256_file(dest))


def _version() -> str:
    from lifebank import __version__

    return str(__version__)


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
