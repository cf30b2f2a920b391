"""What CLI commands share: the settings and the database they act on.

Every domain's CLI module imports this one when `lifebank` starts, so it imports nothing heavy at module
level: pydantic-settings, SQLAlchemy and Alembic load when a command first asks for the settings or the
database, never for `lifebank --help` or a command that needs neither.
"""

from __future__ import annotations

import getpass
from functools import lru_cache
from typing import TYPE_CHECKING

from lifebank.cli import schema
from lifebank.errors import ConfigError

if TYPE_CHECKING:
    from lifebank.config import Settings
    from lifebank.db.engine import Database


def settings() -> Settings:
    from lifebank.config import get_settings

    return get_settings()


@lru_cache(maxsize=1)
def _database(url: str) -> Database:
    from lifebank.db.engine import Database

    return Database(url)


def database(*, require_current: bool = True, create: bool = False) -> Database:
    """The configured database, connected and (unless told otherwise) at the current schema.

    The embedded SQLite database lives in the data folder. When LIFEBANK_DATA_DIR is not set and the
    default folder (`./data`) does not exist, a command run from the wrong place would silently start an
    empty bank there; so only commands that mean to create one (`db upgrade`, `demo`: `create=True`) do,
    and the others say where the folder would be and how to point at the real one.
    """
    cfg = settings()
    if cfg.is_sqlite and not cfg.database_url:
        if not create and "data_dir" not in cfg.model_fields_set and not cfg.data_dir.is_dir():
            raise ConfigError(
                "no LifeBank data folder at {folder}: set LIFEBANK_DATA_DIR to the folder that holds "
                "lifebank.db (or LIFEBANK_DATABASE_URL), or create a new database here with "
                "`lifebank db upgrade` (or `lifebank demo`)", folder=str(cfg.data_dir))
        cfg.ensure_data_dir()
    db = _database(cfg.effective_database_url)
    db.check_connection()
    if require_current and not schema.known_current(db):
        from lifebank.db import migrate

        migrate.ensure_current(db)  # Alembic decides (and words the refusal) whenever the quick check is unsure
    return db


def cli_actor() -> str:
    """Ledger actor for terminal commands: the operating-system account that ran them."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no passwd entry in some containers
        return "cli"
