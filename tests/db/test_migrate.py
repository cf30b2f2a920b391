"""Schema state detection across the per-domain Alembic branches."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from lifebank.db import migrate
from lifebank.db.engine import Database
from lifebank.errors import SchemaOutdated


def test_partially_migrated_database_is_outdated_until_every_branch_is_applied(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'partial.db'}")
    with pytest.raises(SchemaOutdated, match="empty"):
        migrate.ensure_current(db)
    migrate.upgrade(db, "foundation@head")
    heads = migrate.head_revisions(db)
    if heads != {"0001_foundation"}:  # domain branches exist: the foundation alone is not enough
        with pytest.raises(SchemaOutdated, match="run `lifebank db upgrade`"):
            migrate.ensure_current(db)
    migrate.upgrade(db)
    migrate.ensure_current(db)
    assert heads <= migrate.applied_revisions(db)


def test_fully_migrated_fixture_database_is_current(db: Database) -> None:
    migrate.ensure_current(db)
    with db.session() as session:
        assert session.execute(text("SELECT seq, hash FROM ledger_head WHERE id = 1")).one() == (0, "0" * 64)


def test_sqlite_runs_with_wal_and_foreign_keys(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'pragma.db'}")
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
