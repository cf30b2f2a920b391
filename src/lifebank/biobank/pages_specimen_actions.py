"""The actions on one specimen, as forms: check out and in, aliquot or derive, consume, discard, reserve and
release, QC, edit - each posted from the specimen's page - and the move page (scan a tube, scan or pick a free
position of a box).

A mistake shows the specimen's page again with the message under that form, in the reader's language, and
what was typed kept; a success redirects back to the page with a note (after aliquoting: the children's labels).
Each action needs the permission the matching API route needs; the page shows only forms the reader may use.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from lifebank.auth.service import Principal
from lifebank.biobank import service
from lifebank.biobank.pages_specimens import local_datetime, number_or_none, specimen_view
from lifebank.errors import LifeBankError, NotFound, PermissionDenied, ValidationFailed
from lifebank.web.csrf import check_csrf
from lifebank.web.deps import DbDep
from lifebank.web.templating import render
from lifebank.web.ui import page_principal, page_requires

router = APIRouter()
Form_ = dict[str, str]


def _required_number(form: Form_, field: str) -> float:
    value = number_or_none(form.get(field, ""))
    if value is None:
        raise ValidationFailed("enter a number")
    return value


def _count(form: Form_) -> int:
    text = form.get("count", "").strip()
    if not text.isdigit():
        raise ValidationFailed("the number of children must be 1 to 1000")
    return int(text)


def _aliquot(db: Any, barcode: str, form: Form_, actor: str, request: Request) -> str:
    children = service.split_specimen(db, barcode, count=_count(form), quantity=_required_number(form, "quantity"),
                                      type=form.get("type") or None, actor=actor)
    return urlencode({"done": "aliquot", "children": ",".join(children)})


def _edit(db: Any, barcode: str, form: Form_, actor: str, request: Request) -> str:
    changes = service.edit_specimen(db, barcode, quantity=number_or_none(form.get("quantity", "")),
                                    sprec=form.get("sprec", ""),
                                    collected_at=local_datetime(request, form.get("collected_at", "")),
                                    notes=form.get("notes", ""), actor=actor)
    return urlencode({"done": "edit" if changes else "unchanged"})


def _simple(call: Callable[..., Any], done: str) -> Callable[..., str]:
    def run(db: Any, barcode: str, form: Form_, actor: str, request: Request) -> str:
        call(db, barcode, form, actor)
        return urlencode({"done": done})

    return run


# action -> (permission, what it does)
ACTIONS: dict[str, tuple[str, Callable[..., str]]] = {
    "checkout": ("specimen.write", _simple(lambda db, b, f, a: service.check_out(db, b, note=f.get("note", ""),
                                                                                 actor=a), "checkout")),
    "checkin": ("specimen.write", _simple(lambda db, b, f, a: service.check_in(db, b, note=f.get("note", ""),
                                                                               actor=a), "checkin")),
    "aliquot": ("specimen.write", _aliquot),
    "consume": ("specimen.write", _simple(lambda db, b, f, a: service.change_status(
        db, b, "consumed", note=f.get("note", ""), actor=a), "consume")),
    "discard": ("specimen.write", _simple(lambda db, b, f, a: service.discard_specimen(
        db, b, reason=f.get("reason", ""), actor=a), "discard")),
    "reserve": ("specimen.reserve", _simple(lambda db, b, f, a: service.reserve_specimens(
        db, [b], purpose=f.get("purpose", ""), actor=a), "reserve")),
    "release": ("specimen.reserve", _simple(lambda db, b, f, a: service.release_reservation(db, b, actor=a),
                                            "release")),
    "qc": ("specimen.write", _simple(lambda db, b, f, a: service.add_qc(
        db, b, kind=f.get("kind", ""), value=_required_number(f, "value"), unit=f.get("unit", "").strip() or None,
        method=f.get("method", "").strip(), actor=a), "qc")),
    "edit": ("specimen.write", _edit),
}


@router.post("/specimens/{barcode}/actions/{action}", response_class=HTMLResponse)
async def specimen_action(request: Request, barcode: str, action: str, db: DbDep) -> Response:
    principal = page_principal(request)
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    check_csrf(request, form.get("csrf_token", ""))
    if action not in ACTIONS:
        raise NotFound("no such action: {action}", action=action)
    permission, run = ACTIONS[action]
    if not principal.can(permission):
        raise PermissionDenied("permission {permission} is required", permission=permission)
    try:
        query = await run_in_threadpool(run, db, barcode, form, principal.username, request)
    except LifeBankError as exc:
        return await run_in_threadpool(specimen_view, request, db, principal, barcode, errors={action: exc},
                                       values=form)
    return RedirectResponse(f"/biobank/specimens/{quote(barcode)}?{query}", status_code=303)


# --- the move page ------------------------------------------------------------------------------------

Mover = Annotated[Principal, Depends(page_requires("storage.write"))]


def _move_page(request: Request, db: Any, values: dict[str, str], error: LifeBankError | None = None) -> Response:
    free: list[str] = []
    box_error = None
    temperature = ""
    box = values.get("box", "").strip()
    if box:
        try:
            with db.session() as session:
                container, layout, positions = service.free_positions(session, box)
                free = [layout.label(i) for i in positions]
                temperature = container.temperature_class or ""
        except LifeBankError as exc:
            box_error = exc
    barcode = values.get("barcode", "").strip()
    if barcode and not temperature:
        try:
            from lifebank.biobank.specimen_types import SPECIMEN_TYPES

            temperature = SPECIMEN_TYPES[service.get_specimen(db, barcode)["type"]].default_temperature
        except (LifeBankError, KeyError):
            pass
    return render(request, "biobank/move.html", status_code=422 if error or box_error else 200, values=values,
                  free=free, error=error, box_error=box_error, temperature=temperature)


@router.get("/move", response_class=HTMLResponse)
def move_page(request: Request, db: DbDep, _p: Mover, barcode: str = "", box: str = "") -> Response:
    return _move_page(request, db, {"barcode": barcode, "box": box})


@router.post("/move", response_class=HTMLResponse)
def move_tube(request: Request, db: DbDep, principal: Mover, barcode: Annotated[str, Form()] = "",
              box: Annotated[str, Form()] = "", position: Annotated[str, Form()] = "",
              location: Annotated[str, Form()] = "", csrf_token: Annotated[str, Form()] = "") -> Response:
    """Move a scanned tube to a scanned location (`location`), or to a position picked in a box."""
    check_csrf(request, csrf_token)
    values = {"barcode": barcode, "box": box, "position": position, "location": location}
    try:
        if not barcode.strip():
            raise ValidationFailed("scan or type the tube's barcode")
        target = location.strip() or (f"{box.strip().rstrip('/')}/{position.strip()}" if box.strip() and
                                      position.strip() else "")
        if not target:
            raise ValidationFailed("scan a location, or choose a box and a free position")
        service.move_specimen(db, barcode.strip(), target, actor=principal.username)
    except LifeBankError as exc:
        return _move_page(request, db, values, exc)
    return RedirectResponse(f"/biobank/specimens/{quote(barcode.strip())}?done=move", status_code=303)
