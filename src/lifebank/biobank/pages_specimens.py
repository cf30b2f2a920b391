"""Specimen pages: the list (filters, sortable columns, page counts, a selection for bulk actions, exports), a
specimen's page with the actions the reader's roles allow, and registering a specimen.

The actions' form posts live in `pages_specimen_actions`, bulk actions in `pages_specimen_bulk`; every form
answers a mistake inline, in the reader's language.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from lifebank.auth.service import Principal
from lifebank.biobank import label_printing, service
from lifebank.biobank.api import specimen_in_scope
from lifebank.biobank.specimen_types import SPECIMEN_TYPES, SpecimenStatus
from lifebank.biobank.specimens import QC_KINDS
from lifebank.errors import LifeBankError, ValidationFailed
from lifebank.messages import N_, label
from lifebank.web.csrf import check_csrf
from lifebank.web.deps import DbDep
from lifebank.web.exports import export_response, parse_format
from lifebank.web.templating import gettext_for, render
from lifebank.web.ui import page_requires, page_requires_within

router = APIRouter()
# A site or collection grant opens the list and a specimen's page, filtered by scope exactly as the API
# (`lifebank.biobank.api`): the same SpecimenFilter(scope=…), the same 404 for a tube outside the scope.
Reader = Annotated[Principal, Depends(page_requires_within("specimen.read"))]
PAGE_SIZE = 50
FILTERS = ("type", "status", "participant", "consent", "container")
# What the list's columns sort by (search.SORT_KEYS) with the header the reader sees.
COLUMNS = [("barcode", "Barcode"), ("participant", "Participant"), ("type", "Type"), (None, "Quantity"),
           ("status", "Status"), ("collected", "Collected"), ("location", "Location")]
EXPORT_HEADERS = {"barcode": N_("Barcode"), "participant": N_("Participant"), "type": N_("Type"),
                  "quantity": N_("Quantity"), "unit": N_("Unit"), "status": N_("Status"),
                  "distributable": N_("Distributable"), "lineage": N_("Lineage"), "parent": N_("Parent"),
                  "collected_at": N_("Collected at"), "sprec": N_("SPREC"), "freeze_thaw": N_("Freeze-thaw cycles"),
                  "location": N_("Location"), "notes": N_("Notes")}
EXPORT_COLUMNS = list(EXPORT_HEADERS)


def _filter(values: dict[str, str], principal: Principal) -> service.SpecimenFilter:
    return service.SpecimenFilter(**{k: (values.get(k) or "").strip() or None for k in FILTERS},
                                  scope=principal.scope_of("specimen.read"))


def allowed_actions(principal: Principal) -> dict[str, bool]:
    """Which actions the reader may take: a form the roles cannot use is not shown."""
    return {"write": principal.can("specimen.write"), "move": principal.can("storage.write"),
            "reserve": principal.can("specimen.reserve"), "print": principal.can("label.print"),
            "distribute": principal.can("specimen.distribute"), "storage": principal.can("storage.read")}


@router.get("/specimens", response_class=HTMLResponse)
def specimen_list(request: Request, db: DbDep, principal: Reader, type: str = "", status: str = "",
                  participant: str = "", consent: str = "", container: str = "", sort: str = "",
                  page: int = 1) -> Response:
    filters = {"type": type, "status": status, "participant": participant, "consent": consent,
               "container": container}
    page = max(page, 1)
    error = None
    try:
        total, items = service.search_specimens(db, _filter(filters, principal), limit=PAGE_SIZE,
                                                offset=(page - 1) * PAGE_SIZE, sort=sort or None)
    except LifeBankError as exc:
        total, items, error = 0, [], exc
    pages = max(1, math.ceil((total or 0) / PAGE_SIZE))
    query = {k: v for k, v in filters.items() if v}
    return render(request, "biobank/specimens.html", status_code=422 if error else 200, items=items,
                  total=total or 0, page=page, pages=pages, filters=filters, sort=sort, columns=COLUMNS,
                  query=urlencode(query), sorted_query=urlencode({**query, **({"sort": sort} if sort else {})}),
                  types=sorted(SPECIMEN_TYPES), statuses=[s.value for s in SpecimenStatus], error=error,
                  can=allowed_actions(principal), templates=label_printing.list_templates(db))


@router.get("/specimens/export")
def specimen_export(request: Request, db: DbDep, principal: Reader, format: str = "csv", type: str = "",
                    status: str = "", participant: str = "", consent: str = "", container: str = "",
                    sort: str = "") -> Response:
    """The whole filtered list as CSV or Excel (the same filters as the page), streamed."""
    fmt = parse_format(format)
    filters = {"type": type, "status": status, "participant": participant, "consent": consent,
               "container": container}
    rows = service.iter_specimens(db, _filter(filters, principal), sort=sort or None)
    first = next(rows, None)  # a wrong filter is an error page, not an empty file

    def all_rows() -> Any:
        if first is not None:
            yield first
            yield from rows

    language = request.state.locale
    gettext = gettext_for(request)
    return export_response(fmt, "specimens", EXPORT_COLUMNS, _labelled(all_rows(), language),
                           headers=[gettext(EXPORT_HEADERS[c]) for c in EXPORT_COLUMNS], sheet="specimens")


def _labelled(rows: Any, language: str) -> Any:
    for row in rows:
        yield {**row, "status": label("specimen_status", row["status"], language),
               "lineage": label("lineage", row["lineage"], language)}


@router.get("/specimens/new", response_class=HTMLResponse)
def specimen_new(request: Request, principal: Annotated[Principal, Depends(page_requires("specimen.write"))],
                 participant: str = "", parent: str = "") -> Response:
    return _new_page(request, {"participant": participant, "parents": parent})


def _new_page(request: Request, values: dict[str, str], error: LifeBankError | None = None) -> Response:
    return render(request, "biobank/specimen_new.html", status_code=422 if error else 200, values=values,
                  error=error, types=sorted(SPECIMEN_TYPES))


@router.post("/specimens/new", response_class=HTMLResponse)
def specimen_register(
    request: Request, db: DbDep, principal: Annotated[Principal, Depends(page_requires("specimen.write"))],
    participant: Annotated[str, Form()] = "", type: Annotated[str, Form()] = "",
    quantity: Annotated[str, Form()] = "", barcode: Annotated[str, Form()] = "",
    collected_at: Annotated[str, Form()] = "", sprec: Annotated[str, Form()] = "",
    parents: Annotated[str, Form()] = "", location: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf_token)
    values = {"participant": participant, "type": type, "quantity": quantity, "barcode": barcode,
              "collected_at": collected_at, "sprec": sprec, "parents": parents, "location": location}
    try:
        specimen = service.register_specimen(
            db, barcode.strip() or None, participant=participant.strip() or None, type=type,
            quantity=number_or_none(quantity), collected_at=local_datetime(request, collected_at),
            parents=[p for p in parents.replace(",", " ").split() if p], sprec=sprec.strip() or None,
            location=location.strip() or None, actor=principal.username)
    except LifeBankError as exc:
        return _new_page(request, values, exc)
    return RedirectResponse(f"/biobank/specimens/{quote(specimen.barcode)}?done=register", status_code=303)


def number_or_none(text: str) -> float | None:
    text = text.strip().replace(",", ".")
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise ValidationFailed("{value} is not a number", value=text) from None


def local_datetime(request: Request, text: str) -> datetime | None:
    """A datetime-local field (the reader's wall clock) as an aware time in the reader's zone."""
    from lifebank.web.templating import time_zone_of

    text = text.strip()
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationFailed("{value} is not a date and time (YYYY-MM-DD HH:MM)", value=text) from None
    return value if value.tzinfo else value.replace(tzinfo=time_zone_of(request))


@router.get("/specimens/{barcode}", response_class=HTMLResponse)
def specimen_page(request: Request, barcode: str, db: DbDep, principal: Reader, done: str = "",
                  children: str = "") -> Response:
    specimen_in_scope(db, principal, barcode)
    return specimen_view(request, db, principal, barcode, done=done,
                         children=[c for c in children.split(",") if c])


def specimen_view(request: Request, db: Any, principal: Principal, barcode: str, *, done: str = "",
                  children: list[str] | None = None, errors: dict[str, LifeBankError] | None = None,
                  values: dict[str, str] | None = None) -> Response:
    """The specimen's page; after a failed action, `errors` holds that form's message and `values` what was
    typed, so the form shows again with both."""
    history = service.specimen_history(db, barcode)
    specimen = history["specimen"]
    status = specimen["status"]
    return render(request, "biobank/specimen.html", status_code=422 if errors else 200, h=history, s=specimen,
                  can=allowed_actions(principal), errors=errors or {}, values=values or {}, done=done,
                  children=children or [], types=sorted(SPECIMEN_TYPES), qc_kinds=QC_KINDS,
                  templates=label_printing.list_templates(db),
                  can_check_out=status in {"available", "reserved"}, can_check_in=status == "in_use",
                  live=status not in {"distributed", "consumed", "destroyed"},
                  temperature=SPECIMEN_TYPES[specimen["type"]].default_temperature
                  if specimen["type"] in SPECIMEN_TYPES else "")
