"""Pages of the cell-therapy chain: the orders (and a new order), one page per order showing the whole chain
with the form for its next step, and the bedside check made for a phone.

Every form posts here (CSRF-checked); a refusal shows the same page again with the reason under the form, in
the reader's language, and what was typed kept (never a password). Signatures are re-authenticated by
`service.sign` exactly as the API and the CLI do.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from lifebank.auth.service import Principal
from lifebank.celltherapy import service
from lifebank.celltherapy.chain import FIELDS, RECEIPTS, STEPS, rule_of
from lifebank.celltherapy.plots import timeline_plot, trace_plot
from lifebank.celltherapy.products import PRODUCTS
from lifebank.errors import LifeBankError, PermissionDenied, ValidationFailed
from lifebank.messages import label
from lifebank.web.csrf import check_csrf
from lifebank.web.deps import DbDep
from lifebank.web.templating import NavItem, render
from lifebank.web.ui import page_principal, page_requires

router = APIRouter(prefix="/celltherapy", include_in_schema=False)
NAV: list[NavItem] = [NavItem("Cell therapy", "/celltherapy", "celltherapy.read", 40)]
Reader = Annotated[Principal, Depends(page_requires("celltherapy.read"))]
Form_ = dict[str, str]


async def _form(request: Request) -> Form_:
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    check_csrf(request, form.get("csrf_token", ""))
    return form


def _allowed(principal: Principal, permission: str) -> None:
    if not principal.can(permission):
        raise PermissionDenied("permission {permission} is required", permission=permission)


def _settings(request: Request) -> Any:
    return request.app.state.settings


def _signed(request: Request, db: Any, coi: str, form: Form_, count: int) -> list[Any]:
    signers = []
    for n in range(1, count + 1):
        name = form.get(f"signer{n}", "").strip()
        if not name:
            raise ValidationFailed("signature {n}: enter the signer's username and password", n=n)
        signers.append(service.sign(db, name, form.get(f"password{n}", ""), order=coi, settings=_settings(request)))
    return signers


# --- the orders --------------------------------------------------------------------------------------------

def _orders_page(request: Request, db: Any, error: LifeBankError | None = None, values: Form_ | None = None,
                 status: int = 200) -> Response:
    return render(request, "celltherapy/orders.html", status_code=422 if error else status,
                  orders=service.list_orders(db, limit=200)["items"], slots=service.list_slots(db, days=30),
                  codes=service.list_product_codes(db), products=list(PRODUCTS), error=error, values=values or {},
                  steps=len(STEPS))


@router.get("", response_class=HTMLResponse)
def orders(request: Request, db: DbDep, _p: Reader) -> Response:
    return _orders_page(request, db)


@router.post("/orders", response_class=HTMLResponse)
async def create_order(request: Request, db: DbDep) -> Response:
    principal = page_principal(request)
    form = await _form(request)
    _allowed(principal, "celltherapy.order")
    try:
        kind = form.get("identity_kind", "dob")
        order = await run_in_threadpool(
            service.create_order, db, participant=form.get("participant", ""), product=form.get("product", ""),
            centre=form.get("centre", ""), identity_kind=kind, identity_value=form.get("identity_value", ""),
            cord_unit=form.get("cord_unit") or None, actor=principal.username, settings=_settings(request))
    except LifeBankError as exc:
        return await run_in_threadpool(_orders_page, request, db, exc, form)
    return RedirectResponse(f"/celltherapy/orders/{order['coi']}", status_code=303)


@router.post("/manage/{what}", response_class=HTMLResponse)
async def manage(request: Request, what: str, db: DbDep) -> Response:
    """The manager's two forms: a manufacturing slot, the product-code table (pasted CSV)."""
    principal = page_principal(request)
    form = await _form(request)
    _allowed(principal, "celltherapy.manage")
    try:
        if what == "slot":
            try:
                day, capacity = date.fromisoformat(form.get("day", "")), int(form.get("capacity", ""))
            except ValueError:
                raise ValidationFailed("enter a date and a whole number of places") from None
            await run_in_threadpool(service.define_slot, db, day, capacity, actor=principal.username)
        else:
            await run_in_threadpool(service.load_product_codes, db, form.get("table", ""), actor=principal.username)
    except LifeBankError as exc:
        return await run_in_threadpool(_orders_page, request, db, exc, form)
    return RedirectResponse("/celltherapy", status_code=303)


# --- one order: the whole chain ----------------------------------------------------------------------------

def _fields_of(step: str | None, product: str) -> list[dict[str, Any]]:
    if step is None:
        return []
    rule = rule_of(step, PRODUCTS[product])
    return [{"name": n, "required": n in rule.required, "rule": FIELDS[n]} for n in rule.required + rule.optional]


def order_context(request: Request, db: Any, coi: str) -> dict[str, Any]:
    view = service.chain_view(db, coi)
    order = view["order"]
    language = request.state.locale
    step_labels = {s: label("celltherapy_step", s, language) for s in STEPS}
    ranges = {t["leg"]: t for t in view["traces"]}
    next_step = order["next_step"]
    return {
        "view": view, "order": order, "next_step": next_step,
        "fields": _fields_of(next_step, order["product"]),
        "meanings": rule_of(next_step, PRODUCTS[order["product"]]).meanings if next_step else (),
        "needs_trace": RECEIPTS.get(next_step or "") if RECEIPTS.get(next_step or "") not in ranges else None,
        "trace_plots": {t["leg"]: trace_plot(t["series"], t["range_c"][0], t["range_c"][1], t["leg"])
                        for t in view["traces"]},
        "timeline_plot": timeline_plot(view["timeline"], step_labels, "vein-to-vein"),
        "product_bags": [b for b in view["bags"] if b["kind"] == "product"],
    }


def _order_page(request: Request, db: Any, coi: str, error: LifeBankError | None = None,
                values: Form_ | None = None, where: str = "step") -> Response:
    context = order_context(request, db, coi)
    safe = {k: v for k, v in (values or {}).items() if not k.startswith("password")}
    return render(request, "celltherapy/order.html", status_code=422 if error else 200, error=error,
                  error_at=where, values=safe, done=request.query_params.get("done"), **context)


@router.get("/orders/{coi}", response_class=HTMLResponse)
def order_page(request: Request, coi: str, db: DbDep, _p: Reader) -> Response:
    return _order_page(request, db, coi)


@router.post("/orders/{coi}/steps", response_class=HTMLResponse)
async def record_step(request: Request, coi: str, db: DbDep) -> Response:
    principal = page_principal(request)
    form = await _form(request)
    _allowed(principal, "celltherapy.record")
    step = form.get("step", "")
    bedside = form.get("from") == "bedside"

    def run() -> None:
        order = service.get_order(db, coi)
        count = len(rule_of(step, PRODUCTS[order["product"]]).meanings) if step in STEPS else 1
        values = {k[2:]: v for k, v in form.items() if k.startswith("f_") and v.strip()}
        service.record_step(db, coi, step, values, _signed(request, db, coi, form, count), actor=principal.username,
                            settings=_settings(request))

    try:
        await run_in_threadpool(run)
    except LifeBankError as exc:
        if bedside:
            return await run_in_threadpool(_bedside_page, request, db, coi, exc, form)
        return await run_in_threadpool(_order_page, request, db, coi, exc, form)
    target = f"/celltherapy/orders/{quote(coi)}/bedside?done=1" if bedside else \
        f"/celltherapy/orders/{quote(coi)}?done={quote(step)}"
    return RedirectResponse(target, status_code=303)


@router.post("/orders/{coi}/trace", response_class=HTMLResponse)
async def import_trace(request: Request, coi: str, db: DbDep) -> Response:
    principal = page_principal(request)
    raw = await request.form()
    check_csrf(request, str(raw.get("csrf_token", "")))
    _allowed(principal, "celltherapy.record")
    upload = raw.get("file")
    text = str(raw.get("csv", ""))
    if upload is not None and not isinstance(upload, str):
        text = (await upload.read()).decode("utf-8-sig", errors="replace") or text
    try:
        await run_in_threadpool(service.import_trace, db, coi, str(raw.get("leg", "")), text,
                                actor=principal.username)
    except LifeBankError as exc:
        return await run_in_threadpool(_order_page, request, db, coi, exc, {"csv": text}, "trace")
    return RedirectResponse(f"/celltherapy/orders/{quote(coi)}?done=trace", status_code=303)


@router.post("/orders/{coi}/booking", response_class=HTMLResponse)
async def book(request: Request, coi: str, db: DbDep) -> Response:
    principal = page_principal(request)
    form = await _form(request)
    _allowed(principal, "celltherapy.order")
    try:
        try:
            day = date.fromisoformat(form.get("day", ""))
        except ValueError:
            raise ValidationFailed("{value} is not a date (YYYY-MM-DD)", value=form.get("day", "")) from None
        await run_in_threadpool(service.book_apheresis, db, coi, day, actor=principal.username)
    except LifeBankError as exc:
        return await run_in_threadpool(_order_page, request, db, coi, exc, form, "booking")
    return RedirectResponse(f"/celltherapy/orders/{quote(coi)}?done=booking", status_code=303)


@router.get("/orders/{coi}/labels.{fmt}")
def labels(request: Request, coi: str, fmt: str, db: DbDep,
           principal: Annotated[Principal, Depends(page_requires("celltherapy.record"))]) -> Response:
    from lifebank.celltherapy.labelling import bag_labels

    printed = bag_labels(db, coi, fmt=fmt, actor=principal.username)
    return Response(printed.content, media_type=printed.media_type,
                    headers={"Content-Disposition": f'attachment; filename="{printed.filename}"'})


@router.get("/orders/{coi}/fhir")
def fhir(coi: str, db: DbDep, _p: Reader) -> Response:
    import json

    return Response(json.dumps(service.fhir_product(db, coi), indent=2), media_type="application/fhir+json")


# --- the bedside check, for a phone --------------------------------------------------------------------------

def _bedside_page(request: Request, db: Any, coi: str, error: LifeBankError | None = None,
                  values: Form_ | None = None) -> Response:
    order = service.get_order(db, coi)
    safe = {k: v for k, v in (values or {}).items() if not k.startswith("password")}
    return render(request, "celltherapy/bedside.html", status_code=422 if error else 200, order=order, error=error,
                  values=safe, done=request.query_params.get("done"))


@router.get("/orders/{coi}/bedside", response_class=HTMLResponse)
def bedside(request: Request, coi: str, db: DbDep, _p: Reader) -> Response:
    return _bedside_page(request, db, coi)
