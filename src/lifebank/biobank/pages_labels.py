"""Label printing: barcodes in, a PDF (roll stock or A4 sheet) or ZPL for a Zebra printer out, with the
manager's label template; each real print is ledgered, one event per tube. Managers edit the templates here."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from lifebank.auth.service import Principal
from lifebank.biobank import label_printing, labels
from lifebank.errors import LifeBankError
from lifebank.web.csrf import check_csrf
from lifebank.web.deps import DbDep
from lifebank.web.templating import render
from lifebank.web.ui import page_requires

router = APIRouter()
Printer = Annotated[Principal, Depends(page_requires("label.print"))]


def _page(request: Request, db: Any, principal: Principal, values: dict[str, str], *,
          error: LifeBankError | None = None, template_error: LifeBankError | None = None,
          template_values: dict[str, Any] | None = None, saved: str = "") -> Response:
    return render(request, "biobank/labels.html", status_code=422 if error or template_error else 200,
                  values=values, error=error, template_error=template_error, saved=saved,
                  template_values=template_values or {"stock": "cryo-33x13", "symbology": "datamatrix",
                                                      "fields": list(labels.FIELDS)},
                  templates=label_printing.list_templates(db), stocks=labels.STOCKS, fields=labels.FIELD_LABELS,
                  can_design=principal.can(label_printing.TEMPLATE_PERMISSION))


@router.get("/labels", response_class=HTMLResponse)
def labels_page(request: Request, db: DbDep, principal: Printer, barcodes: str = "", saved: str = "") -> Response:
    return _page(request, db, principal, {"barcodes": barcodes.replace(",", "\n")}, saved=saved)


@router.post("/labels")
def labels_print(
    request: Request, db: DbDep, principal: Printer, barcodes: Annotated[str, Form()] = "",
    format: Annotated[str, Form()] = "pdf", template: Annotated[str, Form()] = "",
    stock: Annotated[str, Form()] = "", symbology: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Print (PDF or ZPL); `stock` and `symbology` left empty take the template's."""
    check_csrf(request, csrf_token)
    wanted = barcodes.replace(",", "\n").split()
    try:
        job = label_printing.print_labels(db, wanted, fmt=format, template=template or None, stock=stock or None,
                                          symbology=symbology or None, actor=principal.username)
    except LifeBankError as exc:
        return _page(request, db, principal, {"barcodes": barcodes, "format": format, "template": template,
                                              "stock": stock, "symbology": symbology}, error=exc)
    return Response(job.content, media_type=job.media_type,
                    headers={"Content-Disposition": f'attachment; filename="{job.filename}"'})


@router.post("/labels/templates", response_class=HTMLResponse)
def save_template(
    request: Request, db: DbDep,
    principal: Annotated[Principal, Depends(page_requires(label_printing.TEMPLATE_PERMISSION))],
    name: Annotated[str, Form()] = "", stock: Annotated[str, Form()] = "",
    symbology: Annotated[str, Form()] = "", fields: Annotated[list[str] | None, Form()] = None,
    is_default: Annotated[str, Form()] = "", csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf_token)
    chosen = fields or []
    try:
        saved = label_printing.save_template(db, name, stock=stock, symbology=symbology, fields=chosen,
                                             is_default=bool(is_default), actor=principal.username)
    except LifeBankError as exc:
        return _page(request, db, principal, {"barcodes": ""}, template_error=exc,
                     template_values={"name": name, "stock": stock, "symbology": symbology, "fields": chosen,
                                      "is_default": bool(is_default)})
    return RedirectResponse("/biobank/labels?" + urlencode({"saved": saved["name"]}), status_code=303)
