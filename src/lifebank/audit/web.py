"""Pages of the ledger: the filtered event list (with page counts and exports) and one event's detail."""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from lifebank.audit import service
from lifebank.auth.service import Principal
from lifebank.errors import LifeBankError, ValidationFailed
from lifebank.messages import labels_of
from lifebank.web.deps import DbDep
from lifebank.web.templating import render, time_zone_of
from lifebank.web.ui import page_requires

router = APIRouter(include_in_schema=False)
AuditReader = Annotated[Principal, Depends(page_requires("audit.read"))]
PAGE_SIZE = 50
FILTER_KEYS = ("date_from", "date_to", "actor", "action", "entity_type", "entity_id")


def _day(value: str, field: str) -> date | None:
    if not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ValidationFailed("{field}: {value!r} is not a date (YYYY-MM-DD)", field=field, value=value) from None


@router.get("/audit", response_class=HTMLResponse)
def audit_page(
    request: Request, db: DbDep, _p: AuditReader,
    date_from: str = "", date_to: str = "", actor: str = "", action: str = "", entity_type: str = "",
    entity_id: str = "", page: int = 1, verify: bool = False,
) -> Response:
    filters = {"date_from": date_from, "date_to": date_to, "actor": actor, "action": action,
               "entity_type": entity_type, "entity_id": entity_id}
    page = max(page, 1)
    error, total, events = None, 0, []
    try:
        where = service.EventFilter.from_local_dates(
            time_zone_of(request), start=_day(date_from, "from"), end=_day(date_to, "to"), actor=actor,
            action=action, entity_type=entity_type, entity_id=entity_id)
        total, events = service.list_events(db, where=where, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    except LifeBankError as exc:
        error = exc
    pages = max(1, -(-total // PAGE_SIZE))
    query = {k: v for k, v in filters.items() if v}
    actions = labels_of("ledger_action")
    if action and action not in actions:
        actions[action] = action
    return render(request, "audit.html", status_code=422 if error else 200, events=events, total=total,
                  page=page, pages=pages, filters=filters, error=error, actions=sorted(actions),
                  entity_types=sorted(labels_of("entity_type")), verdict=service.verify(db) if verify else None,
                  query=urlencode(query), page_link=lambda n: "?" + urlencode({**query, "page": n}))


@router.get("/audit/events/{seq}", response_class=HTMLResponse)
def event_page(request: Request, seq: int, db: DbDep, _p: AuditReader) -> Response:
    detail = service.event_detail(db, seq)
    event = detail.event
    same_object = urlencode({"entity_type": event.entity_type, "entity_id": event.entity_id})
    change_rows = [(key, value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))
                   for key, value in sorted((detail.change or {}).items())]
    return render(request, "audit_event.html", detail=detail, event=event, same_object=same_object,
                  change_rows=change_rows)


__all__ = ["FILTER_KEYS", "router"]
