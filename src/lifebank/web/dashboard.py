"""The dashboard: each role's numbers and charts on one page, drawn on the server (SVG).

Panels come from the domains (`<domain>/dashboard.py`, see `dashboard_panels`) plus the ledger's recent
events and imports for roles that read the audit log. Nothing here counts a large table on the request
path: the bank's figures are a snapshot (`lifebank.biobank.statistics`) that says how fresh it is; while a
first snapshot is being computed the page says so and asks again by itself (htmx).
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from lifebank.audit import service as audit
from lifebank.auth.service import Principal
from lifebank.domains import domain_modules
from lifebank.web.dashboard_panels import Panel
from lifebank.web.deps import DbDep
from lifebank.web.templating import gettext_for, render
from lifebank.web.ui import page_principal

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
RECENT = 8
# Ledger entity types of bulk imports across domains (biobank files, HLA donor files, omics VCF batches).
IMPORT_ENTITIES = ("import", "hla_import", "omics_batch")


def collect_panels(request: Request, db: DbDep, principal: Principal) -> tuple[list[Panel], bool]:
    """Every panel this principal may see, in order; the flag says some figures are still being computed."""
    gettext = gettext_for(request)
    found: list[Panel] = []
    for module in domain_modules("dashboard"):
        try:
            found.extend(module.panels(db, principal, request.state.locale, gettext))
        except Exception:  # one domain's failing panel must not take the whole dashboard down
            log.exception("dashboard panels of %s failed", module.__name__)
    if principal.can("audit.read"):
        found.append(Panel("recent-imports", 80, "Recent imports", "_dashboard_events.html", wide=True, context=
                           {"events": audit.recent_events(db, entity_types=IMPORT_ENTITIES, limit=RECENT),
                            "empty": "No imports yet."}))
        found.append(Panel("recent-events", 90, "Recent ledger events", "_dashboard_events.html", wide=True, context=
                           {"events": audit.recent_events(db, limit=RECENT), "empty": "No events yet."}))
    pending = any(p.key.endswith("-pending") for p in found)
    return sorted(found, key=lambda p: p.order), pending


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard(request: Request, db: DbDep, principal: Annotated[Principal, Depends(page_principal)]) -> Response:
    panels, pending = collect_panels(request, db, principal)
    return render(request, "dashboard.html", panels=panels, pending=pending)


@router.get("/dashboard/panels", response_class=HTMLResponse)
def dashboard_panels(request: Request, db: DbDep,
                     principal: Annotated[Principal, Depends(page_principal)]) -> Response:
    """The panels alone: what the page polls while a first snapshot is being computed."""
    panels, pending = collect_panels(request, db, principal)
    return render(request, "_dashboard_panels.html", panels=panels, pending=pending)
