"""The bulk-import page: upload participants or specimens, see every bad row."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from lifebank.auth.service import Principal
from lifebank.biobank import imports
from lifebank.web.csrf import check_csrf
from lifebank.web.deps import DbDep
from lifebank.web.templating import render
from lifebank.web.ui import page_requires

router = APIRouter()


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
