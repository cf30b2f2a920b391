"""HTTP API of the cell-therapy chain (mounted under /api/v1/celltherapy): parse, call the service, answer.

A step's signatures travel in the request as username + password pairs: each is re-authenticated at once
(`service.sign`), never stored; the API's bearer token says who records, the passwords say who signs.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from lifebank.auth.service import Principal
from lifebank.celltherapy import service
from lifebank.celltherapy.isbt128 import check_din
from lifebank.errors import ValidationFailed
from lifebank.web.deps import DbDep, SettingsDep, require
from lifebank.web.pagination import PageParams, page_params
from lifebank.web.problems import request_language

router = APIRouter(prefix="/celltherapy", tags=["celltherapy"])

Reader = Annotated[Principal, Depends(require("celltherapy.read"))]
Recorder = Annotated[Principal, Depends(require("celltherapy.record"))]
Orderer = Annotated[Principal, Depends(require("celltherapy.order"))]
Manager = Annotated[Principal, Depends(require("celltherapy.manage"))]
Paging = Annotated[PageParams, Depends(page_params)]
MAX_UPLOAD = 64 * 1024 * 1024


class OrderIn(BaseModel):
    participant: str = Field(min_length=1, max_length=64, description="the patient's pseudonymous code")
    product: str = Field(description="car-t or hpc-cord")
    centre: str = Field(min_length=1, max_length=200)
    identity_kind: Literal["dob", "mrn"] = Field(description="the second identifier: date of birth or MRN")
    identity_value: str = Field(min_length=1, max_length=40)
    cord_unit: str | None = Field(None, description="hpc-cord: the HLA registry's cord unit id")


class SignatureIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class StepIn(BaseModel):
    values: dict[str, str | float | int] = Field(default_factory=dict)
    signatures: list[SignatureIn] = Field(min_length=1, max_length=2)


class SlotIn(BaseModel):
    day: date
    capacity: int = Field(ge=0, le=1000)


class BookIn(BaseModel):
    day: date


@router.get("/din/{din}")
def din(din: str, request: Request, _: Reader) -> dict[str, Any]:
    """Check an ISBT 128 DIN (13 characters, optionally with its check character or flags)."""
    answer = check_din(din)
    if "reason" in answer:
        answer["reason"] = answer["reason"].render(request_language(request))
    return answer


@router.post("/orders", status_code=201)
def create_order(body: OrderIn, db: DbDep, settings: SettingsDep, principal: Orderer) -> dict[str, Any]:
    """Create an order; the answer carries its id and COI (an ISBT 128 DIN)."""
    return service.create_order(db, participant=body.participant, product=body.product, centre=body.centre,
                                identity_kind=body.identity_kind, identity_value=body.identity_value,
                                cord_unit=body.cord_unit, actor=principal.username, settings=settings)


@router.get("/orders")
def list_orders(db: DbDep, _: Reader, paging: Paging, open_only: bool = False) -> dict[str, Any]:
    found = service.list_orders(db, limit=paging.limit, offset=paging.offset, open_only=open_only)
    return {**found, "limit": paging.limit, "offset": paging.offset}


@router.get("/orders/{order}")
def chain(order: str, db: DbDep, _: Reader) -> dict[str, Any]:
    """The order's whole chain: steps with values, signers and times; bags; logger traces; timeline."""
    return service.chain_view(db, order)


@router.post("/orders/{order}/steps/{step}", status_code=201)
def record_step(order: str, step: str, body: StepIn, db: DbDep, settings: SettingsDep,
                principal: Recorder) -> dict[str, Any]:
    """Record the next step; every signature re-authenticates its signer (21 CFR Part 11-style)."""
    signed = [service.sign(db, s.username, s.password, order=order, settings=settings) for s in body.signatures]
    return service.record_step(db, order, step, body.values, signed, actor=principal.username, settings=settings)


@router.post("/orders/{order}/traces/{leg}", status_code=201,
             openapi_extra={"requestBody": {"content": {"text/csv": {"schema": {"type": "string"}}}}})
async def import_trace(order: str, leg: str, request: Request, db: DbDep, principal: Recorder) -> Any:
    """Body: the logger's CSV export. Excursions outside the product's range are flagged with their duration."""
    raw = await request.body()
    if len(raw) > MAX_UPLOAD:
        raise ValidationFailed("file larger than {limit} bytes", limit=f"{MAX_UPLOAD:,}")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationFailed("the file is not UTF-8 text") from None
    result = await run_in_threadpool(service.import_trace, db, order, leg, text, actor=principal.username)
    return JSONResponse(result, status_code=201)


@router.post("/orders/{order}/booking")
def book(order: str, body: BookIn, db: DbDep, principal: Orderer) -> dict[str, Any]:
    return service.book_apheresis(db, order, body.day, actor=principal.username)


@router.get("/orders/{order}/fhir")
def fhir(order: str, db: DbDep, _: Reader) -> dict[str, Any]:
    """The released product as a FHIR R4B BiologicallyDerivedProduct."""
    return service.fhir_product(db, order)


@router.get("/orders/{order}/labels.{fmt}")
def labels(order: str, fmt: Literal["pdf", "zpl"], db: DbDep, principal: Recorder) -> Response:
    """The order's ISBT 128 bag labels (ledgered as a print)."""
    from lifebank.celltherapy.labelling import bag_labels

    printed = bag_labels(db, order, fmt=fmt, actor=principal.username)
    return Response(printed.content, media_type=printed.media_type,
                    headers={"Content-Disposition": f'attachment; filename="{printed.filename}"'})


@router.get("/product-codes")
def product_codes(db: DbDep, _: Reader) -> list[dict[str, Any]]:
    return service.list_product_codes(db)


@router.put("/product-codes",
            openapi_extra={"requestBody": {"content": {"text/csv": {"schema": {"type": "string"}}}}})
async def load_product_codes(request: Request, db: DbDep, principal: Manager) -> dict[str, Any]:
    """Body: CSV code,description,product,shelf_life_hours; replaces the table, all or nothing."""
    try:
        text = (await request.body()).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationFailed("the file is not UTF-8 text") from None
    return await run_in_threadpool(service.load_product_codes, db, text, actor=principal.username)


@router.get("/slots")
def slots(db: DbDep, _: Reader, start: date | None = None, days: int = 60) -> list[dict[str, Any]]:
    return service.list_slots(db, start=start, days=min(max(days, 1), 366))


@router.post("/slots", status_code=201)
def define_slot(body: SlotIn, db: DbDep, principal: Manager) -> dict[str, Any]:
    return service.define_slot(db, body.day, body.capacity, actor=principal.username)
