"""The clinical pages: a participant's timeline (a fragment the biobank participant page loads, and a page of
its own) and the import page for FHIR files and OMOP tables, with every bad resource or row listed."""

from __future__ import annotations

import tempfile
from datetime import datetime
from pathlib import Path, PurePath
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool

from lifebank.auth.service import Principal
from lifebank.clinical import queries
from lifebank.clinical.timeline import LANE_KINDS, Event, timeline_svg
from lifebank.errors import NotFound, RowsRejected
from lifebank.i18n import translations
from lifebank.messages import N_, Msg
from lifebank.web.csrf import check_csrf
from lifebank.web.deps import DbDep
from lifebank.web.templating import render
from lifebank.web.ui import page_requires

router = APIRouter(include_in_schema=False)
LANES = {"condition": N_("Conditions"), "measurement": N_("Labs"), "procedure": N_("Procedures"),
         "medication": N_("Medications"), "specimen": N_("Specimens")}
RECENT = 15
SHOWN = 1000
OMOP_NAMES = {"person", "condition_occurrence", "measurement", "observation", "drug_exposure",
              "procedure_occurrence", "visit_occurrence", "death"}


def _timeline(request: Request, db: DbDep, principal: Principal, code: str) -> dict[str, object]:
    from lifebank.biobank import service as bank

    records = queries.clinical_timeline(db, code)
    events = [Event("measurement" if r["kind"] == "observation" else r["kind"], r["start"], r["end"],
                    r["display"] or r["code"]) for r in records if r["start"] and r["kind"] in
              {"condition", "measurement", "observation", "procedure", "medication"}]
    if principal.can("specimen.read"):
        _total, specimens = bank.search_specimens(db, bank.SpecimenFilter(participant=code), limit=500,
                                                  with_total=False)
        events += [Event("specimen", datetime.fromisoformat(s["collected_at"]), None, f"{s['barcode']} {s['type']}")
                   for s in specimens if s["collected_at"]]
    translate = translations(request.state.locale).gettext
    svg = timeline_svg(events, {k: translate(LANES[k]) for k in LANE_KINDS}, translate("Clinical timeline"))
    recent = sorted((r for r in records if r["start"] and r["kind"] != "encounter"), key=lambda r: r["start"],
                    reverse=True)[:RECENT]
    return {"code": code, "svg": Markup(svg), "recent": recent, "count": len(records)}


@router.get("/clinical/participants/{code}/timeline", response_class=HTMLResponse)
def timeline_fragment(request: Request, code: str, db: DbDep,
                      principal: Annotated[Principal, Depends(page_requires("participant.read"))]) -> Response:
    return render(request, "clinical/_timeline.html", **_timeline(request, db, principal, code))


@router.get("/clinical/participants/{code}", response_class=HTMLResponse)
def timeline_page(request: Request, code: str, db: DbDep,
                  principal: Annotated[Principal, Depends(page_requires("participant.read"))]) -> Response:
    from lifebank import biobank

    if not biobank.existing_participants(db, {code}):
        raise NotFound("participant {code!r} does not exist", code=code)
    return render(request, "clinical/timeline.html", **_timeline(request, db, principal, code))


def _import_page(request: Request, status_code: int = 200, **context: object) -> Response:
    return render(request, "clinical/import.html", status_code=status_code,
                  **({"result": None, "errors": None, "problem": None, "summary": None} | context))


@router.get("/clinical/import", response_class=HTMLResponse)
def import_page(request: Request, _p: Annotated[Principal, Depends(page_requires("import.run"))]) -> Response:
    return _import_page(request)


def _run_import(db: DbDep, files: list[tuple[str, bytes]], create: bool, actor: str) -> dict[str, object]:
    """FHIR files one by one; a set of OMOP CSVs (named like PERSON.csv) as one folder."""
    from lifebank.clinical import fhir_import, omop_import

    if all(PurePath(name).stem.lower() in OMOP_NAMES for name, _c in files):
        with tempfile.TemporaryDirectory(prefix="lifebank-omop-") as folder:
            for name, content in files:
                (Path(folder) / PurePath(name).name).write_bytes(content)
            result = omop_import.import_omop_folder(db, Path(folder), actor=actor, create_participants=create)
        return {"counts": result["tables"], "created": result["participants_created"]}
    counts: dict[str, int] = {}
    created = 0
    for name, content in files:
        text = content.decode("utf-8", errors="replace")
        result = fhir_import.import_fhir_text(db, name, text, actor=actor, create_participants=create)
        for key, value in result["resources"].items():
            counts[key] = counts.get(key, 0) + value
        created += result["participants_created"]
    return {"counts": dict(sorted(counts.items())), "created": created}


@router.post("/clinical/import", response_class=HTMLResponse)
async def import_upload(request: Request, db: DbDep,
                        principal: Annotated[Principal, Depends(page_requires("import.run"))],
                        files: Annotated[list[UploadFile] | None, File()] = None,
                        create_participants: Annotated[str, Form()] = "",
                        csrf_token: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, csrf_token)
    uploads = [(f.filename or "-", await f.read()) for f in files or [] if f.filename]
    if not uploads or not any(content.strip() for _n, content in uploads):
        return _import_page(request, 422, problem=Msg("choose a FHIR file (JSON or NDJSON) or the OMOP CSV files"))
    create = create_participants == "yes"
    if create and not principal.can("participant.write"):
        return _import_page(request, 403, problem=Msg("creating participants needs the participant.write permission"))
    try:
        result = await run_in_threadpool(_run_import, db, uploads, create, principal.username)
    except RowsRejected as exc:
        return _import_page(request, 422, errors=exc.errors[:SHOWN], error_count=len(exc.errors), shown=SHOWN,
                            summary=exc.message)
    return _import_page(request, result=result)
