"""Label printing: barcodes in, a PDF of labels out (each real print ledgered)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from lifebank.auth.service import Principal
from lifebank.biobank import labels, service
from lifebank.errors import LifeBankError
from lifebank.web.csrf import check_csrf
from lifebank.web.deps import DbDep
from lifebank.web.templating import render
from lifebank.web.ui import page_requires

router = APIRouter()


@router.get("/labels", response_class=HTMLResponse)
def labels_page(request: Request, _p: Annotated[Principal, Depends(page_requires("label.print"))],
                barcodes: str = "") -> Response:
    return render(request, "biobank/labels.html", barcodes=barcodes, error=None)


@router.post("/labels")
def labels_print(
    request: Request, db: DbDep, principal: Annotated[Principal, Depends(page_requires("label.print"))],
    barcodes: Annotated[str, Form()], symbology: Annotated[str, Form()] = "code128",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf_token)
    wanted = [b.strip() for b in barcodes.replace(",", "\n").splitlines() if b.strip()]
    try:
        if not wanted or symbology not in labels.SYMBOLOGIES:
            raise LifeBankError("enter at least one barcode")
        for barcode in wanted:
            service.get_specimen(db, barcode)
        pdf = labels.render_pdf(wanted, symbology)
        service.record_label_print(db, wanted, actor=principal.username, fmt=f"{symbology}/pdf")
    except LifeBankError as exc:
        return render(request, "biobank/labels.html", status_code=422, barcodes=barcodes, error=exc.detail)
    return Response(pdf, media_type="application/pdf",
                    headers={"Content-Disposition": 'inline; filename="labels.pdf"'})
