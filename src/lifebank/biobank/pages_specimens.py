"""Specimen pages: the list with its filters, a specimen's page, and the actions on specimens."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from lifebank.auth.service import Principal
from lifebank.biobank import service
from lifebank.biobank.specimen_types import SPECIMEN_TYPES, SpecimenStatus
from lifebank.errors import LifeBankError
from lifebank.web.deps import DbDep
from lifebank.web.templating import render
from lifebank.web.ui import page_requires

router = APIRouter()

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
