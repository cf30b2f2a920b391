"""Data sharing: a GA4GH Beacon v2 over the live bank, and de-identified exports for recipients (issue 14).

What other domains may use:
- `beacon_levels(db)` -> {dataset: security level} of every Beacon dataset.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lifebank.db.engine import Database


def beacon_levels(db: Database) -> dict[str, str]:
    """Security level (PUBLIC, REGISTERED, CONTROLLED) of every dataset the Beacon serves."""
    from lifebank.sharing import beacon

    return beacon.levels(db)


__all__ = ["beacon_levels"]
