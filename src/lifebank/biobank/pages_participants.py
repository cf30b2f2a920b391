"""Participant pages: the list (filters, sort, pages, export), a participant's page with consent versions and
specimens, registration with a first consent, a new consent version, and withdrawal (preview, then confirm).

Every form answers a mistake inline in the reader's language (the domain error rendered through the
catalogue), never as a problem+json page.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from lifebank.auth.service import Principal
from lifebank.biobank import service
from lifebank.biobank.api import participant_in_scope
from lifebank.biobank.duo import consent_choices
from lifebank.biobank.participants import CONSENT_STATUSES, SEXES, SORTS
from lifebank.errors import LifeBankError, ValidationFailed
from lifebank.messages import Msg
from lifebank.web.csrf import check_csrf
from lifebank.web.deps import DbDep
from lifebank.web.templating import render
from lifebank.web.ui import page_requires, page_requires_within

router = APIRouter()
PAGE_SIZE = 50
# A site or collection grant opens the list and a participant's page, filtered as the API filters them.
Reader = Annotated[Principal, Depends(page_requires_within("participant.read"))]
ConsentWriter = Annotated[Principal, Depends(page_requires("consent.write"))]


@router.get("/participants", response_class=HTMLResponse)
def participant_list(request: Request, db: DbDep, principal: Reader, code: str = "", site: str = "",
                     consent_code: str = "", consent_status: str = "", sort: str = "code", desc: bool = False,
                     page: int = 1) -> Response:
    page = max(page, 1)
    filters = {"code": code, "site": site, "consent_code": consent_code, "consent_status": consent_status}
    flt = service.ParticipantFilter(**{k: v.strip() or None for k, v in filters.items()},
                                    scope=principal.scope_of("participant.read"))
    error: LifeBankError | None = None
    try:
        total, items = service.list_participants(db, flt, sort=sort if sort in SORTS else "code", descending=desc,
                                                 limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    except LifeBankError as exc:
        total, items, error = 0, [], exc
    pages = max(1, -(-total // PAGE_SIZE))
    query = urlencode({**filters, "sort": sort, **({"desc": "1"} if desc else {})})
    return render(request, "biobank/participants.html", items=items, total=total, page=page, pages=pages,
                  filters=filters, sort=sort, desc=desc, query=query, error=error,
                  summary=Msg("{count} participant", plural="{count} participants", count=total),
                  statuses=CONSENT_STATUSES, can_register=_can_register(principal),
                  can_see_specimens=principal.can_within("specimen.read"))


def _can_register(principal: Principal) -> bool:
    return principal.can("participant.write") and principal.can("consent.write")


def _form_page(request: Request, *, values: dict[str, object] | None = None, error: LifeBankError | None = None,
               status_code: int = 200) -> Response:
    blank = {"code": "", "sex": "U", "birth_year": "", "site": "", "codes": [], "consent_date": "", "scope": ""}
    return render(request, "biobank/participant_new.html", status_code=status_code, values=blank | (values or {}),
                  sexes=sorted(SEXES), duo_terms=consent_choices(), error=error)


@router.get("/participants/new", response_class=HTMLResponse)
def new_participant(request: Request,
                    principal: Annotated[Principal, Depends(page_requires("participant.write"))]) -> Response:
    return _form_page(request)


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValidationFailed("{value!r} is not a date (YYYY-MM-DD)", value=text) from None


def _year(text: str) -> int | None:
    if not text.strip():
        return None
    if not text.strip().isdigit():
        raise ValidationFailed("birth year {year} is out of range 1900..{this_year}", year=text,
                               this_year=date.today().year)
    return int(text)


@router.post("/participants", response_class=HTMLResponse)
def register(request: Request, db: DbDep,
             principal: Annotated[Principal, Depends(page_requires("participant.write"))],
             code: Annotated[str, Form()] = "", sex: Annotated[str, Form()] = "U",
             birth_year: Annotated[str, Form()] = "", site: Annotated[str, Form()] = "",
             codes: Annotated[list[str] | None, Form()] = None, consent_date: Annotated[str, Form()] = "",
             scope: Annotated[str, Form()] = "", csrf_token: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, csrf_token)
    values = {"code": code, "sex": sex, "birth_year": birth_year, "site": site, "codes": codes or [],
              "consent_date": consent_date, "scope": scope}
    try:
        if not principal.can("consent.write"):
            raise ValidationFailed("recording a consent needs the consent.write permission")
        service.register_participant_with_consent(
            db, code.strip(), sex=sex, birth_year=_year(birth_year), site=site.strip(), duo_codes=codes or [],
            consent_date=_date(consent_date), scope=scope.strip(), actor=principal.username)
    except LifeBankError as exc:
        return _form_page(request, status_code=422, error=exc, values=values)
    return RedirectResponse(f"/biobank/participants/{code.strip()}?done=registered", status_code=303)


def _participant_page(request: Request, db: DbDep, principal: Principal, code: str, status_code: int = 200,
                      **context: object) -> Response:
    view = service.participant_view(db, code)
    specimens: list[dict[str, object]] = []
    if principal.can_within("specimen.read"):
        scope = principal.scope_of("specimen.read")
        flt = service.SpecimenFilter(participant=code, scope=scope)
        total, specimens = service.search_specimens(db, flt, limit=200, with_total=scope is not None)
        if scope is not None:  # a collection grant: the tubes kept elsewhere are not counted either
            view = {**view, "specimens": total or 0}
    return render(request, "biobank/participant.html", status_code=status_code, p=view, specimens=specimens,
                  duo_terms=consent_choices(), can_consent=principal.can("consent.write"),
                  can_see_specimens=principal.can_within("specimen.read"), today=date.today().isoformat(),
                  done=request.query_params.get("done"), **context)


@router.get("/participants/{code}", response_class=HTMLResponse)
def participant_page(request: Request, code: str, db: DbDep, principal: Reader) -> Response:
    participant_in_scope(db, principal, code)
    return _participant_page(request, db, principal, code, error=None)


@router.post("/participants/{code}/consents", response_class=HTMLResponse)
def new_consent(request: Request, code: str, db: DbDep, principal: ConsentWriter,
                codes: Annotated[list[str] | None, Form()] = None, consent_date: Annotated[str, Form()] = "",
                scope: Annotated[str, Form()] = "", csrf_token: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, csrf_token)
    try:
        service.record_consent(db, code, duo_codes=codes or [], consent_date=_date(consent_date),
                               scope=scope.strip(), actor=principal.username)
    except LifeBankError as exc:
        return _participant_page(request, db, principal, code, status_code=422, error=exc)
    return RedirectResponse(f"/biobank/participants/{code}?done=consent", status_code=303)


@router.get("/participants/{code}/withdraw", response_class=HTMLResponse)
def withdrawal_preview(request: Request, code: str, db: DbDep, principal: ConsentWriter) -> Response:
    return render(request, "biobank/withdrawal.html", preview=service.withdrawal_preview(db, code), error=None,
                  reason="")


@router.post("/participants/{code}/withdraw", response_class=HTMLResponse)
def withdraw(request: Request, code: str, db: DbDep, principal: ConsentWriter,
             reason: Annotated[str, Form()] = "", confirm: Annotated[str, Form()] = "",
             csrf_token: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, csrf_token)
    try:
        if confirm != "yes":
            raise ValidationFailed("tick the confirmation to withdraw the consent")
        service.withdraw_consent(db, code, reason=reason.strip(), actor=principal.username)
    except LifeBankError as exc:
        return render(request, "biobank/withdrawal.html", status_code=422, preview=service.withdrawal_preview(db, code),
                      error=exc, reason=reason)
    return RedirectResponse(f"/biobank/participants/{code}?done=withdrawn", status_code=303)
