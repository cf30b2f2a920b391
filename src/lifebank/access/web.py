"""Pages of access requests: the list, the request form, a request's page (committee, agreement, HGR,
shipment and receipt forms, each shown only to those who may use it) and the fulfilment page (pick list and
scan box).

Every action is a form posted to `/access/requests/{id}/actions/{action}`; a mistake shows the request's
page again with the message under that form, in the reader's language, and a success redirects back with a
note. The scan box takes a USB barcode scanner's keystrokes (it types the barcode and presses Enter, which
submits the form) and a tablet's on-screen keyboard alike, and keeps the focus for the next tube.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from lifebank.access import criteria, exports, notifications, service, splitting
from lifebank.access.requests import DECLARATIONS, DOCUMENT_KINDS
from lifebank.access.shipment import TEMPERATURES
from lifebank.access.workflow import Vote
from lifebank.auth.service import Principal
from lifebank.errors import LifeBankError, NotFound, PermissionDenied, ValidationFailed
from lifebank.web.csrf import check_csrf
from lifebank.web.deps import DbDep
from lifebank.web.templating import NavItem, render
from lifebank.web.ui import page_principal, page_requires

router = APIRouter(prefix="/access", include_in_schema=False)
NAV: list[NavItem] = [NavItem("Access requests", "/access/requests", "access.request", 30)]
PURPOSES = [("DUO:0000042", "GRU"), ("DUO:0000006", "HMB"), ("DUO:0000007", "DS"), ("DUO:0000011", "POA"),
            ("DUO:0000004", "NRES")]


def _requester(request: Request) -> Principal:
    principal = page_principal(request)
    if not any(principal.can(p) for p in ("access.request", "access.read", "access.review")):
        raise PermissionDenied("You do not have permission to open this page.")
    return principal


Requester = Annotated[Principal, Depends(_requester)]
Fulfiller = Annotated[Principal, Depends(page_requires("access.fulfil"))]


@router.get("/requests", response_class=HTMLResponse)
def requests_page(request: Request, db: DbDep, principal: Requester, state: str = "") -> Response:
    rows = service.list_requests(db, principal, state=state or None)
    notices = notifications.notices(db, principal.username, limit=10)
    return render(request, "access/requests.html", rows=rows, state=state, notices=notices)


@router.post("/notifications/read")
async def read_notices(request: Request, db: DbDep, principal: Requester) -> Response:
    form = await request.form()
    check_csrf(request, str(form.get("csrf_token", "")))
    notifications.mark_read(db, principal.username)
    return RedirectResponse("/access/requests", status_code=303)


def _organisations(db: Any, principal: Principal) -> list[str]:
    import lifebank.auth as auth

    orgs = auth.list_organisations(db)
    own = getattr(principal, "organisation_id", None)
    if principal.can("access.read") or own is None:
        return [o.name for o in orgs]
    return [o.name for o in orgs if o.id == own]


def _new_page(request: Request, db: Any, principal: Principal, values: dict[str, Any],
              error: LifeBankError | None = None) -> Response:
    from lifebank.biobank.specimen_types import SPECIMEN_TYPES
    from lifebank.omics.cohorts import list_cohorts

    return render(request, "access/request_new.html", status_code=422 if error else 200, values=values,
                  error=error, organisations=_organisations(db, principal), purposes=PURPOSES,
                  types=sorted(SPECIMEN_TYPES), cohorts=[c["name"] for c in list_cohorts(db)],
                  declarations=DECLARATIONS)


@router.get("/requests/new", response_class=HTMLResponse)
def new_request_page(request: Request, db: DbDep, principal: Requester) -> Response:
    return _new_page(request, db, principal, {"material": "on", "per_participant": "1"})


def _number(text: str, kind: type = float) -> Any:
    text = (text or "").strip()
    if not text:
        return None
    try:
        return kind(text)
    except ValueError:
        raise ValidationFailed("{value!r} is not a number", value=text) from None


@router.post("/requests/new", response_class=HTMLResponse)
async def create_request(request: Request, db: DbDep, principal: Requester) -> Response:
    form = await request.form()
    check_csrf(request, str(form.get("csrf_token", "")))
    values: dict[str, Any] = {k: v for k, v in form.items() if isinstance(v, str)}
    values["purposes"] = form.getlist("purposes")
    values["types"] = form.getlist("types")
    values["declarations"] = form.getlist("declarations")
    upload = form.get("ethics_document")
    try:
        ethics_date = date.fromisoformat(values["ethics_date"]) if values.get("ethics_date") else None
        per = _number(values.get("per_participant", ""), int) or 1
        volume = _number(values.get("min_volume", ""))
        draft = service.RequestDraft(
            title=values.get("title", ""), organisation=values.get("organisation", ""),
            purposes=[str(p) for p in values["purposes"]], disease=values.get("disease", "").strip() or None,
            commercial=bool(values.get("commercial")), ethics_approval=values.get("ethics_approval", "") or None,
            ethics_date=ethics_date, principal_investigator=values.get("principal_investigator", ""),
            cohort=values.get("cohort", "").strip() or None,
            items=[service.Item(str(t), per, None, volume) for t in values["types"]],
            wants_material=bool(values.get("material")), wants_data=bool(values.get("data")),
            declarations=[str(d) for d in values["declarations"]],
            recipient_country=values.get("recipient_country", "").strip() or None,
            max_freeze_thaw=criteria.max_freeze_thaw(values.get("max_freeze_thaw", "")),
            sprec_prefix=criteria.sprec_prefix(values.get("sprec_prefix", "")))
        request_id = await run_in_threadpool(service.create_request, db, draft, principal=principal)
    except ValueError:
        return _new_page(request, db, principal, values, ValidationFailed("the ethics approval date is not a date"))
    except LifeBankError as exc:
        return _new_page(request, db, principal, values, exc)
    if isinstance(upload, UploadFile) and upload.filename:
        content = await upload.read()
        if content:
            await run_in_threadpool(service.add_document, db, request_id, kind="ethics", filename=upload.filename,
                                    content=content, content_type=upload.content_type or "", principal=principal)
    return RedirectResponse(f"/access/requests/{request_id}?done=created", status_code=303)


def request_page(request: Request, db: Any, principal: Principal, request_id: int,
                 errors: dict[str, LifeBankError] | None = None, values: dict[str, str] | None = None) -> Response:
    view = service.request_view(db, request_id, principal)
    feasibility = service.feasibility(db, request_id, principal)
    shipments = service.shipments(db, request_id, principal)
    progress = service.progress(db, request_id, principal)
    return render(request, "access/request.html", status_code=422 if errors else 200, r=view,
                  feasibility=feasibility, shipments=shipments, progress=progress, errors=errors or {},
                  values=values or {}, votes=[v.value for v in Vote], kinds=DOCUMENT_KINDS,
                  temperatures=TEMPERATURES, done=request.query_params.get("done", ""),
                  is_reviewer=principal.username in view["committee"],
                  is_requester=view["created_by"] == principal.username or (
                      getattr(principal, "organisation_id", None) == view["organisation_id"]))


@router.get("/requests/{request_id}", response_class=HTMLResponse)
def request_detail(request: Request, request_id: int, db: DbDep, principal: Requester) -> Response:
    return request_page(request, db, principal, request_id)


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.replace(",", "\n").splitlines() if line.strip()]


Action = Callable[[Any, int, dict[str, str], Principal], Any]
# action -> (permission, what it does)
ACTIONS: dict[str, tuple[str | None, Action]] = {
    "committee": ("access.manage", lambda db, i, f, p: service.appoint_committee(
        db, i, _lines(f.get("reviewers", "")), principal=p)),
    "vote": ("access.review", lambda db, i, f, p: service.cast_vote(
        db, i, f.get("vote", ""), comment=f.get("comment", ""), principal=p)),
    "comment": (None, lambda db, i, f, p: service.add_comment(db, i, f.get("comment", ""), principal=p)),
    "resubmit": (None, lambda db, i, f, p: service.resubmit_request(
        db, i, principal=p, ethics_approval=f.get("ethics_approval") or None, note=f.get("note", ""))),
    "withdraw": (None, lambda db, i, f, p: service.withdraw_request(db, i, principal=p, note=f.get("note", ""))),
    "sign": ("access.manage", lambda db, i, f, p: service.sign_agreement(db, i, principal=p)),
    "allocate": ("access.manage", lambda db, i, f, p: service.allocate(
        db, i, principal=p, allow_last_aliquot=bool(f.get("allow_last_aliquot")))),
    "hgr": ("access.manage", lambda db, i, f, p: service.record_hgr_approval(db, i, f.get("number", ""),
                                                                            principal=p)),
    "ship": ("access.manage", lambda db, i, f, p: service.ship(
        db, i, courier=f.get("courier", ""), tracking_number=f.get("tracking_number", ""),
        temperature=f.get("temperature", ""), un3373=bool(f.get("un3373")), principal=p)),
    "receive": (None, lambda db, i, f, p: service.receive(db, i, discrepancies=f.get("discrepancies", ""),
                                                          principal=p)),
    "return": ("access.manage", lambda db, i, f, p: service.record_return(
        db, i, _lines(f.get("barcodes", "")), outcome=f.get("outcome", ""), note=f.get("note", ""), principal=p)),
    "close": ("access.manage", lambda db, i, f, p: service.close_request(db, i, principal=p)),
}


@router.post("/requests/{request_id}/actions/{action}", response_class=HTMLResponse)
async def request_action(request: Request, request_id: int, action: str, db: DbDep, principal: Requester) -> Response:
    form = await request.form()
    check_csrf(request, str(form.get("csrf_token", "")))
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    try:
        if action == "document":
            upload = form.get("file")
            if not isinstance(upload, UploadFile) or not upload.filename:
                raise ValidationFailed("choose a file to upload")
            content = await upload.read()
            await run_in_threadpool(service.add_document, db, request_id, kind=values.get("kind", ""),
                                    filename=upload.filename, content=content,
                                    content_type=upload.content_type or "", principal=principal)
        else:
            if action not in ACTIONS:
                raise NotFound("no such action: {action}", action=action)
            permission, run = ACTIONS[action]
            if permission is not None and not principal.can(permission):
                raise PermissionDenied("permission {permission} is required", permission=permission)
            await run_in_threadpool(run, db, request_id, values, principal)
    except LifeBankError as exc:
        return await run_in_threadpool(request_page, request, db, principal, request_id, {action: exc}, values)
    return RedirectResponse(f"/access/requests/{request_id}?{urlencode({'done': action})}#{action}", status_code=303)


@router.get("/requests/{request_id}/documents/{document_id}")
def document(request_id: int, document_id: int, db: DbDep, principal: Requester) -> Response:
    name, content_type, content = service.document_content(db, request_id, document_id, principal)
    return Response(content, media_type=content_type, headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _fulfil_page(request: Request, db: Any, principal: Principal, request_id: int, *, scanned: dict | None = None,
                 error: LifeBankError | None = None, split: dict | None = None,
                 split_error: LifeBankError | None = None) -> Response:
    view = service.request_view(db, request_id, principal)
    rows = service.pick_list(db, request_id, principal)
    status = 409 if error else split_error.status if split_error else 200
    return render(request, "access/fulfil.html", status_code=status, r=view, rows=rows,
                  progress=service.progress(db, request_id, principal), scanned=scanned, error=error,
                  split=split, split_error=split_error, can_split=principal.can("access.manage"),
                  can_print=principal.can("label.print"))


@router.get("/requests/{request_id}/fulfil", response_class=HTMLResponse)
def fulfil_page(request: Request, request_id: int, db: DbDep, principal: Fulfiller) -> Response:
    return _fulfil_page(request, db, principal, request_id)


@router.post("/requests/{request_id}/fulfil", response_class=HTMLResponse)
async def scan_tube(request: Request, request_id: int, db: DbDep, principal: Fulfiller) -> Response:
    form = await request.form()
    check_csrf(request, str(form.get("csrf_token", "")))
    try:
        scanned = await run_in_threadpool(service.scan, db, request_id, str(form.get("barcode", "")),
                                          principal=principal)
    except LifeBankError as exc:
        return await run_in_threadpool(_fulfil_page, request, db, principal, request_id, error=exc)
    return await run_in_threadpool(_fulfil_page, request, db, principal, request_id, scanned=scanned)


@router.post("/requests/{request_id}/split", response_class=HTMLResponse)
async def split_tube(request: Request, request_id: int, db: DbDep, principal: Fulfiller) -> Response:
    """The manager's split at the scan step (aliquot-on-the-fly); a mistake shows under the form."""
    form = await request.form()
    check_csrf(request, str(form.get("csrf_token", "")))
    try:
        quantity = _number(str(form.get("quantity", "")))
        split = await run_in_threadpool(splitting.split_and_pick, db, request_id, str(form.get("barcode", "")),
                                        quantity=quantity, principal=principal)
    except LifeBankError as exc:
        return await run_in_threadpool(_fulfil_page, request, db, principal, request_id, split_error=exc)
    return await run_in_threadpool(_fulfil_page, request, db, principal, request_id, split=split)


@router.get("/requests/{request_id}/pick-list.{fmt}")
def pick_list_file(request_id: int, fmt: str, db: DbDep, principal: Fulfiller) -> Response:
    rows = service.pick_list(db, request_id, principal)
    media = {"csv": "text/csv", "json": "application/json", "pdf": "application/pdf"}.get(fmt)
    if media is None:
        raise NotFound("no such format: {format}", format=fmt)
    return Response(exports.pick_list_bytes(request_id, rows, fmt), media_type=media,
                    headers={"Content-Disposition": f'attachment; filename="pick-list-AR-{request_id:06d}.{fmt}"'})


@router.get("/requests/{request_id}/manifest.{fmt}")
def manifest_file(request_id: int, fmt: str, db: DbDep, principal: Requester) -> Response:
    if fmt not in ("csv", "pdf"):
        raise NotFound("no such format: {format}", format=fmt)
    view = service.request_view(db, request_id, principal)
    sent = service.shipments(db, request_id, principal)
    last = sent[-1] if sent else {}
    header = {"organisation": view["organisation"], "country": view["recipient_country"],
              "courier": last.get("courier"), "tracking": last.get("tracking_number"),
              "temperature": last.get("temperature"), "un3373": last.get("un3373"),
              "hgr_approval": view["hgr_approval"]}
    rows = service.manifest_rows(db, request_id, principal)
    return Response(exports.manifest_bytes(request_id, header, rows, fmt),
                    media_type="text/csv" if fmt == "csv" else "application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="manifest-AR-{request_id:06d}.{fmt}"'})
