"""The HLA registry's share of the header search: a donor (or cord unit) id, matched exactly.

Registry ids are upper-case by convention (`DEMO-A000001`), so a lower-case entry finds them too. Only
holders of `hla.read` get hits. Goes through the registry's service, never its tables.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote

from lifebank.errors import LifeBankError
from lifebank.hla import service
from lifebank.web.find import Hit

if TYPE_CHECKING:
    from lifebank.auth.service import Principal
    from lifebank.db.engine import Database


def donor_url(donor_id: str) -> str:
    return f"/hla/donors/{quote(donor_id, safe='')}"


def find(db: Database, text: str, principal: Principal) -> list[Hit]:
    """The donor whose id is `text` (as typed, or upper-cased), if the principal may read donors."""
    if not principal.can("hla.read"):
        return []
    hits: list[Hit] = []
    for donor_id in dict.fromkeys([text, text.upper()]):
        try:
            donor = service.get_donor(db, donor_id)
        except LifeBankError:
            continue
        hits.append(Hit(donor["donor_id"], donor_url(donor["donor_id"]), "donor"))
    return hits


__all__ = ["donor_url", "find"]
