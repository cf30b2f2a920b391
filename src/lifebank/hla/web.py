"""Pages of the HLA registry: donor search (patient typing in, ranked donors with a per-locus colour grid)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from lifebank.auth.service import Principal
from lifebank.errors import LifeBankError
from lifebank.hla import service
from lifebank.web.deps import DbDep
from lifebank.web.templating import NavItem, render
from lifebank.web.ui import page_requires

router = APIRouter(prefix="/hla", include_in_schema=False)

NAV: list[NavItem] = [NavItem("Donor search", "/hla/search", "hla.search", 30)]

PAGE_SIZE = 25
LOCI_CHOICES = {"10": "A,B,C,DRB1,DQB1", "8": "A,B,C,DRB1"}


def cell_class(position: dict[str, object]) -> str:
    """Colour of one position in the grid: the confidence, or `untyped`."""
    if position["grade"] == "unknown":
        return "untyped"
    return str(position["confidence"])


@router.get("/search", response_class=HTMLResponse)
def search_page(request: Request, db: DbDep, _p: Annotated[Principal, Depends(page_requires("hla.search"))],
                patient: str = "", max_mismatches: int = 0, loci: str = "10", donor_type: str = "",
                page: int = 1) -> Response:
    page = max(page, 1)
    result, error = None, None
    if patient.strip():
        try:
            result = service.search(db, patient.strip(), max_mismatches=max(0, min(max_mismatches, 4)),
                                    loci=LOCI_CHOICES.get(loci, LOCI_CHOICES["10"]), donor_type=donor_type or None,
                                    limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
        except LifeBankError as exc:
            error = exc.detail
    form = {"patient": patient, "max_mismatches": max_mismatches, "loci": loci, "donor_type": donor_type}
    return render(request, "hla/search.html", result=result, error=error, form=form, page=page, limit=PAGE_SIZE,
                  cell_class=cell_class)
