"""The requesting organisation, as the access domain reads it from `lifebank.auth`'s published functions.

A request names its organisation; its for-profit flag feeds the NPU consent rule and its country the HGR
rule (a recipient outside the bank's country makes the request international). The access domain keeps a
copy of those facts on the request, as declared when it was made.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lifebank.errors import NotFound

if TYPE_CHECKING:
    from lifebank.db.engine import Database


def bank_country() -> str:
    """The bank's own country (ISO 3166): LIFEBANK_BANK_COUNTRY, China by default (HGR rules)."""
    return (os.environ.get("LIFEBANK_BANK_COUNTRY") or "CN").strip().upper()


@dataclass(frozen=True, slots=True)
class OrganisationRef:
    id: int
    name: str
    country: str
    for_profit: bool


def _ref(org: Any) -> OrganisationRef:
    get = org.get if isinstance(org, dict) else lambda key: getattr(org, key, None)
    return OrganisationRef(int(get("id")), str(get("name")), str(get("country") or bank_country()).upper(),
                           bool(get("for_profit")))


def organisation_named(db: Database, name: str) -> OrganisationRef:
    """The organisation called `name` (NotFound names it otherwise)."""
    import lifebank.auth as auth

    if not name or not name.strip():
        raise NotFound("organisation {name!r} does not exist", name=name)
    return _ref(auth.get_organisation(db, name))


def organisation_of(principal: Any) -> int | None:
    """The organisation a user belongs to (None: none, e.g. an administrator of the platform)."""
    return getattr(principal, "organisation_id", None)
