"""The omics domain's only door into the biobank: the functions `lifebank.biobank` exports.

Kept in one module so the cross-domain contract is visible and the rest of omics never imports biobank.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from lifebank.db.engine import Database
from lifebank.errors import ConfigError


def _biobank(name: str) -> Callable[..., Any]:
    try:
        module = importlib.import_module("lifebank.biobank")
        return getattr(module, name)
    except (ImportError, AttributeError):
        raise ConfigError("the biobank domain does not provide {name}() yet", name=name) from None


def available() -> bool:
    try:
        _biobank("existing_participants")
    except ConfigError:
        return False
    return True


def existing_participants(db: Database, codes: set[str]) -> set[str]:
    return set(_biobank("existing_participants")(db, codes))


def specimen_participants(db: Database, barcodes: set[str]) -> dict[str, str]:
    return dict(_biobank("specimen_participants")(db, barcodes))


def participants_matching(db: Database, *, consent_code: str | None = None, sex: str | None = None,
                          site: str | None = None, among: set[str] | None = None) -> set[str]:
    return set(_biobank("participants_matching")(db, consent_code=consent_code, sex=sex, site=site,
                                                 among=among))


def participants_with_specimens(db: Database, *, specimen_type: str | None = None, status: str | None = "available",
                                min_quantity: float | None = None, among: set[str] | None = None) -> set[str]:
    return set(_biobank("participants_with_specimens")(db, specimen_type=specimen_type, status=status,
                                                       min_quantity=min_quantity, among=among))


def list_participant_codes(db: Database, limit: int) -> list[str]:
    return list(_biobank("list_participant_codes")(db, limit))


def vocabulary(kind: str) -> list[str]:
    """The biobank's codes of one kind ('specimen_type', 'specimen_status', 'sex'), in its order.

    They come from the labels the biobank registers (`lifebank.biobank.vocabulary`), the same table its own
    pages use, so the cohort builder offers and accepts exactly what the biobank stores. Empty when the
    biobank domain is not installed.
    """
    from lifebank.messages import labels_of

    try:
        importlib.import_module("lifebank.biobank.vocabulary")
    except ImportError:
        return []
    return list(labels_of(kind))
