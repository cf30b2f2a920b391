"""The read-only FHIR R4 REST API under `/fhir/r4`: metadata, read, search and Group Bulk Data `$export`.

Same bearer tokens (or session) and permissions as `/api/v1`: Patient, Condition, Observation, Procedure,
Encounter, MedicationStatement and Consent need `participant.read`; Specimen `specimen.read`; Group
`cohort.read`, and its `$export` (which hands out members' clinical rows) also `participant.read`. Only the
CapabilityStatement (`metadata`) is public, as FHIR clients read it before they authenticate. Every error is
an OperationOutcome (`application/fhir+json`), never the UI's HTML page: the router's own route class catches
them before the app's handlers do.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, BackgroundTasks, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.routing import APIRoute

from lifebank import __version__
from lifebank.auth.service import Principal
from lifebank.clinical import fhir_export, fhir_out, fhir_search
from lifebank.db.engine import Database
from lifebank.errors import LifeBankError, NotFound
from lifebank.web.deps import get_db, require
from lifebank.web.problems import request_language

FHIR_JSON = "application/fhir+json"
BASE = "/fhir/r4"
RECORD_TYPES = tuple(fhir_search.KINDS_OF_TYPE)
ISSUE_CODES = {401: "login", 403: "forbidden", 404: "not-found", 409: "conflict", 422: "invalid", 400: "invalid"}


def fhir_response(body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=status, media_type=FHIR_JSON, headers=headers)


class FhirRoute(APIRoute):
    """Turns every error of a FHIR route (its dependencies included) into an OperationOutcome."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except LifeBankError as exc:
                status = exc.status
                return fhir_response(fhir_out.outcome(ISSUE_CODES.get(status, "processing"),
                                                      exc.render(request_language(request))), status)
            except RequestValidationError as exc:
                text = "; ".join(str(e.get("msg")) for e in exc.errors())
                return fhir_response(fhir_out.outcome("invalid", text), 400)

        return route


# Outside the OpenAPI document (which describes /api/v1): FHIR clients read the CapabilityStatement instead.
router = APIRouter(prefix=BASE, route_class=FhirRoute, tags=["fhir"], include_in_schema=False)
PatientReader = Depends(require("participant.read"))


def _params(request: Request) -> dict[str, list[str]]:
    params: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        params.setdefault(key.split(":")[0], []).append(value)
    return params


def searchset(request: Request, rtype: str, total: int, resources: list[dict[str, Any]], limit: int,
              offset: int) -> JSONResponse:
    """A searchset Bundle with self/next/previous links (offset paging)."""
    base = str(request.base_url).rstrip("/") + f"{BASE}/{rtype}"
    kept = [(k, v) for k, v in request.query_params.multi_items() if k not in {"_offset", "_count"}]

    def link(relation: str, at: int) -> dict[str, str]:
        from urllib.parse import urlencode

        query = urlencode([*kept, ("_count", str(limit)), ("_offset", str(at))])
        return {"relation": relation, "url": f"{base}?{query}"}

    links = [link("self", offset)]
    if offset + limit < total:
        links.append(link("next", offset + limit))
    if offset > 0:
        links.append(link("previous", max(0, offset - limit)))
    entries = [{"fullUrl": f"{base}/{r['id']}", "resource": r, "search": {"mode": "match"}} for r in resources]
    return fhir_response({"resourceType": "Bundle", "type": "searchset", "total": total, "link": links,
                          "entry": entries})


def _paging(request: Request) -> tuple[int, int]:
    limit = fhir_search.page_size(request.query_params.get("_count"))
    offset_text = request.query_params.get("_offset", "0")
    if not offset_text.isdigit():
        raise NotFound("_offset must be a whole number")
    return limit, int(offset_text)


@router.get("/metadata", summary="CapabilityStatement (public)")
def metadata(request: Request) -> JSONResponse:
    search = [{"name": n, "type": t} for n, t in (("subject", "reference"), ("code", "token"), ("date", "date"),
                                                    ("_lastUpdated", "date"), ("_count", "number"))]
    resources = [{"type": t, "interaction": [{"code": "read"}, {"code": "search-type"}], "searchParam": search}
                 for t in (*RECORD_TYPES, "Specimen", "Consent")]
    resources += [{"type": "Patient", "interaction": [{"code": "read"}, {"code": "search-type"}],
                   "searchParam": [{"name": "identifier", "type": "token"}, {"name": "_lastUpdated", "type": "date"}]},
                  {"type": "Group", "interaction": [{"code": "read"}, {"code": "search-type"}],
                   "operation": [{"name": "export",
                                  "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export"}]}]
    return fhir_response({
        "resourceType": "CapabilityStatement", "status": "active", "date": "2026-11-30", "kind": "instance",
        "software": {"name": "LifeBank", "version": __version__},
        "implementation": {"description": "LifeBank read-only FHIR R4 API",
                           "url": str(request.base_url).rstrip("/") + BASE},
        "fhirVersion": "4.0.1", "format": ["json"],
        "rest": [{"mode": "server", "security": {"description": "Authorization: Bearer <LifeBank API token>"},
                  "resource": sorted(resources, key=lambda r: r["type"])}]})


@router.get("/Patient", summary="Search patients (participants with clinical data)")
def search_patients(request: Request, db: Database = Depends(get_db), _p: Principal = PatientReader) -> JSONResponse:
    limit, offset = _paging(request)
    total, found = fhir_search.search_patients(db, _params(request), limit=limit, offset=offset)
    return searchset(request, "Patient", total, found, limit, offset)


@router.get("/Patient/{pid}", summary="Read a patient")
def read_patient(pid: str, db: Database = Depends(get_db), _p: Principal = PatientReader) -> JSONResponse:
    return fhir_response(fhir_search.read_patient(db, pid))


def _record_routes(rtype: str) -> None:
    def search(request: Request, db: Database = Depends(get_db), _p: Principal = PatientReader) -> JSONResponse:
        limit, offset = _paging(request)
        total, found = fhir_search.search_records(db, rtype, _params(request), limit=limit, offset=offset)
        return searchset(request, rtype, total, found, limit, offset)

    def read(rid: str, db: Database = Depends(get_db), _p: Principal = PatientReader) -> JSONResponse:
        return fhir_response(fhir_search.read_record(db, rtype, rid))

    router.add_api_route(f"/{rtype}", search, methods=["GET"], summary=f"Search {rtype}")
    router.add_api_route(f"/{rtype}/{{rid}}", read, methods=["GET"], summary=f"Read {rtype}")


for _type in RECORD_TYPES:
    _record_routes(_type)


@router.get("/Specimen", summary="Search specimens (subject)")
def search_specimens(request: Request, db: Database = Depends(get_db),
                     _p: Principal = Depends(require("specimen.read"))) -> JSONResponse:
    limit, offset = _paging(request)
    total, found = fhir_export.search_specimens(db, _params(request), limit=limit, offset=offset)
    return searchset(request, "Specimen", total, found, limit, offset)


@router.get("/Specimen/{barcode}", summary="Read a specimen (parent lineage, container, collection)")
def read_specimen(barcode: str, db: Database = Depends(get_db),
                  _p: Principal = Depends(require("specimen.read"))) -> JSONResponse:
    return fhir_response(fhir_export.read_specimen(db, barcode))


@router.get("/Consent", summary="Search consents (patient)")
def search_consents(request: Request, db: Database = Depends(get_db), _p: Principal = PatientReader) -> JSONResponse:
    limit, offset = _paging(request)
    total, found = fhir_export.search_consents(db, _params(request), limit=limit, offset=offset)
    return searchset(request, "Consent", total, found, limit, offset)


@router.get("/Consent/{cid}", summary="Read a consent (DUO codes)")
def read_consent(cid: str, db: Database = Depends(get_db), _p: Principal = PatientReader) -> JSONResponse:
    return fhir_response(fhir_export.read_consent(db, cid))


@router.get("/Group", summary="Search groups (saved cohorts)")
def search_groups(request: Request, db: Database = Depends(get_db),
                  _p: Principal = Depends(require("cohort.read"))) -> JSONResponse:
    limit, offset = _paging(request)
    groups = fhir_export.all_groups(db)
    return searchset(request, "Group", len(groups), groups[offset:offset + limit], limit, offset)


@router.get("/Group/{gid}", summary="Read a group (a saved cohort)")
def read_group(gid: str, db: Database = Depends(get_db),
               _p: Principal = Depends(require("cohort.read"))) -> JSONResponse:
    return fhir_response(fhir_export.read_group(db, gid))


@router.get("/Group/{gid}/$export", summary="Bulk Data export of a group: kick-off (202 + Content-Location)")
def export_group(gid: str, request: Request, background: BackgroundTasks, db: Database = Depends(get_db),
                 principal: Principal = Depends(require("cohort.read")),
                 _p: Principal = PatientReader) -> Response:
    group = fhir_export.read_group(db, gid)
    job = fhir_export.start_export(db, group, str(request.url), actor=principal.username)
    background.add_task(fhir_export.run_export, db, request.app.state.settings.data_dir, job, group)
    location = str(request.base_url).rstrip("/") + f"{BASE}/$export-status/{job}"
    return Response(status_code=202, headers={"Content-Location": location})


@router.get("/$export-status/{job}", summary="Bulk Data export status (202 while running, 200 + manifest)")
def export_status(job: str, request: Request, db: Database = Depends(get_db),
                  principal: Principal = Depends(require("cohort.read")), _p: Principal = PatientReader) -> Response:
    state = fhir_export.export_state(db, job, principal.username)
    if state["status"] == "running":
        return Response(status_code=202, headers={"X-Progress": "running", "Retry-After": "1"})
    base = str(request.base_url).rstrip("/") + f"{BASE}/$export-file/{job}"
    return JSONResponse({"transactionTime": state["transaction_time"], "request": state["request"],
                         "requiresAccessToken": True,
                         "output": [{"type": o["type"], "url": f"{base}/{o['type']}.ndjson", "count": o["count"]}
                                    for o in state["output"]], "error": []})


@router.get("/$export-file/{job}/{name}", summary="One NDJSON file of a finished export")
def export_file(job: str, name: str, request: Request, db: Database = Depends(get_db),
                principal: Principal = Depends(require("cohort.read")), _p: Principal = PatientReader) -> Response:
    path = fhir_export.export_file(db, request.app.state.settings.data_dir, job, name, principal.username)
    return FileResponse(path, media_type="application/fhir+ndjson")

