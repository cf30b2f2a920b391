"""The bulk-import page: upload participants or specimens, see every bad row, in the reader's language.

A post without a file, with an empty file or with something that is not a CSV text file is answered on the
page itself (never problem+json): the route catches it before the importer runs.
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from lifebank.auth.service import Principal
from lifebank.biobank import imports
from lifebank.messages import Msg
from lifebank.web.csrf import check_csrf
from lifebank.web.deps import DbDep
from lifebank.web.templating import render
from lifebank.web.ui import page_requires

router = APIRouter()
SHOWN = 1000  # bad rows listed on the page; the count is always the full one
TEXT_SUFFIXES = {"", ".csv", ".txt", ".tsv"}
# Magic numbers of files people pick by mistake: zip (xlsx, docx), PDF, old Excel, gzip, PNG, JPEG.
BINARY_MAGIC = (b"PK\x03\x04", b"%PDF", b"\xd0\xcf\x11\xe0", b"\x1f\x8b", b"\x89PNG", b"\xff\xd8\xff")


def _page(request: Request, *, kind: str, status_code: int = 200, **context: object) -> Response:
    return render(request, "biobank/import.html", status_code=status_code, kind=kind,
                  **({"result": None, "errors": None, "filename": None, "problem": None, "summary": None} | context))


@router.get("/import", response_class=HTMLResponse)
def import_page(request: Request, _p: Annotated[Principal, Depends(page_requires("import.run"))]) -> Response:
    return _page(request, kind="specimens")


def file_problem(filename: str | None, content: bytes) -> Msg | None:
    """Why an upload cannot be a CSV file (None when it can): no file, empty, or a spreadsheet/binary."""
    if not filename and not content:
        return Msg("choose a CSV file to import")
    if not content.strip():
        return Msg("{file} is empty", file=filename or "-")
    if PurePath(filename or "").suffix.lower() not in TEXT_SUFFIXES or content.startswith(BINARY_MAGIC) \
            or b"\x00" in content[:4096]:
        return Msg("{file} is not a CSV file: save it as CSV (UTF-8) and import that", file=filename or "-")
    return None


@router.post("/import", response_class=HTMLResponse)
async def import_upload(
    request: Request, db: DbDep, principal: Annotated[Principal, Depends(page_requires("import.run"))],
    file: Annotated[UploadFile | None, File()] = None, kind: Annotated[str, Form()] = "specimens",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf_token)
    kind = "participants" if kind == "participants" else "specimens"
    content = await file.read() if file is not None else b""
    filename = file.filename if file is not None else None
    if problem := file_problem(filename, content):
        return _page(request, kind=kind, status_code=422, problem=problem, filename=filename)
    run = imports.import_participants if kind == "participants" else imports.import_specimens
    try:
        result = await run_in_threadpool(run, db, content, actor=principal.username)
    except imports.ImportRejected as exc:
        count = len(exc.errors)
        summary = Msg("{file} was rejected: {count} error. Nothing was written.",
                      plural="{file} was rejected: {count} errors. Nothing was written.", count=count,
                      file=filename or "-")
        return _page(request, kind=kind, status_code=422, errors=exc.errors[:SHOWN], error_count=count,
                     filename=filename, summary=summary, shown=SHOWN)
    done = Msg("Imported {count} row from {file}.", plural="Imported {count} rows from {file}.", count=result.rows,
               file=filename or "-")
    return _page(request, kind=kind, result=result, filename=filename, done=done)
