"""Storage pages: storage units and their fill, a unit's occupancy, a box map; storage management (container
types, freezers/tanks/automated stores, racks and boxes, moving a rack or box); the free-position finder.

Forms answer mistakes inline, in the reader's language; a successful write redirects back with a note.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from lifebank.auth.service import Principal
from lifebank.biobank import service
from lifebank.biobank.storage_layout import ContainerKind, LabelScheme, TemperatureClass
from lifebank.errors import LifeBankError, ValidationFailed
from lifebank.web.csrf import check_csrf
from lifebank.web.deps import DbDep
from lifebank.web.templating import render
from lifebank.web.ui import page_requires

router = APIRouter()
Reader = Annotated[Principal, Depends(page_requires("storage.read"))]
Writer = Annotated[Principal, Depends(page_requires("storage.write"))]
FREE_PAGE = 50


@router.get("/storage", response_class=HTMLResponse)
def storage(request: Request, db: DbDep, principal: Reader, path: str = "") -> Response:
    if not path:
        roots = service.list_containers(db)
        tops = []
        for root in roots:
            tops.extend(service.list_containers(db, root["path"]) if root["kind"] == "site" else [root])
        units = [service.occupancy(db, c["path"]) for c in tops]
        return render(request, "biobank/storage.html", units=units, can_manage=principal.can("storage.write"),
                      temperatures=[t.value for t in TemperatureClass])
    if service.container_info(db, path)["kind"] == "box":
        grid = service.box_map(db, path)
        return render(request, "biobank/box_map.html", grid=grid, crumbs=_crumbs(path),
                      can_see_specimens=principal.can("specimen.read"))
    return render(request, "biobank/occupancy.html", occ=service.occupancy(db, path), crumbs=_crumbs(path))


def _crumbs(path: str) -> list[tuple[str, str]]:
    parts = path.split("/")
    return [(part, "/".join(parts[:i + 1])) for i, part in enumerate(parts)]


# --- management -----------------------------------------------------------------------------------------

def _manage_page(request: Request, db: DbDep, *, error: LifeBankError | None = None, form: str = "",
                 values: dict[str, str] | None = None, done: str | None = None) -> Response:
    return render(request, "biobank/storage_manage.html", status_code=422 if error else 200,
                  types=service.list_container_types(db), parents=service.parent_choices(db), error=error,
                  form=form, values=values or {}, done=done or request.query_params.get("done"),
                  kinds=[k.value for k in ContainerKind], schemes=[s.value for s in LabelScheme],
                  temperatures=[t.value for t in TemperatureClass])


@router.get("/storage/manage", response_class=HTMLResponse)
def manage(request: Request, db: DbDep, _p: Writer) -> Response:
    return _manage_page(request, db)


def _grid_number(text: str) -> int | None:
    if not text.strip():
        return None
    if not text.strip().isdigit():
        raise ValidationFailed("{value!r} is not a whole number", value=text)
    return int(text)


def _done(what: str) -> Response:
    return RedirectResponse(f"/biobank/storage/manage?done={quote(what)}", status_code=303)


@router.post("/storage/types", response_class=HTMLResponse)
def create_type(request: Request, db: DbDep, principal: Writer, name: Annotated[str, Form()] = "",
                kind: Annotated[str, Form()] = "", rows: Annotated[str, Form()] = "",
                columns: Annotated[str, Form()] = "", scheme: Annotated[str, Form()] = "",
                csrf_token: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, csrf_token)
    values = {"name": name, "kind": kind, "rows": rows, "columns": columns, "scheme": scheme}
    try:
        if not name.strip():
            raise ValidationFailed("container type name {name!r} must be 1-64 characters", name=name)
        box = kind == ContainerKind.BOX.value
        service.define_container_type(db, name.strip(), kind=kind, rows=_grid_number(rows) if box else None,
                                      columns=_grid_number(columns) if box else None,
                                      scheme=scheme or None if box else None, actor=principal.username)
    except LifeBankError as exc:
        return _manage_page(request, db, error=exc, form="type", values=values)
    return _done("type")


@router.post("/storage/types/edit", response_class=HTMLResponse)
def edit_type(request: Request, db: DbDep, principal: Writer, name: Annotated[str, Form()] = "",
              new_name: Annotated[str, Form()] = "", rows: Annotated[str, Form()] = "",
              columns: Annotated[str, Form()] = "", scheme: Annotated[str, Form()] = "",
              csrf_token: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, csrf_token)
    try:
        service.edit_container_type(db, name, new_name=new_name.strip() or None, rows=_grid_number(rows),
                                    columns=_grid_number(columns), scheme=scheme or None, actor=principal.username)
    except LifeBankError as exc:
        return _manage_page(request, db, error=exc, form="edit:" + name)
    return _done("type-edit")


@router.post("/storage/containers", response_class=HTMLResponse)
def create_container(request: Request, db: DbDep, principal: Writer, name: Annotated[str, Form()] = "",
                     type_name: Annotated[str, Form()] = "", parent: Annotated[str, Form()] = "",
                     temperature_class: Annotated[str, Form()] = "",
                     csrf_token: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, csrf_token)
    values = {"name": name, "type_name": type_name, "parent": parent, "temperature_class": temperature_class}
    try:
        created = service.create_container(db, name.strip(), type_name=type_name, parent_path=parent.strip() or None,
                                           temperature_class=temperature_class or None, actor=principal.username)
    except LifeBankError as exc:
        return _manage_page(request, db, error=exc, form="container", values=values)
    return RedirectResponse(f"/biobank/storage?path={quote(created.name_path)}", status_code=303)


@router.post("/storage/move", response_class=HTMLResponse)
def move_container(request: Request, db: DbDep, principal: Writer, path: Annotated[str, Form()] = "",
                   new_parent: Annotated[str, Form()] = "", csrf_token: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, csrf_token)
    values = {"path": path, "new_parent": new_parent}
    try:
        moved = service.move_container(db, path.strip(), new_parent.strip(), actor=principal.username)
    except LifeBankError as exc:
        return _manage_page(request, db, error=exc, form="move", values=values)
    return RedirectResponse(f"/biobank/storage?path={quote(moved)}", status_code=303)


# --- free positions -------------------------------------------------------------------------------------

def _free_page(request: Request, db: DbDep, principal: Principal, temperature_class: str, barcode: str,
               page: int, error: LifeBankError | None = None) -> Response:
    found, failure = None, error
    if temperature_class:
        try:
            found = service.find_free_positions(db, temperature_class, limit=FREE_PAGE,
                                                offset=(max(page, 1) - 1) * FREE_PAGE)
        except LifeBankError as exc:
            failure = exc
    return render(request, "biobank/free_positions.html", status_code=422 if failure else 200, found=found,
                  error=failure, temperature_class=temperature_class, barcode=barcode, page=max(page, 1),
                  limit=FREE_PAGE, temperatures=[t.value for t in TemperatureClass],
                  can_move=principal.can("specimen.write"))


@router.get("/storage/free", response_class=HTMLResponse)
def free_positions(request: Request, db: DbDep, principal: Reader, temperature_class: str = "",
                   page: int = 1, barcode: Annotated[str, Query(alias="for")] = "") -> Response:
    """`?for=<barcode>`: the tube being moved (the technician's move form links here); each box then offers
    a "move here" button."""
    return _free_page(request, db, principal, temperature_class, barcode.strip(), page)


@router.post("/storage/free/move", response_class=HTMLResponse)
def move_here(request: Request, db: DbDep,
              principal: Annotated[Principal, Depends(page_requires("specimen.write"))],
              barcode: Annotated[str, Form()] = "", location: Annotated[str, Form()] = "",
              temperature_class: Annotated[str, Form()] = "", csrf_token: Annotated[str, Form()] = "") -> Response:
    """Move the tube the finder was opened for (`?for=`) to the first free position of the chosen box."""
    check_csrf(request, csrf_token)
    try:
        service.move_specimen(db, barcode.strip(), location, actor=principal.username)
    except LifeBankError as exc:
        return _free_page(request, db, principal, temperature_class, barcode, 1, error=exc)
    return RedirectResponse(f"/biobank/specimens/{quote(barcode.strip())}", status_code=303)
