"""Pages of precision oncology: the report list (with a form to interpret a tumour), one report, sign-off."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from lifebank.auth.service import Principal
from lifebank.errors import LifeBankError
from lifebank.messages import N_
from lifebank.precision import service
from lifebank.precision.run import Options
from lifebank.web.csrf import check_csrf
from lifebank.web.deps import DbDep
from lifebank.web.templating import NavItem, message_text, render
from lifebank.web.ui import page_requires

router = APIRouter(prefix="/precision", include_in_schema=False)
NAV: list[NavItem] = [NavItem(N_("Tumour reports"), "/precision/reports", "precision.read", 45)]


def _list(request: Request, db: DbDep, *, error: str | None = None, status_code: int = 200) -> Response:
    return render(request, "precision/list.html", status_code=status_code, reports=service.list_reports(db),
                  error=error, knowledge=service.kb_status(db, request.app.state.settings.data_dir))


@router.get("/reports", response_class=HTMLResponse)
def reports_page(request: Request, db: DbDep, _p: Annotated[Principal, Depends(page_requires("precision.read"))]
                 ) -> Response:
    return _list(request, db)


@router.post("/reports", response_class=HTMLResponse)
async def create_from_form(request: Request, db: DbDep,
                           principal: Annotated[Principal, Depends(page_requires("precision.write"))],
                           tumour_type: Annotated[str, Form()] = "", vcf: Annotated[UploadFile | None, File()] = None,
                           maf: Annotated[UploadFile | None, File()] = None,
                           specimen: Annotated[str, Form()] = "", sample: Annotated[str, Form()] = "",
                           cna: Annotated[UploadFile | None, File()] = None,
                           fusions: Annotated[UploadFile | None, File()] = None,
                           participant: Annotated[str, Form()] = "", genome: Annotated[str, Form()] = "GRCh38",
                           csrf_token: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, csrf_token)
    files = {}
    for name, upload in (("vcf", vcf), ("maf", maf), ("cna", cna), ("fusions", fusions)):
        if upload is not None and upload.filename:
            files[name] = await upload.read()
    try:
        done = await run_in_threadpool(service.create_report, db, request.app.state.settings.data_dir, files,
                                       Options(tumour_type=tumour_type.strip(), genome=genome or None,
                                               sample=sample.strip() or None),
                                       actor=principal.username, participant=participant.strip() or None,
                                       specimen=specimen.strip() or None)
    except LifeBankError as exc:
        return _list(request, db, error=message_text(request, exc), status_code=422)
    return RedirectResponse(f"/precision/reports/{done['report']}", status_code=303)


def _report(request: Request, db: DbDep, report_no: str, version: int | None = None, *, error: str | None = None,
            status_code: int = 200) -> Response:
    report = service.get_report(db, report_no, version)
    return render(request, "precision/report.html", status_code=status_code, report=report,
                  content=report["content"], meanings=service.SIGNATURE_MEANINGS, error=error)


@router.get("/reports/{report_no}", response_class=HTMLResponse)
def report_page(request: Request, report_no: str, db: DbDep,
                _p: Annotated[Principal, Depends(page_requires("precision.read"))],
                version: str = "") -> Response:
    """One report version; a version that is not a number shows the latest (the link came from somewhere odd)."""
    return _report(request, db, report_no, int(version) if version.strip().isdigit() else None)


@router.post("/reports/{report_no}/sign", response_class=HTMLResponse)
def sign_from_form(request: Request, report_no: str, db: DbDep,
                   principal: Annotated[Principal, Depends(page_requires("precision.sign"))],
                   password: Annotated[str, Form()] = "", meaning: Annotated[str, Form()] = "approval",
                   version: Annotated[str, Form()] = "", csrf_token: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, csrf_token)
    try:
        service.sign_report(db, request.app.state.settings, report_no, username=principal.username,
                            password=password, meaning=meaning,
                            version=int(version) if version.strip().isdigit() else None)
    except LifeBankError as exc:
        return _report(request, db, report_no, error=message_text(request, exc), status_code=422)
    return RedirectResponse(f"/precision/reports/{report_no}", status_code=303)


@router.post("/reports/{report_no}/rerun", response_class=HTMLResponse)
async def rerun_from_form(request: Request, report_no: str, db: DbDep,
                          principal: Annotated[Principal, Depends(page_requires("precision.write"))],
                          csrf_token: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, csrf_token)
    await run_in_threadpool(service.rerun_report, db, request.app.state.settings.data_dir, report_no,
                            actor=principal.username)
    return RedirectResponse(f"/precision/reports/{report_no}", status_code=303)
