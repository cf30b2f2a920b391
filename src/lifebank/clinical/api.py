"""The clinical JSON API under /api/v1/clinical: import a FHIR file, a participant's records, the vocabulary.

(The FHIR R4 read API itself lives at `/fhir/r4`: see `fhir_api.py`.)
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from lifebank.auth.service import Principal
from lifebank.clinical import fhir_import, queries
from lifebank.errors import PermissionDenied, ValidationFailed
from lifebank.web.deps import DbDep, require

router = APIRouter(prefix="/clinical", tags=["clinical"])
MAX_UPLOAD = 512 * 1024 * 1024
Importer = Annotated[Principal, Depends(require("import.run"))]
Reader = Annotated[Principal, Depends(require("participant.read"))]


@router.post("/import", status_code=201,
             openapi_extra={"requestBody": {"content": {"application/fhir+json": {"schema": {"type": "object"}},
                                                        "application/fhir+ndjson": {"schema": {"type": "string"}}}}})
async def import_fhir(request: Request, db: DbDep, principal: Importer,
                      name: Annotated[str, Query(description="file name used in error messages")] = "upload.json",
                      create_participants: Annotated[bool, Query()] = False) -> Any:
    """Body: a FHIR Bundle, one resource, or Bulk Data NDJSON. All-or-nothing; `errors` names every bad resource
    (line or entry, FHIR path, reason). Answers the counts per resource type."""
    if create_participants and not principal.can("participant.write"):
        raise PermissionDenied("permission {permission!r} is required", permission="participant.write")
    raw = await request.body()
    if len(raw) > MAX_UPLOAD:
        raise ValidationFailed("file larger than {limit} bytes", limit=f"{MAX_UPLOAD:,}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationFailed("the file is not UTF-8 text") from None
    result = await run_in_threadpool(fhir_import.import_fhir_text, db, name, text, actor=principal.username,
                                     create_participants=create_participants)
    return JSONResponse(result, status_code=201)


@router.get("/participants/{code}/records")
def participant_records(code: str, db: DbDep, _p: Reader) -> list[dict[str, Any]]:
    """Every clinical record of a participant, oldest first (kind, system, code, display, times, value, unit)."""
    return [{**r, "start": r["start"].isoformat() if r["start"] else None,
             "end": r["end"].isoformat() if r["end"] else None} for r in queries.clinical_timeline(db, code)]


@router.get("/vocabulary")
def vocabulary(db: DbDep, _p: Reader) -> dict[str, int]:
    """Concepts per vocabulary in the loaded (site's own) vocabulary."""
    from lifebank.clinical.vocabulary_load import vocabulary_summary

    return vocabulary_summary(db)
