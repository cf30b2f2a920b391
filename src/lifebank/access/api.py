"""HTTP API of access requests (mounted under /api/v1/access): parse the request, call the use case, shape
the answer. Who may see which request is decided by the use cases (another organisation's request is a 404,
worded like a missing one); the routes check the capability each action needs.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from lifebank.access import exports, notifications, service, splitting
from lifebank.auth.service import Principal
from lifebank.errors import PermissionDenied
from lifebank.web.deps import DbDep, PrincipalDep, require

router = APIRouter(prefix="/access", tags=["access"])

Manager = Annotated[Principal, Depends(require("access.manage"))]
Fulfiller = Annotated[Principal, Depends(require("access.fulfil"))]
Reviewer = Annotated[Principal, Depends(require("access.review"))]


def _requester(principal: PrincipalDep) -> Principal:
    """Anyone who may ask for material or read requests: requesters, reviewers and bank staff."""
    if not any(principal.can(p) for p in ("access.request", "access.read", "access.review", "access.manage")):
        raise PermissionDenied("permission {permission!r} is required", permission="access.request")
    return principal


Requester = Annotated[Principal, Depends(_requester)]


class ItemIn(BaseModel):
    specimen_type: str = Field(max_length=8)
    per_participant: int = Field(default=1, ge=1, le=100)
    total: int | None = Field(default=None, ge=1)
    min_volume: float | None = Field(default=None, ge=0)


class RequestIn(BaseModel):
    title: str = Field(max_length=300)
    organisation: str
    purposes: list[str] = Field(min_length=1)
    disease: str | None = None
    commercial: bool = False
    ethics_approval: str | None = None
    ethics_date: date | None = None
    principal_investigator: str = ""
    cohort: str | None = None
    specimen_types: list[ItemIn] = []
    material: bool = True
    data: bool = False
    declarations: list[str] = []
    recipient_country: str | None = None
    max_freeze_thaw: int | None = Field(default=None, ge=0)
    sprec_prefix: str | None = None


class CommitteeIn(BaseModel):
    reviewers: list[str] = Field(min_length=1)
    note: str = ""


class VoteIn(BaseModel):
    vote: str
    comment: str = ""


class TextIn(BaseModel):
    text: str = ""


class AllocationIn(BaseModel):
    allow_last_aliquot: bool = False


class ScanIn(BaseModel):
    barcode: str


class SplitIn(BaseModel):
    barcode: str
    quantity: float | None = Field(default=None, gt=0, description="the aliquot's volume (default: the request's "
                                                                  "minimum volume for the tube's type)")


class HgrIn(BaseModel):
    number: str


class ShipmentIn(BaseModel):
    courier: str
    tracking_number: str
    temperature: str
    un3373: bool = False


class ReceiptIn(BaseModel):
    discrepancies: str = ""


class ReturnIn(BaseModel):
    barcodes: list[str] = Field(min_length=1)
    outcome: str
    note: str = ""


def _language(request: Request) -> str | None:
    from lifebank.web.problems import request_language

    return request_language(request)


@router.post("/requests", status_code=201)
def create_request(body: RequestIn, db: DbDep, principal: Requester) -> dict[str, int]:
    draft = service.RequestDraft(
        title=body.title, organisation=body.organisation, purposes=body.purposes, disease=body.disease,
        commercial=body.commercial, ethics_approval=body.ethics_approval, ethics_date=body.ethics_date,
        principal_investigator=body.principal_investigator, cohort=body.cohort,
        items=[service.Item(i.specimen_type, i.per_participant, i.total, i.min_volume) for i in body.specimen_types],
        wants_material=body.material, wants_data=body.data, declarations=body.declarations,
        recipient_country=body.recipient_country, max_freeze_thaw=body.max_freeze_thaw,
        sprec_prefix=body.sprec_prefix)
    return {"id": service.create_request(db, draft, principal=principal)}


@router.get("/requests")
def list_requests(db: DbDep, principal: Requester, state: str | None = None) -> list[dict[str, Any]]:
    return service.list_requests(db, principal, state=state)


@router.get("/requests/{request_id}")
def get_request(request_id: int, db: DbDep, principal: Requester) -> dict[str, Any]:
    return service.request_view(db, request_id, principal)


@router.get("/requests/{request_id}/check", response_model=dict[str, Any])
def check(request_id: int, request: Request, db: DbDep, principal: Requester) -> Response:
    """The answer lists every candidate (a million codes for a bank-wide request): it is plain strings and
    lists, so it is serialised with json.dumps directly - FastAPI's generic encoder took ten times as long."""
    result = service.check_request(db, request_id, principal).as_dict(_language(request))
    return JSONResponse({"eligible": result["eligible"], "excluded": result["excluded"],
                         "conditions": result["conditions"]})


@router.get("/requests/{request_id}/feasibility")
def feasibility(request_id: int, request: Request, db: DbDep, principal: Requester) -> dict[str, Any]:
    data = service.feasibility(db, request_id, principal)
    shown = data.pop("shown_as")
    data["shown_as"] = shown.render(_language(request)) if shown is not None else None
    return data


@router.post("/requests/{request_id}/documents", status_code=201)
async def add_document(request_id: int, db: DbDep, principal: Requester, kind: Annotated[str, Form()],
                       file: Annotated[UploadFile, File()]) -> dict[str, int]:
    content = await file.read()
    return {"id": service.add_document(db, request_id, kind=kind, filename=file.filename or "document",
                                       content=content, content_type=file.content_type or "",
                                       principal=principal)}


@router.get("/requests/{request_id}/documents/{document_id}")
def get_document(request_id: int, document_id: int, db: DbDep, principal: Requester) -> Response:
    name, content_type, content = service.document_content(db, request_id, document_id, principal)
    return Response(content, media_type=content_type,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.post("/requests/{request_id}/committee")
def appoint(request_id: int, body: CommitteeIn, db: DbDep, principal: Manager) -> dict[str, Any]:
    service.appoint_committee(db, request_id, body.reviewers, principal=principal, note=body.note)
    return service.request_view(db, request_id, principal)


@router.post("/requests/{request_id}/votes")
def vote(request_id: int, body: VoteIn, db: DbDep, principal: Reviewer) -> dict[str, str]:
    return {"state": service.cast_vote(db, request_id, body.vote, comment=body.comment, principal=principal)}


@router.post("/requests/{request_id}/comments", status_code=201)
def comment(request_id: int, body: TextIn, db: DbDep, principal: Requester) -> dict[str, bool]:
    service.add_comment(db, request_id, body.text, principal=principal)
    return {"ok": True}


@router.post("/requests/{request_id}/resubmit")
def resubmit(request_id: int, body: TextIn, db: DbDep, principal: Requester) -> dict[str, Any]:
    service.resubmit_request(db, request_id, principal=principal, note=body.text)
    return service.request_view(db, request_id, principal)


@router.post("/requests/{request_id}/withdraw")
def withdraw(request_id: int, body: TextIn, db: DbDep, principal: Requester) -> dict[str, Any]:
    service.withdraw_request(db, request_id, principal=principal, note=body.text)
    return service.request_view(db, request_id, principal)


@router.post("/requests/{request_id}/agreement")
def sign(request_id: int, db: DbDep, principal: Manager) -> dict[str, Any]:
    service.sign_agreement(db, request_id, principal=principal)
    return service.request_view(db, request_id, principal)


@router.post("/requests/{request_id}/allocation")
def allocate(request_id: int, body: AllocationIn, db: DbDep, principal: Manager) -> dict[str, Any]:
    return service.allocate(db, request_id, principal=principal, allow_last_aliquot=body.allow_last_aliquot)


@router.get("/requests/{request_id}/pick-list")
def pick_list(request_id: int, db: DbDep, principal: Fulfiller,
              format: Annotated[str, Query(pattern="^(json|csv|pdf|job)$")] = "json") -> Any:
    rows = service.pick_list(db, request_id, principal)
    if format == "json":
        return {"request": request_id, "tubes": rows, "progress": service.progress(db, request_id, principal)}
    kind = "json" if format == "job" else format
    media = {"csv": "text/csv", "json": "application/json", "pdf": "application/pdf"}[kind]
    name = f"pick-list-AR-{request_id:06d}.{kind}"
    return Response(exports.pick_list_bytes(request_id, rows, kind), media_type=media,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.post("/requests/{request_id}/scan")
def scan(request_id: int, body: ScanIn, db: DbDep, principal: Fulfiller) -> dict[str, Any]:
    return service.scan(db, request_id, body.barcode, principal=principal)


@router.post("/requests/{request_id}/split", summary="Split an allocated tube at the scan step: a child aliquot of "
             "the requested volume ships in its place, the parent stays (manager)")
def split(request_id: int, body: SplitIn, db: DbDep, principal: Manager) -> dict[str, Any]:
    return splitting.split_and_pick(db, request_id, body.barcode, quantity=body.quantity, principal=principal)


@router.post("/requests/{request_id}/hgr")
def hgr(request_id: int, body: HgrIn, db: DbDep, principal: Manager) -> dict[str, Any]:
    service.record_hgr_approval(db, request_id, body.number, principal=principal)
    return service.request_view(db, request_id, principal)


@router.post("/requests/{request_id}/shipments", status_code=201)
def ship(request_id: int, body: ShipmentIn, db: DbDep, principal: Manager) -> dict[str, Any]:
    return service.ship(db, request_id, courier=body.courier, tracking_number=body.tracking_number,
                        temperature=body.temperature, un3373=body.un3373, principal=principal)


@router.get("/requests/{request_id}/shipments")
def shipments(request_id: int, db: DbDep, principal: Requester) -> list[dict[str, Any]]:
    return service.shipments(db, request_id, principal)


@router.get("/requests/{request_id}/manifest")
def manifest(request_id: int, db: DbDep, principal: Requester,
             format: Annotated[str, Query(pattern="^(json|csv|pdf)$")] = "json") -> Any:
    rows = service.manifest_rows(db, request_id, principal)
    if format == "json":
        return {"request": request_id, "tubes": rows}
    view = service.request_view(db, request_id, principal)
    sent = service.shipments(db, request_id, principal)
    last = sent[-1] if sent else {}
    header = {"organisation": view["organisation"], "country": view["recipient_country"],
              "courier": last.get("courier"), "tracking": last.get("tracking_number"),
              "temperature": last.get("temperature"), "un3373": last.get("un3373"),
              "hgr_approval": view["hgr_approval"]}
    media = {"csv": "text/csv", "pdf": "application/pdf"}[format]
    return Response(exports.manifest_bytes(request_id, header, rows, format), media_type=media,
                    headers={"Content-Disposition": f'attachment; filename="manifest-AR-{request_id:06d}.{format}"'})


@router.post("/requests/{request_id}/receipt")
def receive(request_id: int, body: ReceiptIn, db: DbDep, principal: Requester) -> dict[str, Any]:
    service.receive(db, request_id, discrepancies=body.discrepancies, principal=principal)
    return service.request_view(db, request_id, principal)


@router.post("/requests/{request_id}/returns")
def returns(request_id: int, body: ReturnIn, db: DbDep, principal: Manager) -> dict[str, int]:
    return {"recorded": service.record_return(db, request_id, body.barcodes, outcome=body.outcome, note=body.note,
                                              principal=principal)}


@router.post("/requests/{request_id}/close")
def close(request_id: int, body: TextIn, db: DbDep, principal: Manager) -> dict[str, Any]:
    service.close_request(db, request_id, principal=principal, note=body.text)
    return service.request_view(db, request_id, principal)


@router.get("/hgr-report")
def hgr_report(db: DbDep, _principal: Manager, year: int,
               format: Annotated[str, Query(pattern="^(csv|xlsx|pdf)$")] = "csv") -> Response:
    media = {"csv": "text/csv", "pdf": "application/pdf",
             "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}[format]
    return Response(service.render_report(db, year, format), media_type=media,
                    headers={"Content-Disposition": f'attachment; filename="hgr-report-{year}.{format}"'})


@router.get("/notifications")
def list_notifications(request: Request, db: DbDep, principal: PrincipalDep) -> list[dict[str, Any]]:
    language = _language(request)
    return [{**n, "message": n["message"].render(language), "created_at": n["created_at"].isoformat()}
            for n in notifications.notices(db, principal.username)]


@router.post("/notifications/read")
def read_notifications(db: DbDep, principal: PrincipalDep) -> dict[str, int]:
    return {"marked": notifications.mark_read(db, principal.username)}
