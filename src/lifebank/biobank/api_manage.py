"""HTTP API of a biobank manager's work that the pages also offer: the participants export, the withdrawal
preview, container types (list, edit) and the free-position finder. Included by `biobank/api.py` (under
/api/v1/biobank) ahead of its `/participants/{code}` route, so `/participants/export` is not read as a code.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from lifebank.auth.deps import require_within
from lifebank.auth.service import Principal
from lifebank.biobank import service
from lifebank.web.deps import DbDep, require
from lifebank.web.exports import export_response, parse_format

router = APIRouter()

ParticipantReader = Annotated[Principal, Depends(require("participant.read"))]
ScopedParticipantReader = Annotated[Principal, Depends(require_within("participant.read"))]
StorageReader = Annotated[Principal, Depends(require("storage.read"))]
PARTICIPANT_EXPORT_COLUMNS = ("code", "sex", "birth_year", "site", "consent_status", "specimens", "registered")


class ContainerTypeEdit(BaseModel):
    name: str | None = Field(default=None, max_length=64)
    rows: int | None = Field(default=None, ge=1, le=100)
    columns: int | None = Field(default=None, ge=1, le=100)
    scheme: str | None = None


@router.get("/participants/export")
def export_participants(db: DbDep, principal: ScopedParticipantReader, format: str = "csv", code: str | None = None,
                        site: str | None = None, consent_code: str | None = None,
                        consent_status: str | None = None, sort: str = "code", desc: bool = False) -> Response:
    """The whole filtered participants list (the list page's filters and sort), streamed as CSV or xlsx."""
    fmt = parse_format(format)
    flt = service.ParticipantFilter(code=code or None, site=site or None, consent_code=consent_code or None,
                                    consent_status=consent_status or None,
                                    scope=principal.scope_of("participant.read"))
    rows = service.iter_participants(db, flt, sort=sort, descending=desc)
    return export_response(fmt, "participants", PARTICIPANT_EXPORT_COLUMNS, rows, sheet="participants")


@router.get("/participants/{code}/withdrawal-preview")
def withdrawal_preview(code: str, db: DbDep, _p: ParticipantReader) -> dict[str, Any]:
    """What withdrawing the participant's consent would block: specimens and open reservations."""
    return service.withdrawal_preview(db, code)


@router.get("/container-types")
def container_types(db: DbDep, _p: StorageReader) -> list[dict[str, Any]]:
    return service.list_container_types(db)


@router.patch("/container-types/{name}")
def edit_container_type(name: str, body: ContainerTypeEdit, db: DbDep,
                        principal: Annotated[Principal, Depends(require("storage.write"))]) -> dict[str, Any]:
    ctype = service.edit_container_type(db, name, new_name=body.name, rows=body.rows, columns=body.columns,
                                        scheme=body.scheme, actor=principal.username)
    return {"name": ctype.name, "kind": ctype.kind, "rows": ctype.rows, "columns": ctype.columns,
            "scheme": ctype.scheme}


@router.get("/free-positions")
def free_positions(db: DbDep, _p: StorageReader, temperature_class: Annotated[str, Query(min_length=1)],
                   limit: Annotated[int, Query(ge=1, le=1000)] = 50,
                   offset: Annotated[int, Query(ge=0)] = 0) -> dict[str, Any]:
    """Boxes of a temperature class with free positions: how many, the first ones, and the box path."""
    return service.find_free_positions(db, temperature_class, limit=limit, offset=offset)
