"""Bulk actions from the specimen list: the selected tubes are moved into a box, change status, or get their
labels printed - first a preview (each tube: what will happen, or why it is refused), then the run, in one
transaction (`specimen_bulk`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from lifebank.auth.service import Principal
from lifebank.biobank import label_printing, specimen_bulk
from lifebank.biobank.specimen_types import SpecimenStatus
from lifebank.errors import LifeBankError, PermissionDenied
from lifebank.web.csrf import check_csrf
from lifebank.web.deps import DbDep
from lifebank.web.templating import render
from lifebank.web.ui import page_requires

router = APIRouter()
Reader = Annotated[Principal, Depends(page_requires("specimen.read"))]
PARAMS = ("box", "status", "note", "format", "template")


async def _read(request: Request) -> tuple[str, list[str], dict[str, str], str]:
    form = await request.form()
    check_csrf(request, str(form.get("csrf_token", "")))
    barcodes = [str(b) for b in form.getlist("barcodes")]
    params = {k: str(form.get(k, "")) for k in PARAMS}
    return str(form.get("action", "")), barcodes, params, str(form.get("back", ""))


def _permission(principal: Principal, action: str, params: dict[str, str]) -> None:
    needed = {"move": "storage.write", "labels": "label.print"}.get(
        action, "specimen.distribute" if params.get("status") == "distributed" else "specimen.write")
    if not principal.can(needed):
        raise PermissionDenied("permission {permission} is required", permission=needed)


def _page(request: Request, db: Any, action: str, barcodes: list[str], params: dict[str, str], back: str, *,
          plan: specimen_bulk.BulkPlan | None = None, error: LifeBankError | None = None,
          done: bool = False) -> Response:
    return render(request, "biobank/bulk.html", status_code=422 if error else 200, action=action,
                  barcodes=barcodes, params=params, back=back if back.startswith("/biobank/") else
                  "/biobank/specimens", plan=plan, error=error, done=done,
                  statuses=[s.value for s in SpecimenStatus], templates=label_printing.list_templates(db))


@router.post("/specimens/bulk/preview", response_class=HTMLResponse)
async def bulk_preview(request: Request, db: DbDep, principal: Reader) -> Response:
    action, barcodes, params, back = await _read(request)
    try:
        _permission(principal, action, params)
        plan = await run_in_threadpool(specimen_bulk.preview, db, action, barcodes, params)
    except LifeBankError as exc:
        return _page(request, db, action, barcodes, params, back, error=exc)
    return _page(request, db, action, barcodes, params, back, plan=plan)


@router.post("/specimens/bulk/run", response_class=HTMLResponse)
async def bulk_run(request: Request, db: DbDep, principal: Reader) -> Response:
    action, barcodes, params, back = await _read(request)
    try:
        _permission(principal, action, params)
        result = await run_in_threadpool(specimen_bulk.run, db, action, barcodes, params, actor=principal.username)
    except LifeBankError as exc:
        plan = None
        try:
            plan = await run_in_threadpool(specimen_bulk.preview, db, action, barcodes, params)
        except LifeBankError:
            pass
        return _page(request, db, action, barcodes, params, back, plan=plan, error=exc)
    if isinstance(result, label_printing.PrintJob):
        return Response(result.content, media_type=result.media_type,
                        headers={"Content-Disposition": f'attachment; filename="{result.filename}"'})
    return _page(request, db, action, barcodes, params, back, plan=result, done=True)
