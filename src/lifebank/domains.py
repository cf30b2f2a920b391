"""The domain packages of the modular monolith and the conventional modules each may provide.

A domain plugs into the platform by convention, never by editing shared code:
`lifebank.<domain>.api` (a FastAPI `router`), `.web` (a `router` and a `NAV` item), `.cli` (a Typer `app`),
`.demo` (a `load_demo(db, progress)` function), `.service` (optionally a `warm_up(db)` function) and
`<domain>/migrations/` (an Alembic branch labelled with the domain's name).
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import threading
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lifebank.db.engine import Database

log = logging.getLogger(__name__)

# Order matters for demo loading: later domains may link to earlier ones (omics samples -> biobank).
DOMAINS: tuple[str, ...] = ("auth", "audit", "biobank", "hla", "omics", "access", "clinical", "celltherapy",
                           "sharing", "precision")


def domain_module(domain: str, name: str) -> ModuleType | None:
    module_name = f"lifebank.{domain}.{name}"
    try:
        if importlib.util.find_spec(module_name) is None:
            return None
    except ModuleNotFoundError:
        return None
    return importlib.import_module(module_name)


def domain_modules(name: str) -> list[ModuleType]:
    """Every domain's `name` module that exists, in domain order."""
    found = (domain_module(domain, name) for domain in DOMAINS)
    return [module for module in found if module is not None]


def migration_folders() -> list[Path]:
    root = Path(__file__).parent
    folders = [root / "db" / "migrations" / "versions"]
    folders += [root / domain / "migrations" for domain in DOMAINS if (root / domain / "migrations").is_dir()]
    return folders


def warm_up(db: Database) -> threading.Thread:
    """Run every domain's `service.warm_up(db)` in a background thread and return it (started).

    Some answers rest on in-memory structures built from the database (the HLA search index takes about a
    minute at 10 M donors); building them when the server starts spares the first user that wait. A failure
    is logged and left for the request path, which rebuilds and reports it properly.
    """

    def run() -> None:
        for module in domain_modules("service"):
            warm = getattr(module, "warm_up", None)
            if warm is None:
                continue
            try:
                warm(db)
            except Exception:  # logged; the request path rebuilds the structure and reports the error properly
                log.exception("warm-up of %s failed", module.__name__)

    thread = threading.Thread(target=run, name="lifebank-warm-up", daemon=True)
    thread.start()
    return thread
