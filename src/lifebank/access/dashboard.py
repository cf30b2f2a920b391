"""The access domain's panel on the dashboard: open requests by state, and the user's unread notices.

Counts come from the requests the reader may see (all for bank staff, their organisation's otherwise), a
small table read per page view; no bank-wide scan is involved.
"""

from __future__ import annotations

from collections.abc import Callable

from lifebank.access import notifications
from lifebank.access.requests import count_open
from lifebank.access.workflow import OPEN_STATES, State
from lifebank.auth.service import Principal
from lifebank.db.engine import Database
from lifebank.web.dashboard_panels import Panel


def panels(db: Database, principal: Principal, language: str, gettext: Callable[[str], str]) -> list[Panel]:
    if not any(principal.can(p) for p in ("access.request", "access.read", "access.review")):
        return []
    counts = count_open(db, principal)
    ordered = [(s.value, counts.get(s.value, 0)) for s in State if s in OPEN_STATES]
    return [Panel("access-requests", 25, "Open access requests", "access/_dashboard_requests.html",
                  {"by_state": ordered, "total": sum(counts.values()),
                   "unread": notifications.unread_count(db, principal.username)})]
