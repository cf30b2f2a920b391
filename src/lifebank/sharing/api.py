"""HTTP API of data sharing (mounted under /api/v1/sharing): exports and releases.

The Beacon itself lives at /api/beacon/v2 (`beacon_api`); this router holds what is not Beacon: writing a
de-identified export (export managers), listing exports (a recipient sees only their own) and downloading
an export's files (only its recipient, or an export manager).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from lifebank.auth.service import Principal
from lifebank.errors import ValidationFailed
from lifebank.sharing import beacon, exports
from lifebank.web.deps import DbDep, require

router = APIRouter(prefix="/sharing", tags=["sharing"])

Manager = Annotated[Principal, Depends(require("share.export"))]
Recipient = Annotated[Principal, Depends(require("share.receive"))]


class ExportIn(BaseModel):
    format: Literal["csv", "parquet", "fhir", "phenopackets"]
    request: int | None = Field(None, description="an approved access request's id")
    release: int | None = Field(None, description="a release (record grant) id")
    dataset: str = Field("biobank", description="the dataset a request draws on")
    k: int = Field(5, ge=2, le=1000)


class ReleaseIn(BaseModel):
    dataset: str
    username: str
    purposes: str = Field(min_length=1, description="DUO terms of the use, e.g. HMB")
    reason: str = ""
    request: str | None = None


@router.post("/releases", status_code=201, summary="Release a dataset's records to one user (admin)")
def release(body: ReleaseIn, db: DbDep, principal: Manager) -> dict[str, Any]:
    grant_id = beacon.grant_records(db, body.dataset, body.username, purposes=body.purposes,
                                    actor=principal.username, reason=body.reason, request_id=body.request)
    return {"id": grant_id}


@router.post("/exports", status_code=201, summary="Write a de-identified export for a recipient")
async def create_export(body: ExportIn, request: Request, db: DbDep, principal: Manager) -> dict[str, Any]:
    if (body.request is None) == (body.release is None):
        raise ValidationFailed("give either request or release")

    def run() -> dict[str, Any]:
        source = exports.from_request(db, body.request, body.dataset) if body.request is not None else \
            exports.from_release(db, body.release)  # type: ignore[arg-type]
        return exports.export(db, request.app.state.settings.data_dir, source, body.format,
                              actor=principal.username, k=body.k)

    return await run_in_threadpool(run)


@router.get("/exports", summary="Exports: all for export managers, one's own for recipients")
def list_exports(db: DbDep, principal: Recipient) -> list[dict[str, Any]]:
    mine = None if principal.can("share.export") else principal.username
    return exports.list_exports(db, recipient=mine)


@router.get("/exports/{export_id}/files/{name:path}", summary="Download one file of an export (its recipient)")
def download(export_id: int, name: str, db: DbDep, principal: Recipient) -> FileResponse:
    path, digest = exports.export_file(db, export_id, name, username=principal.username,
                                       manager=principal.can("share.export"))
    return FileResponse(path, filename=path.name, headers={"Digest": f"sha-256={digest}"})
