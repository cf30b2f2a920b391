"""`lifebank restore`: prove an archive against its manifest, then write it into an empty bank.

Nothing is written until every member has been read and matched its SHA-256 and size in the manifest, so a
damaged, truncated or incomplete archive is refused before it can leave half a bank behind; the message
names the member. The target must be empty (a data folder with nothing in it, an SQLite file that does not
exist yet, a PostgreSQL database with no tables): a restore never merges into, or overwrites, a live bank.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from lifebank.config import Settings
from lifebank.db.backup import (
    CHUNK,
    FORMAT,
    MANIFEST,
    POSTGRES_MEMBER,
    SQLITE_MEMBER,
    BackupError,
    pg_counts,
    pg_env,
    run_tool,
    sqlite_counts,
    sqlite_path,
)


@dataclass(frozen=True, slots=True)
class RestoreSummary:
    database: str
    files: int
    tables: dict[str, int]
    created_at: str


def _safe_name(name: str) -> str:
    """Only the member names a LifeBank backup writes: no absolute paths, no `..`, nothing outside data/."""
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise BackupError("archive member {member} has an unsafe path", member=name)
    if name not in (MANIFEST, SQLITE_MEMBER, POSTGRES_MEMBER) and path.parts[0] != "data":
        raise BackupError("archive member {member} is not part of a LifeBank backup", member=name)
    return name


def _read_members(src: Path) -> tuple[dict[str, tuple[int, str]], dict[str, object]]:
    """Hash every member (first pass); return {name: (size, sha256)} and the parsed manifest."""
    seen: dict[str, tuple[int, str]] = {}
    manifest_bytes: bytes | None = None
    last = "(start of the archive)"
    try:
        with tarfile.open(src, "r:gz") as archive:
            for member in archive:
                name = _safe_name(member.name)
                if not member.isfile():
                    raise BackupError("archive member {member} is not a regular file", member=name)
                if name in seen:
                    raise BackupError("archive member {member} appears twice", member=name)
                handle = archive.extractfile(member)
                assert handle is not None  # a regular file always has content
                if name == MANIFEST:
                    manifest_bytes = handle.read()
                    seen[name] = (len(manifest_bytes), hashlib.sha256(manifest_bytes).hexdigest())
                else:
                    digest = hashlib.sha256()
                    while chunk := handle.read(CHUNK):
                        digest.update(chunk)
                    seen[name] = (member.size, digest.hexdigest())
                last = name
    except FileNotFoundError:
        raise BackupError("no archive at {path}", path=str(src)) from None
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise BackupError("archive {path} is damaged or truncated after {member} ({reason})",
                          path=str(src), member=last, reason=str(exc) or type(exc).__name__) from None
    if manifest_bytes is None:
        raise BackupError("archive {path} is incomplete: it has no {manifest}", path=str(src), manifest=MANIFEST)
    try:
        manifest = json.loads(manifest_bytes)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise BackupError("{manifest} in {path} is not valid JSON", manifest=MANIFEST, path=str(src)) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError("{path} is not a LifeBank backup ({format} expected)", path=str(src), format=FORMAT)
    return seen, manifest


def verify_archive(src: Path) -> dict[str, object]:
    """Check every member against the manifest without writing anything; return the manifest."""
    seen, manifest = _read_members(src)
    listed = manifest.get("files")
    if not isinstance(listed, list):
        raise BackupError("{manifest} in {path} lists no files", manifest=MANIFEST, path=str(src))
    names = set()
    for entry in listed:
        name = str(entry.get("path")) if isinstance(entry, dict) else "?"
        names.add(name)
        if name not in seen:
            raise BackupError("archive {path} is incomplete: {member} is missing", path=str(src), member=name)
        size, digest = seen[name]
        if size != entry.get("size") or digest != entry.get("sha256"):
            raise BackupError("archive member {member} is damaged: its SHA-256 differs from the manifest",
                              member=name)
    extra = sorted(set(seen) - names - {MANIFEST})
    if extra:
        raise BackupError("archive member {member} is not listed in the manifest", member=extra[0])
    if manifest.get("database") not in ("sqlite", "postgresql"):
        raise BackupError("{manifest} in {path} names no database", manifest=MANIFEST, path=str(src))
    return manifest


def _check_empty_target(settings: Settings, kind: str) -> None:
    if settings.is_sqlite != (kind == "sqlite"):
        raise BackupError("this archive holds a {archive} database but LifeBank is configured for {configured}; "
                          "restore into the same kind of database", archive=kind,
                          configured="sqlite" if settings.is_sqlite else "postgresql")
    data_dir = settings.data_dir
    if data_dir.exists() and (not data_dir.is_dir() or any(data_dir.iterdir())):
        raise BackupError("data folder {folder} is not empty; restore only into an empty folder",
                          folder=str(data_dir))
    if kind == "sqlite":
        target = sqlite_path(settings)
        if target.exists():
            raise BackupError("database file {path} already exists; restore only into an empty bank",
                              path=str(target))
        return
    from sqlalchemy import create_engine

    engine = create_engine(settings.effective_database_url)
    try:
        with engine.connect() as conn:
            tables = pg_counts(conn)
    finally:
        engine.dispose()
    if tables:
        raise BackupError("the PostgreSQL database already has {count} tables; restore only into an empty "
                          "database", count=len(tables))


def restore(settings: Settings, src: Path) -> RestoreSummary:
    """Verify `src`, then restore it into an empty bank.

    Everything is first written into a staging folder beside the data folder, which then takes the data
    folder's place with one rename: a restore killed at any moment leaves the data folder (and an SQLite
    database inside it) either as it was or complete, never half-written. A stale staging folder of a killed
    run is removed by the next restore. On PostgreSQL the database is restored in one transaction
    (`pg_restore --single-transaction`) just before that rename; the database and the folder being two
    stores, a restore killed exactly between the two leaves the database restored and the folder empty, and
    `restore` then says the database is not empty: drop and re-create the database and run it again.
    """
    src = src.expanduser().resolve()
    manifest = verify_archive(src)
    kind = str(manifest["database"])
    _check_empty_target(settings, kind)
    data_dir = settings.data_dir
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    for stale in data_dir.parent.glob(f".{data_dir.name}.restoring-*"):
        shutil.rmtree(stale, ignore_errors=True)
    staging = data_dir.parent / f".{data_dir.name}.restoring-{os.getpid()}"
    staging.mkdir()
    database_file = sqlite_path(settings) if kind == "sqlite" else None
    inside = database_file is not None and data_dir in database_file.parents
    outside_copy = None if database_file is None or inside else database_file.with_name(
        f".{database_file.name}.restoring-{os.getpid()}")
    try:
        files = 0
        with tarfile.open(src, "r:gz") as archive:
            for member in archive:
                if member.name == MANIFEST:
                    continue
                handle = archive.extractfile(member)
                assert handle is not None
                if member.name == SQLITE_MEMBER:
                    assert database_file is not None
                    target = staging / database_file.relative_to(data_dir) if inside else outside_copy
                elif member.name == POSTGRES_MEMBER:
                    target = staging.parent / f"{staging.name}.dump"
                else:
                    target = staging / PurePosixPath(member.name).relative_to("data")
                assert target is not None
                target.parent.mkdir(parents=True, exist_ok=True)
                with target.open("xb") as out:
                    shutil.copyfileobj(handle, out, CHUNK)
                    out.flush()
                    os.fsync(out.fileno())
                os.chmod(target, 0o600)
                files += 1
        if kind == "postgresql":
            dump = staging.parent / f"{staging.name}.dump"
            env, dbname = pg_env(settings)
            run_tool(["pg_restore", "--exit-on-error", "--single-transaction", "--no-owner", "--no-privileges",
                      f"--dbname={dbname}", str(dump)], env)
            dump.unlink()
        if outside_copy is not None and database_file is not None:
            os.replace(outside_copy, database_file)
        if data_dir.exists():
            data_dir.rmdir()  # checked empty above; a folder someone filled meanwhile is not removed
        os.replace(staging, data_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        for leftover in (outside_copy, staging.parent / f"{staging.name}.dump"):
            if leftover is not None:
                leftover.unlink(missing_ok=True)
        raise
    counts = _restored_pg_counts(settings) if kind == "postgresql" else sqlite_counts(sqlite_path(settings))
    expected = manifest.get("tables") or {}
    for table, count in sorted(expected.items()):
        if counts.get(table) != count:
            raise BackupError("after the restore table {table} holds {found} rows, the archive recorded {expected}",
                              table=table, found=counts.get(table, 0), expected=count)
    return RestoreSummary(database=kind, files=files, tables=counts, created_at=str(manifest.get("created_at")))


def _restored_pg_counts(settings: Settings) -> dict[str, int]:
    from sqlalchemy import create_engine

    engine = create_engine(settings.effective_database_url)
    try:
        with engine.connect() as conn:
            return pg_counts(conn)
    finally:
        engine.dispose()

