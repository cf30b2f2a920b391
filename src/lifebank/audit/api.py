"""HTTP API of the ledger: list and filter events, show one with its change, export, verify the chain."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from lifebank.audit import service
from lifebank.audit.export import events_export
from lifebank.web.deps import DbDep, require
from lifebank.web.exports import parse_format
from lifebank.web.pagination import Page, PageParams, page_params
from lifebank.web.templating import time_zone_of

router = APIRouter(prefix="/audit", tags=["audit"])
AuditReader = Annotated[object, Depends(require("audit.read"))]


class VerifyOut(BaseModel):
    ok: bool
    checked: int
    broken_seq: int | None
    reason: str | None


class EventOut(BaseModel):
    event: dict[str, Any]
    change: dict[str, Any] | None
    change_matches_digest: bool | None


def event_filter(
    request: Request,
    entity_type: Annotated[str | None, Query()] = None,
    entity_id: Annotated[str | None, Query()] = None,
    actor: Annotated[str | None, Query()] = None,
    action: Annotated[str | None, Query(description="Ledger action code, e.g. user.create")] = None,
    date_from: Annotated[date | None, Query(description="First day, in your time zone (YYYY-MM-DD)")] = None,
    date_to: Annotated[date | None, Query(description="Last day included, in your time zone")] = None,
) -> service.EventFilter:
    """The filters every ledger listing takes; days are whole days of the caller's time zone."""
    return service.EventFilter.from_local_dates(time_zone_of(request), start=date_from, end=date_to,
                                                entity_type=entity_type, entity_id=entity_id, actor=actor,
                                                action=action)


FilterDep = Annotated[service.EventFilter, Depends(event_filter)]


@router.get("/events", response_model=Page[dict[str, Any]])
def list_events(db: DbDep, _: AuditReader, page: Annotated[PageParams, Depends(page_params)],
                where: FilterDep) -> Page[dict[str, Any]]:
    total, events = service.list_events(db, where=where, limit=page.limit, offset=page.offset)
    return Page(total=total, limit=page.limit, offset=page.offset, items=[service.event_view(e) for e in events])


@router.get("/events/export", summary="Download the filtered events as CSV or Excel (streamed)")
def export_events(request: Request, db: DbDep, _: AuditReader, where: FilterDep,
                  format: Annotated[str, Query(description="csv or xlsx")] = "csv") -> StreamingResponse:
    return events_export(db, where, parse_format(format).value, language=request.state.locale,
                         zone=time_zone_of(request))


@router.get("/events/{seq}", response_model=EventOut, summary="One event with what it changed")
def get_event(seq: int, db: DbDep, _: AuditReader) -> EventOut:
    detail = service.event_detail(db, seq)
    return EventOut(event=service.event_view(detail.event), change=detail.change,
                    change_matches_digest=detail.change_matches_digest)


@router.get("/verify", response_model=VerifyOut)
def verify(db: DbDep, _: AuditReader) -> VerifyOut:
    result = service.verify(db)
    return VerifyOut(ok=result.ok, checked=result.checked,
                     broken_seq=result.broken.seq if result.broken else None,
                     reason=result.broken.reason if result.broken else None)


__all__ = ["event_filter", "router"]
