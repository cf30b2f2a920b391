"""Alembic, driven from Python so `lifebank db ...` and the app share one code path.

Each domain owns an Alembic branch (its own `migrations/` folder, labelled with the domain's name,
depending on the foundation's first revision). Domains can therefore add migrations without
touching one another; "up to date" means the database is at every branch head.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from lifebank.db.engine import Database
from lifebank.domains import migration_folders
from lifebank.errors import SchemaOutdated


def alembic_config(db: Database) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    cfg.set_main_option("version_locations", " ".join(str(p) for p in migration_folders()))
    cfg.set_main_option("path_separator", "space")
    cfg.attributes["database"] = db
    return cfg


def upgrade(db: Database, target: str = "heads") -> None:
    db.check_connection()
    command.upgrade(alembic_config(db), target)


def current_revisions(db: Database) -> set[str]:
    db.check_connection()
    with db.engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads())


def head_revisions(db: Database) -> set[str]:
    return set(ScriptDirectory.from_config(alembic_config(db)).get_heads())


def _as_tuple(value: str | tuple[str, ...] | list[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def applied_revisions(db: Database, current: set[str] | None = None) -> set[str]:
    """Every revision the database has: its recorded heads plus all their ancestors and dependencies.

    Alembic records only the heads it reached; a branch that another depends on (the foundation) is
    applied without being recorded, so "up to date" must be judged by ancestry, not by the recorded set.
    """
    script = ScriptDirectory.from_config(alembic_config(db))
    pending = list(current if current is not None else current_revisions(db))
    seen: set[str] = set()
    while pending:
        revision = script.get_revision(pending.pop())
        if revision is None or revision.revision in seen:
            continue
        seen.add(revision.revision)
        pending.extend(_as_tuple(revision.down_revision))
        pending.extend(_as_tuple(revision.dependencies))
    return seen


def ensure_current(db: Database) -> None:
    """Refuse to run on an outdated schema, naming the command that fixes it."""
    current, heads = current_revisions(db), head_revisions(db)
    if not heads <= applied_revisions(db, current):
        if not current:
            raise SchemaOutdated("the database schema is empty (needs {heads}); run `lifebank db upgrade` first",
                                 heads=sorted(heads))
        raise SchemaOutdated("the database schema is outdated (at {current}, needs {heads}); "
                             "run `lifebank db upgrade` first", current=sorted(current), heads=sorted(heads))
