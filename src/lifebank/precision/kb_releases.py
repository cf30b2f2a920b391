"""Loading a knowledge-base release and resolving the one in force: the pointer rows over kb_store's folders.

A load validates the release folder in full (outside any transaction: parsing takes about a second), then, in
one write transaction, which takes the writers' turn first: sweeps what an interrupted load left, installs the
release folders (kb_store: staged, fsynced, renamed), records each release, switches each source's pointer and
appends `precision.kb.load` to the ledger. A crash (or a failed transaction) before the commit leaves the old
pointer and at most an orphan folder, swept by the next load; after it, the new pointer, its folder complete.
Readers call `current_files(db, data_dir)` and see exactly one of the two.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lifebank.audit.service import record
from lifebank.db.base import utcnow
from lifebank.db.engine import Database
from lifebank.precision import kb_store
from lifebank.precision.kb import KnowledgeBase
from lifebank.precision.kb_store import Loaded, SourceFile
from lifebank.precision.models import KbPointer, KbRelease


def _in_force(session: Session) -> dict[str, Loaded]:
    rows = session.execute(select(KbPointer, KbRelease).join(KbRelease, KbPointer.release_id == KbRelease.id))
    return {pointer.source: Loaded(pointer.source, release.folder, release.file, release.version, release.sha256,
                                   pointer.loaded_at.isoformat(timespec="seconds"), pointer.loaded_by)
            for pointer, release in rows}


def in_force(db: Database | None) -> dict[str, Loaded]:
    """The committed pointers: the release folder in force per loaded source."""
    if db is None:
        return {}
    with db.session() as session:
        return _in_force(session)


def current_files(db: Database | None, data_dir: Path | None) -> dict[str, SourceFile]:
    """The file in force per source, resolved through the pointers (vendored where none is loaded)."""
    return kb_store.current_files(data_dir, in_force(db) if data_dir is not None else {})


def knowledge_base(db: Database | None, data_dir: Path | None) -> KnowledgeBase:
    """The knowledge base in force (built once per process per set of release folders)."""
    return kb_store.knowledge_base(current_files(db, data_dir))


def load(db: Database, data_dir: Path, folder: Path, *, actor: str) -> list[dict[str, Any]]:
    """Load a release folder (validated in full first) and switch to it, ledgered, all or nothing."""
    releases = kb_store.prepare_release(folder, current_files(db, data_dir))
    with db.transaction() as session:
        committed = set(session.scalars(select(KbRelease.folder)))  # the first statement takes the turn
        kb_store.sweep(data_dir, committed)
        now = utcnow()
        for release in releases:
            kb_store.install(release, data_dir)
            row = session.scalar(select(KbRelease).where(KbRelease.folder == release.folder))
            if row is None:
                row = KbRelease(source=release.source, folder=release.folder, file=release.file.name,
                                version=release.version, sha256=release.sha256, created_at=now)
                session.add(row)
                session.flush()
            pointer = session.get(KbPointer, release.source)
            if pointer is None:
                session.add(KbPointer(source=release.source, release_id=row.id, loaded_at=now, loaded_by=actor))
            else:
                pointer.release_id, pointer.loaded_at, pointer.loaded_by = row.id, now, actor
            record(session, actor=actor, action="precision.kb.load", entity_type="precision_kb",
                   entity_id=release.source, change={"version": release.version, "sha256": release.sha256,
                                                     "file": release.file.name, "release": release.folder})
    return [{"source": r.source, "version": r.version, "sha256": r.sha256, "file": r.file.name} for r in releases]
