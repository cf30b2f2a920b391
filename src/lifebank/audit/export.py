"""The ledger as a CSV or Excel download: the filtered events, times in the reader's zone, actions by label."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.responses import StreamingResponse

from lifebank.audit.service import EventFilter, iter_events
from lifebank.db.engine import Database
from lifebank.i18n import translations
from lifebank.messages import label
from lifebank.web.exports import export_response
from lifebank.web.templating import local_time

COLUMNS = ["seq", "time", "actor", "action", "action_label", "entity_type", "entity_id", "change", "hash"]


def _headers(language: str, zone: ZoneInfo) -> list[str]:
    _ = translations(language).gettext
    return ["#", _("Time (%(zone)s)") % {"zone": zone.key}, _("Actor"), _("Action code"), _("Action"),
            _("Entity type"), _("Entity"), _("Change"), _("Hash")]


def _rows(db: Database, where: EventFilter, language: str, zone: ZoneInfo) -> Iterator[dict[str, Any]]:
    for row in iter_events(db, where):
        yield {**row, "time": local_time(row["occurred"], zone, seconds=True),
               "action_label": label("ledger_action", row["action"], language)}


def events_export(db: Database, where: EventFilter, fmt: str, *, language: str, zone: ZoneInfo) -> StreamingResponse:
    """Stream every event the filter selects (not just the page on screen)."""
    return export_response(fmt, "ledger-events", COLUMNS, _rows(db, where, language, zone),
                           headers=_headers(language, zone), sheet="ledger")
