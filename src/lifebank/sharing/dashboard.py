"""The sharing panel on the dashboard: where the Beacon page and the export pages are.

The sharing domain keeps out of the main navigation (the tablet header must stay compact), so the dashboard
is where users find it: everyone the Beacon page, export managers the export page and its count, recipients
their own exports and how many wait for them (a small indexed count, no scan).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import func, select

from lifebank.auth.service import Principal
from lifebank.db.engine import Database
from lifebank.sharing.models import ShareExport
from lifebank.web.dashboard_panels import Panel


def panels(db: Database, principal: Principal, language: str, gettext: Callable[[str], str]) -> list[Panel]:
    mine = None
    if principal.can("share.receive"):
        with db.session() as session:
            mine = session.scalar(select(func.count()).where(ShareExport.recipient == principal.username)) or 0
    return [Panel("sharing", 80, "Data sharing", "sharing/_dashboard.html",
                  {"can_export": principal.can("share.export"), "mine": mine})]
