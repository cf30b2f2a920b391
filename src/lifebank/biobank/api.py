"""HTTP API of the biobank (mounted under /api/v1/biobank): parse the request, call the service, shape the answer."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from lifebank.auth.deps import require_within
from lifebank.auth.service import Principal
from lifebank.biobank import imports, label_printing, labels, service, specimen_bulk
from lifebank.errors import NotFound, PermissionDenied
from lifebank.web.deps import DbDep, require
from lifebank.web.exports import export_response, parse_format
from lifebank.web.pagination import Page, PageParams, page_params

router = APIRouter(prefix="/biobank", tags=["biobank"])
# first, so that /participants/export is not taken for a participant code by /participants/{code} below
from lifebank.biobank import api_manage  # noqa: E402

router.include_router(api_manage.router)

# Reads filtered by the reader's scope (a site or collection grant admits them; see lifebank.auth.deps).
Reader = Annotated[Principal, Depends(require_within("specimen.read"))]
Counter = Annotated[Principal, Depends(require_within("specimen.count"))]
ParticipantReader = Annotated[Principal, Depends(require_within("participant.read"))]
StorageReader = Annotated[Principal, Depends(require("storage.read"))]
Paging = Annotated[PageParams, Depends(page_params)]


class ParticipantIn(BaseModel):
    code: str = Field(max_length=32)
    sex: str = Field(pattern="^[FMOU]$")
    birth_year: int | None = None
    site: str = Field(max_length=64)


class ConsentIn(BaseModel):
    duo_codes: list[str] = Field(min_length=1)
    consent_date: date
    scope: str = ""


class WithdrawalIn(BaseModel):
    reason: str = ""


class ContainerTypeIn(BaseModel):
    name: str
    kind: str
    rows: int | None = None
    columns: int | None = None
    scheme: str | None = None


class ContainerIn(BaseModel):
    name: str
    type: str
    parent: str | None = None
    temperature_class: str | None = None


class ContainerMoveIn(BaseModel):
    path: str
    new_parent: str


class SpecimenIn(BaseModel):
    barcode: str | None = None
    participant: str | None = None
    type: str
    quantity: float | None = None
    unit: str | None = None
    collected_at: datetime | None = None
    parents: list[str] = []
    sprec: str | None = None
    location: str | None = None


class SplitIn(BaseModel):
    count: int = Field(ge=1, le=1000)
    quantity: float = Field(ge=0)
    type: str | None = None


class MoveIn(BaseModel):
    location: str


class StatusIn(BaseModel):
    status: str
    note: str = ""


class QcIn(BaseModel):
    kind: str
    value: float
    unit: str | None = None
    method: str = ""


class ReservationIn(BaseModel):
    barcodes: list[str] = Field(min_length=1)
    purpose: str = Field(min_length=1, max_length=200)


class PlacementIn(BaseModel):
    barcodes: list[str] = Field(min_length=1)
    temperature_class: str | None = None
    within: str | None = None
    strategy: str = "first"


class LabelsIn(BaseModel):
    barcodes: list[str] = Field(min_length=1, max_length=3000)
    symbology: str | None = None  # default: the template's
    template: str | None = None  # default: the manager's default template
    stock: str | None = None


class EditIn(BaseModel):
    """Only the fields sent are changed (send null to clear one)."""

    quantity: float | None = None
    sprec: str | None = None
    collected_at: datetime | None = None
    notes: str | None = None


class ReasonIn(BaseModel):
    reason: str = ""


class NoteIn(BaseModel):
    note: str = ""


class BulkIn(BaseModel):
    action: str
    barcodes: list[str] = Field(min_length=1, max_length=specimen_bulk.MAX_SELECTION)
    box: str | None = None
    status: str | None = None
    note: str = ""
    format: str = "pdf"
    template: str | None = None


class LabelTemplateIn(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    stock: str
    symbology: str = "datamatrix"
    fields: list[str] = []
    is_default: bool = False


# --- participants -------------------------------------------------------------------------------------

@router.get("/participants")
def list_participants(db: DbDep, principal: ParticipantReader, paging: Paging,
                      site: str | None = None) -> Page[dict[str, Any]]:
    flt = service.ParticipantFilter(site=site, scope=principal.scope_of("participant.read"))
    total, items = service.list_participants(db, flt, limit=paging.limit, offset=paging.offset)
    return Page(total=total, limit=paging.limit, offset=paging.offset, items=items)


def participant_in_scope(db: Any, principal: Principal, code: str) -> None:
    """A participant outside the reader's scope is answered as one that does not exist (no leak)."""
    scope = principal.scope_of("participant.read")
    if scope is None:
        return
    _total, rows = service.list_participants(db, service.ParticipantFilter(code=code, scope=scope), limit=1)
    if not rows or rows[0]["code"] != code:
        raise NotFound("participant {code!r} does not exist", code=code)


def specimen_in_scope(db: Any, principal: Principal, barcode: str) -> None:
    """A specimen outside the reader's scope is answered as one that does not exist (no leak)."""
    scope = principal.scope_of("specimen.read")
    if scope is None:
        return
    _total, rows = service.search_specimens(db, service.SpecimenFilter(barcode_prefix=barcode, scope=scope),
                                            limit=1, with_total=False, sort="barcode")
    if not rows or rows[0]["barcode"] != barcode:
        raise NotFound("specimen {barcode} does not exist", barcode=barcode)


@router.post("/participants", status_code=201)
def create_participant(body: ParticipantIn, db: DbDep,
                       principal: Annotated[Principal, Depends(require("participant.write"))]) -> dict[str, Any]:
    service.register_participant(db, body.code, sex=body.sex, birth_year=body.birth_year, site=body.site,
                                 actor=principal.username)
    return service.participant_view(db, body.code)


@router.get("/participants/{code}")
def get_participant(code: str, db: DbDep, principal: ParticipantReader) -> dict[str, Any]:
    participant_in_scope(db, principal, code)
    return service.participant_view(db, code)


@router.post("/participants/{code}/consents", status_code=201)
def add_consent(code: str, body: ConsentIn, db: DbDep,
                principal: Annotated[Principal, Depends(require("consent.write"))]) -> dict[str, Any]:
    service.record_consent(db, code, duo_codes=body.duo_codes, consent_date=body.consent_date, scope=body.scope,
                           actor=principal.username)
    return service.participant_view(db, code)


@router.post("/participants/{code}/withdrawal")
def withdraw(code: str, body: WithdrawalIn, db: DbDep,
             principal: Annotated[Principal, Depends(require("consent.write"))]) -> dict[str, Any]:
    blocked = service.withdraw_consent(db, code, reason=body.reason, actor=principal.username)
    return {"participant": code, "specimens_blocked": blocked}


# --- storage ------------------------------------------------------------------------------------------

@router.post("/container-types", status_code=201)
def create_container_type(body: ContainerTypeIn, db: DbDep,
                          principal: Annotated[Principal, Depends(require("storage.write"))]) -> dict[str, Any]:
    ctype = service.define_container_type(db, body.name, kind=body.kind, rows=body.rows, columns=body.columns,
                                          scheme=body.scheme, actor=principal.username)
    return {"name": ctype.name, "kind": ctype.kind, "rows": ctype.rows, "columns": ctype.columns,
            "scheme": ctype.scheme}


@router.get("/containers")
def list_containers(db: DbDep, _p: StorageReader, parent: str | None = None) -> list[dict[str, Any]]:
    return service.list_containers(db, parent)


@router.post("/containers", status_code=201)
def create_container(body: ContainerIn, db: DbDep,
                     principal: Annotated[Principal, Depends(require("storage.write"))]) -> dict[str, Any]:
    container = service.create_container(db, body.name, type_name=body.type, parent_path=body.parent,
                                         temperature_class=body.temperature_class, actor=principal.username)
    return {"path": container.name_path, "kind": container.kind, "temperature_class": container.temperature_class,
            "capacity": container.capacity}


@router.post("/containers/move")
def move_container(body: ContainerMoveIn, db: DbDep,
                   principal: Annotated[Principal, Depends(require("storage.write"))]) -> dict[str, str]:
    return {"path": service.move_container(db, body.path, body.new_parent, actor=principal.username)}


@router.get("/occupancy")
def occupancy(db: DbDep, _p: StorageReader, path: Annotated[str, Query(min_length=1)]) -> dict[str, Any]:
    return service.occupancy(db, path)


@router.get("/box-map")
def box_map(db: DbDep, _p: StorageReader, path: Annotated[str, Query(min_length=1)]) -> dict[str, Any]:
    return service.box_map(db, path)


@router.post("/placements")
def place(body: PlacementIn, db: DbDep,
          principal: Annotated[Principal, Depends(require("storage.write"))]) -> dict[str, str]:
    return service.place_specimens(db, body.barcodes, temperature_class=body.temperature_class, within=body.within,
                                   strategy=body.strategy, actor=principal.username)


# --- specimens ----------------------------------------------------------------------------------------

@router.get("/specimens", summary="Search specimens (with `specimen.count` only: the total, never a row)")
def search_specimens(
    db: DbDep, principal: Counter, paging: Paging, type: str | None = None, status: str | None = None,
    participant: str | None = None, consent: str | None = None, container: str | None = None,
    sort: Annotated[str | None, Query(description="barcode, type, status, participant, collected, location; "
                                                  "'-' in front for descending")] = None,
) -> Page[dict[str, Any]]:
    rows = principal.can_within("specimen.read")
    if not rows and (participant or container):
        # A count per participant or per storage place would tell what the rows would: who is in, where.
        raise PermissionDenied("permission {permission!r} is required", permission="specimen.read")
    scope = principal.scope_of("specimen.read" if rows else "specimen.count")
    flt = service.SpecimenFilter(type=type, status=status, participant=participant, consent=consent,
                                 container=container, scope=scope)
    total, items = service.search_specimens(db, flt, limit=paging.limit if rows else 0,
                                            offset=paging.offset, sort=sort)
    return Page(total=total, limit=paging.limit, offset=paging.offset, items=items)


EXPORT_COLUMNS = ["barcode", "participant", "type", "quantity", "unit", "status", "distributable", "lineage",
                  "parent", "collected_at", "sprec", "freeze_thaw", "location", "notes"]


# Declared before /specimens/{barcode}, which would otherwise take "export" for a barcode.
@router.get("/specimens/export")
def export_specimens(
    db: DbDep, principal: Reader, format: str = "csv", type: str | None = None, status: str | None = None,
    participant: str | None = None, consent: str | None = None, container: str | None = None,
    sort: str | None = None,
) -> Response:
    """The whole filtered list (the list's filters), streamed as CSV or xlsx."""
    fmt = parse_format(format)
    flt = service.SpecimenFilter(type=type, status=status, participant=participant, consent=consent,
                                 container=container, scope=principal.scope_of("specimen.read"))
    rows = service.iter_specimens(db, flt, sort=sort)
    first = next(rows, None)  # a wrong filter fails here, as an error, before any byte is sent

    def all_rows() -> Any:
        if first is not None:
            yield first
            yield from rows

    return export_response(fmt, "specimens", EXPORT_COLUMNS, all_rows(), sheet="specimens")


@router.post("/specimens", status_code=201)
def create_specimen(body: SpecimenIn, db: DbDep,
                    principal: Annotated[Principal, Depends(require("specimen.write"))]) -> dict[str, Any]:
    specimen = service.register_specimen(
        db, body.barcode, participant=body.participant, type=body.type, quantity=body.quantity, unit=body.unit,
        collected_at=body.collected_at, parents=body.parents, sprec=body.sprec, location=body.location,
        actor=principal.username)
    return service.get_specimen(db, specimen.barcode)


@router.get("/specimens/{barcode}")
def get_specimen(barcode: str, db: DbDep, principal: Reader) -> dict[str, Any]:
    specimen_in_scope(db, principal, barcode)
    return service.get_specimen(db, barcode)


@router.patch("/specimens/{barcode}")
def edit_specimen(barcode: str, body: EditIn, db: DbDep,
                  principal: Annotated[Principal, Depends(require("specimen.write"))]) -> dict[str, Any]:
    changes = service.edit_specimen(db, barcode, actor=principal.username, **body.model_dump(exclude_unset=True))
    return {"barcode": barcode, "changes": changes, "specimen": service.get_specimen(db, barcode)}


@router.post("/specimens/{barcode}/checkout")
def check_out(barcode: str, body: NoteIn, db: DbDep,
              principal: Annotated[Principal, Depends(require("specimen.write"))]) -> dict[str, Any]:
    service.check_out(db, barcode, note=body.note, actor=principal.username)
    return service.get_specimen(db, barcode)


@router.post("/specimens/{barcode}/checkin")
def check_in(barcode: str, body: NoteIn, db: DbDep,
             principal: Annotated[Principal, Depends(require("specimen.write"))]) -> dict[str, Any]:
    service.check_in(db, barcode, note=body.note, actor=principal.username)
    return service.get_specimen(db, barcode)


@router.post("/specimens/{barcode}/discard")
def discard(barcode: str, body: ReasonIn, db: DbDep,
            principal: Annotated[Principal, Depends(require("specimen.write"))]) -> dict[str, Any]:
    service.discard_specimen(db, barcode, reason=body.reason, actor=principal.username)
    return service.get_specimen(db, barcode)


@router.get("/specimens/{barcode}/history")
def specimen_history(barcode: str, db: DbDep, principal: Reader) -> dict[str, Any]:
    specimen_in_scope(db, principal, barcode)
    return service.specimen_history(db, barcode)


@router.post("/specimens/{barcode}/split", status_code=201)
def split(barcode: str, body: SplitIn, db: DbDep,
          principal: Annotated[Principal, Depends(require("specimen.write"))]) -> dict[str, list[str]]:
    return {"children": service.split_specimen(db, barcode, count=body.count, quantity=body.quantity,
                                               type=body.type, actor=principal.username)}


@router.post("/specimens/{barcode}/move")
def move(barcode: str, body: MoveIn, db: DbDep,
         principal: Annotated[Principal, Depends(require("storage.write"))]) -> dict[str, str]:
    return {"barcode": barcode, "location": service.move_specimen(db, barcode, body.location,
                                                                  actor=principal.username)}


@router.post("/specimens/{barcode}/status")
def change_status(barcode: str, body: StatusIn, db: DbDep,
                  principal: Annotated[Principal, Depends(require("specimen.write"))]) -> dict[str, str]:
    needed = "specimen.distribute" if body.status == "distributed" else "specimen.write"
    if not principal.can(needed):
        raise PermissionDenied("permission {permission} is required", permission=needed)
    return {"barcode": barcode, "status": service.change_status(db, barcode, body.status, note=body.note,
                                                                actor=principal.username)}


@router.post("/specimens/{barcode}/qc", status_code=201)
def add_qc(barcode: str, body: QcIn, db: DbDep,
           principal: Annotated[Principal, Depends(require("specimen.write"))]) -> dict[str, Any]:
    service.add_qc(db, barcode, kind=body.kind, value=body.value, unit=body.unit, method=body.method,
                   actor=principal.username)
    return {"barcode": barcode, "qc": service.specimen_history(db, barcode)["qc"]}


@router.post("/reservations", status_code=201)
def reserve(body: ReservationIn, db: DbDep,
            principal: Annotated[Principal, Depends(require("specimen.reserve"))]) -> dict[str, Any]:
    return {"reserved": service.reserve_specimens(db, body.barcodes, purpose=body.purpose,
                                                  actor=principal.username), "purpose": body.purpose}


@router.delete("/specimens/{barcode}/reservation", status_code=204)
def release(barcode: str, db: DbDep,
            principal: Annotated[Principal, Depends(require("specimen.reserve"))]) -> Response:
    service.release_reservation(db, barcode, actor=principal.username)
    return Response(status_code=204)


# --- labels -------------------------------------------------------------------------------------------

@router.get("/specimens/{barcode}/label.png")
def label_png(barcode: str, db: DbDep, _p: Annotated[Principal, Depends(require("label.print"))],
              symbology: Annotated[str, Query(pattern="^(code128|datamatrix)$")] = "code128") -> Response:
    """A label's picture for the screen: not a print, so not ledgered (print with labels.pdf / labels.zpl)."""
    service.get_specimen(db, barcode)
    return Response(labels.render_png(barcode, symbology), media_type="image/png")


def _print(fmt: str, body: LabelsIn, db: Any, principal: Principal) -> Response:
    job = label_printing.print_labels(db, body.barcodes, fmt=fmt, template=body.template, stock=body.stock,
                                      symbology=body.symbology, actor=principal.username)
    return Response(job.content, media_type=job.media_type,
                    headers={"Content-Disposition": f'attachment; filename="{job.filename}"'})


@router.post("/labels.pdf")
def labels_pdf(body: LabelsIn, db: DbDep,
               principal: Annotated[Principal, Depends(require("label.print"))]) -> Response:
    """Labels as a PDF (a page per label on roll stock, a grid on an A4 sheet); each tube's print is ledgered."""
    return _print("pdf", body, db, principal)


@router.post("/labels.zpl")
def labels_zpl(body: LabelsIn, db: DbDep,
               principal: Annotated[Principal, Depends(require("label.print"))]) -> Response:
    """Labels as ZPL II for a Zebra printer (application/zpl); each tube's print is ledgered."""
    return _print("zpl", body, db, principal)


@router.get("/label-templates")
def label_templates(db: DbDep, _p: Annotated[Principal, Depends(require("label.print"))]) -> list[dict[str, Any]]:
    return label_printing.list_templates(db)


@router.put("/label-templates")
def save_label_template(body: LabelTemplateIn, db: DbDep,
                        principal: Annotated[Principal, Depends(require(label_printing.TEMPLATE_PERMISSION))],
                        ) -> dict[str, Any]:
    return label_printing.save_template(db, body.name, stock=body.stock, symbology=body.symbology,
                                        fields=body.fields, is_default=body.is_default, actor=principal.username)


# --- bulk actions -------------------------------------------------------------------------------------

def _bulk_permission(principal: Principal, body: BulkIn) -> None:
    needed = {"move": "storage.write", "labels": "label.print"}.get(
        body.action, "specimen.distribute" if body.status == "distributed" else "specimen.write")
    if not principal.can(needed):
        raise PermissionDenied("permission {permission} is required", permission=needed)


def _plan_view(plan: specimen_bulk.BulkPlan, request: Request) -> dict[str, Any]:
    language = getattr(request.state, "locale", None)
    return {"action": plan.action, "runnable": plan.runnable,
            "problem": plan.problem.render(language) if plan.problem else None,
            "tubes": [{"barcode": t.barcode, "outcome": t.outcome.render(language) if t.outcome else None,
                       "refused": t.refused.render(language) if t.refused else None} for t in plan.tubes]}


@router.post("/specimens/bulk/preview")
def bulk_preview(body: BulkIn, request: Request, db: DbDep,
                 principal: Annotated[Principal, Depends(require("specimen.read"))]) -> dict[str, Any]:
    """What a bulk action would do to each tube, and what it would refuse and why. Writes nothing."""
    _bulk_permission(principal, body)
    return _plan_view(specimen_bulk.preview(db, body.action, body.barcodes, body.model_dump()), request)


@router.post("/specimens/bulk")
def bulk_run(body: BulkIn, request: Request, db: DbDep,
             principal: Annotated[Principal, Depends(require("specimen.read"))]) -> Any:
    """Run a bulk action in one transaction (all or nothing); labels answer with the PDF or ZPL file."""
    _bulk_permission(principal, body)
    result = specimen_bulk.run(db, body.action, body.barcodes, body.model_dump(), actor=principal.username)
    if isinstance(result, label_printing.PrintJob):
        return Response(result.content, media_type=result.media_type,
                        headers={"Content-Disposition": f'attachment; filename="{result.filename}"'})
    return _plan_view(result, request)


# --- imports ------------------------------------------------------------------------------------------

async def _import(kind: str, request: Request, db: Any, actor: str) -> Any:
    content = await request.body()
    run = imports.import_participants if kind == "participants" else imports.import_specimens
    from starlette.concurrency import run_in_threadpool

    result = await run_in_threadpool(run, db, content, actor=actor)
    return JSONResponse(result.as_dict(), status_code=201)


@router.post("/imports/participants", status_code=201,
             openapi_extra={"requestBody": {"content": {"text/csv": {"schema": {"type": "string"}}}}})
async def import_participants(request: Request, db: DbDep,
                              principal: Annotated[Principal, Depends(require("import.run"))]) -> Any:
    """Body: the CSV file (text/csv). Errors: problem+json with `errors: [{line, column, reason}]`."""
    return await _import("participants", request, db, principal.username)


@router.post("/imports/specimens", status_code=201,
             openapi_extra={"requestBody": {"content": {"text/csv": {"schema": {"type": "string"}}}}})
async def import_specimens(request: Request, db: DbDep,
                           principal: Annotated[Principal, Depends(require("import.run"))]) -> Any:
    """Body: the CSV file (text/csv). Errors: problem+json with `errors: [{line, column, reason}]`."""
    return await _import("specimens", request, db, principal.username)
