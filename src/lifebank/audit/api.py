"""HTTP API of the ledger: list events and verify the chain."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from lifebank.audit import service
from lifebank.web.deps import DbDep, require
from lifebank.web.pagination import Page, PageParams, page_params

router = APIRouter(prefix="/audit", tags=["audit"])
AuditReader = Annotated[object, Depends(require("audit.read"))]


class VerifyOut(BaseModel):
    ok: bool
    checked: int
    broken_seq: int | None
    reason: str | None


@router.get("/events", response_model=Page[dict[str, Any]])
def list_events(
    db: DbDep, _: AuditReader, page: Annotated[PageParams, Depends(page_params)],
    entity_type: Annotated[str | None, Query()] = None,
    entity_id: Annotated[str | None, Query()] = None,
    actor: Annotated[str | None, Query()] = None,
) -> Page[dict[str, Any]]:
    total, events = service.list_events(db, entity_type=entity_type, entity_id=entity_id, actor=actor,
                                        limit=page.limit, offset=page.offset)
    return Page(total=total, limit=page.limit, offset=page.offset, items=[service.event_view(e) for e in events])


@router.get("/verify", response_model=VerifyOut)
def verify(db: DbDep, _: AuditReader) -> VerifyOut:
    result = service.verify(db)
    return VerifyOut(ok=result.ok, checked=result.checked,
                     broken_seq=result.broken.seq if result.broken else None,
                     reason=result.broken.reason if result.broken else None)
