"""What CLI commands share: the settings and the database they act on."""

from __future__ import annotations

import getpass
from functools import lru_cache

from lifebank.config import Settings, get_settings
from lifebank.db import migrate
from lifebank.db.engine import Database


def settings() -> Settings:
    return get_settings()


@lru_cache(maxsize=1)
def _database(url: str) -> Database:
    return Database(url)


def database(*, require_current: bool = True) -> Database:
    """The configured database, connected and (unless told otherwise) at the current schema."""
    cfg = settings()
    if cfg.is_sqlite and not cfg.database_url:
        cfg.ensure_data_dir()
    db = _database(cfg.effective_database_url)
    db.check_connection()
    if require_current:
        migrate.ensure_current(db)
    return db


def cli_actor() -> str:
    """Ledger actor for terminal commands: the operating-system account that ran them."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no passwd entry in some containers
        return "cli"
