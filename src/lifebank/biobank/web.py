"""Pages of the biobank: specimen list and page, storage (occupancy and box maps), import, labels."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from lifebank.auth.service import Principal
from lifebank.biobank import imports, labels, service
from lifebank.biobank.specimen_types import SPECIMEN_TYPES, SpecimenStatus
from lifebank.errors import LifeBankError
from lifebank.web.csrf import check_csrf
from lifebank.web.deps import DbDep
from lifebank.web.templating import NavItem, render
from lifebank.web.ui import page_requires

router = APIRouter(prefix="/biobank", include_in_schema=False)

NAV: list[NavItem] = [
    NavItem("Specimens", "/biobank/specimens", "specimen.read", 10),
    NavItem("Storage", "/biobank/storage", "storage.read", 11),
    NavItem("Import", "/biobank/import", "import.run", 12),
    NavItem("Labels", "/biobank/labels", "label.print", 13),
]

PAGE_SIZE = 50


@router.get("/specimens", response_class=HTMLResponse)
def specimen_list(
    request: Request, db: DbDep, _p: Annotated[Principal, Depends(page_requires("specimen.read"))],
    type: str = "", status: str = "", participant: str = "", consent: str = "", container: str = "", page: int = 1,
) -> Response:
    page = max(page, 1)
    flt = service.SpecimenFilter(type=type or None, status=status or None, participant=participant or None,
                                 consent=consent or None, container=container or None)
    error = None
    try:
        total, items = service.search_specimens(db, flt, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    except LifeBankError as exc:
        total, items, error = 0, [], exc.detail
    filters = {"type": type, "status": status, "participant": participant, "consent": consent,
               "container": container}
    return render(request, "biobank/specimens.html", items=items, total=total, page=page, limit=PAGE_SIZE,
                  filters=filters, types=sorted(SPECIMEN_TYPES), statuses=[s.value for s in SpecimenStatus],
                  error=error)


@router.get("/specimens/{barcode}", response_class=HTMLResponse)
def specimen_page(request: Request, barcode: str, db: DbDep,
                  principal: Annotated[Principal, Depends(page_requires("specimen.read"))]) -> Response:
    history = service.specimen_history(db, barcode)
    return render(request, "biobank/specimen.html", h=history, s=history["specimen"],
                  can_print=principal.can("label.print"))


@router.get("/storage", response_class=HTMLResponse)
def storage(request: Request, db: DbDep, _p: Annotated[Principal, Depends(page_requires("storage.read"))],
            path: str = "") -> Response:
    if not path:
        roots = service.list_containers(db)
        tops = []
        for root in roots:
            tops.extend(service.list_containers(db, root["path"]) if root["kind"] == "site" else [root])
        units = [service.occupancy(db, c["path"]) for c in tops]
        return render(request, "biobank/storage.html", units=units)
    if service.container_info(db, path)["kind"] == "box":
        grid = service.box_map(db, path)
        return render(request, "biobank/box_map.html", grid=grid, crumbs=_crumbs(path))
    return render(request, "biobank/occupancy.html", occ=service.occupancy(db, path), crumbs=_crumbs(path))


def _crumbs(path: str) -> list[tuple[str, str]]:
    parts = path.split("/")
    return [(part, "/".join(parts[:i + 1])) for i, part in enumerate(parts)]


@router.get("/import", response_class=HTMLResponse)
def import_page(request: Request, _p: Annotated[Principal, Depends(page_requires("import.run"))]) -> Response:
    return render(request, "biobank/import.html", result=None, errors=None, kind="specimens", filename=None)


@router.post("/import", response_class=HTMLResponse)
async def import_upload(
    request: Request, db: DbDep, principal: Annotated[Principal, Depends(page_requires("import.run"))],
    file: Annotated[UploadFile, File()], kind: Annotated[str, Form()] = "specimens",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf_token)
    content = await file.read()
    run = imports.import_participants if kind == "participants" else imports.import_specimens
    from starlette.concurrency import run_in_threadpool

    try:
        result = await run_in_threadpool(run, db, content, actor=principal.username)
    except imports.ImportRejected as exc:
        return render(request, "biobank/import.html", status_code=422, result=None, errors=exc.errors, kind=kind,
                      filename=file.filename)
    return render(request, "biobank/import.html", result=result, errors=None, kind=kind, filename=file.filename)


@router.get("/labels", response_class=HTMLResponse)
def labels_page(request: Request, _p: Annotated[Principal, Depends(page_requires("label.print"))],
                barcodes: str = "") -> Response:
    return render(request, "biobank/labels.html", barcodes=barcodes, error=None)


@router.post("/labels")
def labels_print(
    request: Request, db: DbDep, principal: Annotated[Principal, Depends(page_requires("label.print"))],
    barcodes: Annotated[str, Form()], symbology: Annotated[str, Form()] = "code128",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf_token)
    wanted = [b.strip() for b in barcodes.replace(",", "\n").splitlines() if b.strip()]
    try:
        if not wanted or symbology not in labels.SYMBOLOGIES:
            raise LifeBankError("enter at least one barcode")
        for barcode in wanted:
            service.get_specimen(db, barcode)
        pdf = labels.render_pdf(wanted, symbology)
        service.record_label_print(db, wanted, actor=principal.username, fmt=f"{symbology}/pdf")
    except LifeBankError as exc:
        return render(request, "biobank/labels.html", status_code=422, barcodes=barcodes, error=exc.detail)
    return Response(pdf, media_type="application/pdf",
                    headers={"Content-Disposition": 'inline; filename="labels.pdf"'})
