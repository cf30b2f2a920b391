"""The biobank's share of the header search: a specimen barcode, a participant code or a storage path.

Exact matches only (a scanned barcode must open that tube, never its neighbour); barcodes and participant
codes are upper-case by convention, so a lower-case scan or typing finds them too. A storage path may end in
a position (`ZJ/FRZ-01/R01/BOX-1/A1`): it opens the tube there, or the box when the position is empty. Only
what the principal may open is returned (specimen.read, participant.read, storage.read); a site or collection
grant finds only what lies in its scope, checked by the same functions the API's 404s use. Goes through the
biobank's service functions, never its tables.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote

from lifebank.biobank import service
from lifebank.biobank.api import participant_in_scope, specimen_in_scope
from lifebank.errors import LifeBankError
from lifebank.web.find import Hit

if TYPE_CHECKING:
    from lifebank.auth.service import Principal
    from lifebank.db.engine import Database


def _spellings(text: str) -> list[str]:
    return list(dict.fromkeys([text, text.upper()]))


def specimen_url(barcode: str) -> str:
    return f"/biobank/specimens/{quote(barcode, safe='')}"


def storage_url(path: str) -> str:
    return f"/biobank/storage?path={quote(path, safe='')}"


def _specimens(db: Database, text: str, principal: Principal) -> list[Hit]:
    hits = []
    for barcode in _spellings(text):
        try:
            found = service.get_specimen(db, barcode)
            specimen_in_scope(db, principal, found["barcode"])
        except LifeBankError:
            continue
        hits.append(Hit(found["barcode"], specimen_url(found["barcode"]), "specimen"))
    return hits


def _participants(db: Database, text: str, principal: Principal) -> list[Hit]:
    hits = []
    for code in sorted(service.existing_participants(db, _spellings(text))):
        try:
            participant_in_scope(db, principal, code)
        except LifeBankError:
            continue
        hits.append(Hit(code, f"/biobank/participants/{quote(code, safe='')}", "participant"))
    return hits


def _storage(db: Database, text: str, principal: Principal) -> list[Hit]:
    path = text.strip("/").strip()
    if not path:
        return []
    try:
        container = service.container_info(db, path)
    except LifeBankError:
        return _position(db, path, principal)
    return [Hit(container["path"], storage_url(container["path"]), "container")]


def _position(db: Database, path: str, principal: Principal) -> list[Hit]:
    """`box path/position`: the tube in that position (if the reader may see specimens), else the box."""
    box_path, _, position = path.rpartition("/")
    if not box_path or not position:
        return []
    try:
        grid = service.box_map(db, box_path)
    except LifeBankError:
        return []
    for cell in grid["cells"]:
        if cell["label"].upper() == position.upper():
            specimen = cell["specimen"]
            if specimen and principal.can("specimen.read"):
                return [Hit(f"{grid['path']}/{cell['label']}", specimen_url(specimen["barcode"]), "position")]
            return [Hit(f"{grid['path']}/{cell['label']}", storage_url(grid["path"]), "position")]
    return []


def find(db: Database, text: str, principal: Principal) -> list[Hit]:
    """Specimens, participants and storage places that `text` names exactly, as far as `principal` may see."""
    hits: list[Hit] = []
    if principal.can_within("specimen.read"):
        hits += _specimens(db, text, principal)
    if principal.can_within("participant.read"):
        hits += _participants(db, text, principal)
    if principal.can("storage.read"):
        hits += _storage(db, text, principal)
    return hits


__all__ = ["find", "specimen_url", "storage_url"]
