"""HTTP API of precision oncology (mounted under /api/v1/precision): reports, sign-off, FHIR, knowledge base."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, Field

from lifebank.auth.service import Principal
from lifebank.errors import Conflict
from lifebank.precision import service
from lifebank.precision.run import Options
from lifebank.web.deps import DbDep, require

router = APIRouter(prefix="/precision", tags=["precision"])
Reader = Annotated[Principal, Depends(require("precision.read"))]
Writer = Annotated[Principal, Depends(require("precision.write"))]
Signer = Annotated[Principal, Depends(require("precision.sign"))]


class SignIn(BaseModel):
    password: str = Field(min_length=1, description="the signer's password, entered again")
    meaning: str = Field("approval", description="approval, review or responsibility")
    version: int | None = Field(None, description="the version being signed (must be the latest)")


class KbLoadIn(BaseModel):
    folder: str = Field(min_length=1, description="a release folder on the server")


async def _files(**uploads: UploadFile | None) -> dict[str, bytes]:
    return {name: await upload.read() for name, upload in uploads.items() if upload is not None}


@router.post("/reports", status_code=201)
async def create(request: Request, db: DbDep, principal: Writer, tumour_type: Annotated[str, Form()] = "",
                 vcf: Annotated[UploadFile | None, File()] = None, maf: Annotated[UploadFile | None, File()] = None,
                 cna: Annotated[UploadFile | None, File()] = None, fusions: Annotated[UploadFile | None, File()] = None,
                 participant: Annotated[str | None, Form()] = None, specimen: Annotated[str | None, Form()] = None,
                 genome: Annotated[str | None, Form()] = None, sample: Annotated[str | None, Form()] = None,
                 purity: Annotated[float | None, Form()] = None, ploidy: Annotated[float | None, Form()] = None,
                 target_size_mb: Annotated[float, Form()] = 34.0, keep: Annotated[bool, Form()] = True) -> Any:
    """Interpret a tumour (multipart: vcf or maf, cna, fusions). `keep=false` answers the report without
    keeping it; otherwise it is kept as a draft (version 1). Without `tumour_type`, the participant's
    clinical record must name it."""
    files = await _files(vcf=vcf, maf=maf, cna=cna, fusions=fusions)
    options = Options(tumour_type=tumour_type, genome=genome or None, sample=sample or None, purity=purity,
                      ploidy=ploidy, target_size_mb=target_size_mb)
    data_dir = request.app.state.settings.data_dir
    if not keep:
        return await run_in_threadpool(service.build_report, db, data_dir, files, options)
    return await run_in_threadpool(service.create_report, db, data_dir, files, options, actor=principal.username,
                                   participant=participant or None, specimen=specimen or None)


@router.get("/reports")
def list_reports(db: DbDep, _: Reader, participant: str | None = None,
                 limit: Annotated[int, Query(ge=1, le=500)] = 50,
                 offset: Annotated[int, Query(ge=0)] = 0) -> list[dict[str, Any]]:
    return service.list_reports(db, participant=participant, limit=limit, offset=offset)


@router.get("/reports/{report_no}")
def get_report(db: DbDep, _: Reader, report_no: str, version: int | None = None) -> dict[str, Any]:
    return service.get_report(db, report_no, version)


@router.get("/reports/{report_no}/pdf")
def report_pdf(request: Request, db: DbDep, _: Reader, report_no: str, version: int | None = None,
               lang: str = "en") -> Response:
    from lifebank.i18n import translations
    from lifebank.precision.pdf import report_pdf as build_pdf

    found = service.get_report(db, report_no, version)
    chinese = lang.startswith("zh")
    gettext = translations("zh_Hans").gettext if chinese else (lambda s: s)
    return Response(build_pdf(found, gettext, chinese=chinese), media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{report_no}-v{found["version"]}.pdf"'})


@router.post("/reports/{report_no}/sign")
def sign(request: Request, db: DbDep, principal: Signer, report_no: str, body: SignIn) -> dict[str, Any]:
    """Sign the latest draft as the authenticated user, who re-enters their password."""
    return service.sign_report(db, request.app.state.settings, report_no, username=principal.username,
                               password=body.password, meaning=body.meaning, version=body.version)


@router.post("/reports/{report_no}/rerun", status_code=201)
async def rerun(request: Request, db: DbDep, principal: Writer, report_no: str) -> Any:
    return await run_in_threadpool(service.rerun_report, db, request.app.state.settings.data_dir, report_no,
                                   actor=principal.username)


@router.get("/reports/{report_no}/fhir")
def fhir(db: DbDep, _: Reader, report_no: str, version: int | None = None) -> dict[str, Any]:
    """A final report as a FHIR R4 Bundle (Genomics Reporting IG), validated with fhir.resources R4B."""
    from lifebank.precision.fhir import report_bundle, validate

    found = service.get_report(db, report_no, version)
    if found["status"] != "final":
        raise Conflict("{report} version {version} is not signed; only a final report is exported",
                       report=report_no, version=found["version"])
    bundle = report_bundle(found)
    validate(bundle)
    return bundle


@router.get("/kb")
def kb_status(request: Request, db: DbDep, _: Reader) -> list[dict[str, Any]]:
    return service.kb_status(db, request.app.state.settings.data_dir)


@router.post("/kb/load")
def kb_load(request: Request, db: DbDep, principal: Annotated[Principal, Depends(require("user.admin"))],
            body: KbLoadIn) -> list[dict[str, Any]]:
    from pathlib import Path

    return service.kb_load(db, request.app.state.settings.data_dir, Path(body.folder), actor=principal.username)
