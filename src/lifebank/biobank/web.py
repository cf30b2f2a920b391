"""Pages of the biobank, one module per use case (a newcomer finds a page by its name):

- `pages_specimens`  — the specimen list, a specimen's page and the actions on specimens
- `pages_storage`    — storage units, occupancy, box maps, storage management
- `pages_import`     — bulk import with the row-error report
- `pages_labels`     — label printing
- `pages_participants` — participants and consent (register, new version, withdrawal with preview)
"""

from __future__ import annotations

from fastapi import APIRouter

from lifebank.biobank import (
    pages_import,
    pages_labels,
    pages_participants,
    pages_specimen_actions,
    pages_specimen_bulk,
    pages_specimens,
    pages_storage,
)
from lifebank.biobank import vocabulary as _vocabulary  # noqa: F401 - registers the labels of the codes
from lifebank.web.templating import NavItem

router = APIRouter(prefix="/biobank", include_in_schema=False)
for _pages in (pages_specimens, pages_storage, pages_import, pages_labels, pages_participants):
    router.include_router(_pages.router)
for _pages in (pages_specimen_actions, pages_specimen_bulk):  # the technician's actions on specimens
    router.include_router(_pages.router)

NAV: list[NavItem] = [
    NavItem("Participants", "/biobank/participants", "participant.read", 9, within=True),
    NavItem("Specimens", "/biobank/specimens", "specimen.read", 10, within=True),
    NavItem("Storage", "/biobank/storage", "storage.read", 11),
    NavItem("Import", "/biobank/import", "import.run", 12),
    NavItem("Labels", "/biobank/labels", "label.print", 13),
]
