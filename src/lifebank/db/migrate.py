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


def ensure_current(db: Database) -> None:
    """Refuse to run on an outdated schema, naming the command that fixes it."""
    current, heads = current_revisions(db), head_revisions(db)
    if current != heads:
        state = "empty" if not current else "outdated"
        raise SchemaOutdated(
            f"the database schema is {state} (at {sorted(current) or 'nothing'}, needs {sorted(heads)}); "
            "run `lifebank db upgrade` first"
        )
