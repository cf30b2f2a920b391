"""The domain packages of the modular monolith and the conventional modules each may provide.

A domain plugs into the platform by convention, never by editing shared code:
`lifebank.<domain>.api` (a FastAPI `router`), `.web` (a `router` and a `NAV` item), `.cli` (a Typer `app`),
`.demo` (a `load_demo(db, progress)` function) and `<domain>/migrations/` (an Alembic branch labelled
with the domain's name).
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from types import ModuleType

# Order matters for demo loading: later domains may link to earlier ones (omics samples -> biobank).
DOMAINS: tuple[str, ...] = ("auth", "audit", "biobank", "hla", "omics")


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
