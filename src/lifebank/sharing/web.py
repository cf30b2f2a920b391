"""Pages of data sharing: the public Beacon query page, the export page for managers, "my exports" for
recipients; and the Beacon API itself, mounted at `/api/beacon/v2` (the framework fixes its paths).

The Beacon page asks the same `answers.answer` the API does, as the logged-in user or anonymously, so the
answer comes at that caller's granularity, counts under the threshold stay hidden, and the page's variant
questions draw on the same budget (a page is no way around the defence).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse

from lifebank.auth.service import Principal
from lifebank.errors import LifeBankError
from lifebank.messages import N_, Msg
from lifebank.sharing import answers, beacon, exports
from lifebank.sharing.beacon_api import router as beacon_router
from lifebank.sharing.export_formats import FORMATS
from lifebank.sharing.request import BeaconRequestError, from_query
from lifebank.sharing.terms import AVAILABLE, ORIGIN_TERMS, SEX_TERMS
from lifebank.web.csrf import check_csrf
from lifebank.web.deps import DbDep, optional_principal
from lifebank.web.templating import NavItem, render
from lifebank.web.ui import page_requires

router = APIRouter(include_in_schema=False)
# The Beacon API: matched before every other route (`lifebank.web.app`), its paths being its own.
FIRST_ROUTER = beacon_router

# The "Sharing" area (with access requests): the Beacon page for every logged-in user (anonymous visitors have
# no navigation; the page is public), exports for export managers, "my exports" for recipients.
NAV: list[NavItem] = [NavItem(N_("Beacon"), "/beacon", None, 32),
                      NavItem(N_("Exports"), "/sharing/exports", "share.export", 33),
                      NavItem(N_("My exports"), "/sharing/my-exports", "share.receive", 34)]
ENTRIES = ("individuals", "biosamples", "g_variants")
CONSENT_TERMS = (("DUO:0000042", "GRU"), ("DUO:0000006", "HMB"), ("DUO:0000007", "DS"), ("DUO:0000011", "POA"),
                 ("DUO:0000046", "NCU"))


def _beacon_query(form: dict[str, str]) -> dict[str, str]:
    """The page's fields as Beacon GET parameters; the position is 1-based as people and VCFs write it."""
    query: dict[str, str] = {"requestedGranularity": form["granularity"] or "boolean"}
    filters = [form[k] for k in ("sex", "origin", "consent") if form[k]]
    if form["available"]:
        filters.append(AVAILABLE)
    if filters:
        query["filters"] = ",".join(filters)
    if form["gene"]:
        query["geneId"] = form["gene"]
    if form["chrom"] or form["position"]:
        query["referenceName"] = form["chrom"]
        position = form["position"].replace(",", "").strip()
        query["start"] = str(int(position) - 1) if position.isdigit() and int(position) > 0 else position
        if form["alt"]:
            query["alternateBases"] = form["alt"]
        if form["ref"]:
            query["referenceBases"] = form["ref"]
    return query


@router.get("/beacon", response_class=HTMLResponse)
def beacon_page(request: Request, db: DbDep, entry: str = "individuals", chrom: str = "", position: str = "",
                ref: str = "", alt: str = "", gene: str = "", sex: str = "", origin: str = "", consent: str = "",
                available: str = "", granularity: str = "count", ask: str = "") -> HTMLResponse:
    """Public: anyone may ask; what comes back depends on who asks."""
    try:
        principal = optional_principal(request)
    except LifeBankError:
        principal = None
    form = {"entry": entry if entry in ENTRIES else "individuals", "chrom": chrom.strip(),
            "position": position.strip(), "ref": ref.strip().upper(), "alt": alt.strip().upper(),
            "gene": gene.strip(), "sex": sex, "origin": origin, "consent": consent, "available": available,
            "granularity": granularity if granularity in ("boolean", "count", "record") else "count"}
    result: dict[str, Any] | None = None
    error: str | None = None
    if ask:
        caller = beacon.caller_of(db, principal.username if principal else None,
                                  request.client.host if request.client else "unknown")
        try:
            parsed = from_query(_beacon_query(form))
            result = answers.answer(db, request.app.state.settings.data_dir, caller, form["entry"], parsed)
        except BeaconRequestError as exc:
            error = exc.message.render(request.state.locale)
        except LifeBankError as exc:
            error = exc.render(request.state.locale)
    sets = (result or {}).get("response", {}).get("resultSets", [])
    return render(request, "sharing/beacon.html", status_code=422 if error and ask else 200, form=form,
                  result=result, error=error, sets=sets, entries=ENTRIES, sexes=list(SEX_TERMS.values()),
                  origins=sorted({term: label for term, label in ORIGIN_TERMS.values()}.items()),
                  consents=CONSENT_TERMS, signed_in=principal is not None,
                  can_export=bool(principal and principal.can("share.export")),
                  can_receive=bool(principal and principal.can("share.receive")))


def _exports_page(request: Request, db: DbDep, *, message: Msg | None = None, error: str | None = None,
                  status: int = 200) -> HTMLResponse:
    return render(request, "sharing/exports.html", status_code=status, exports=exports.list_exports(db),
                  releases=beacon.grants(db), datasets=list(beacon.levels(db)), formats=FORMATS,
                  message=message, error=error)


@router.get("/sharing/exports", response_class=HTMLResponse)
def exports_page(request: Request, db: DbDep,
                 _p: Annotated[Principal, Depends(page_requires("share.export"))]) -> HTMLResponse:
    return _exports_page(request, db)


@router.post("/sharing/exports", response_class=HTMLResponse)
def export_form(request: Request, db: DbDep, principal: Annotated[Principal, Depends(page_requires("share.export"))],
                csrf_token: Annotated[str, Form()] = "", source: Annotated[str, Form()] = "release",
                source_id: Annotated[str, Form()] = "", fmt: Annotated[str, Form(alias="format")] = "csv",
                dataset: Annotated[str, Form()] = "biobank", k: Annotated[str, Form()] = "5") -> HTMLResponse:
    check_csrf(request, csrf_token)
    try:
        if not source_id.strip().isdigit():
            raise BeaconRequestError(Msg("give the number of a release or an approved access request"))
        if not k.strip().isdigit():
            raise BeaconRequestError(Msg("k must be a whole number"))
        number = int(source_id)
        origin = exports.from_request(db, number, dataset) if source == "request" else \
            exports.from_release(db, number)
        done = exports.export(db, request.app.state.settings.data_dir, origin, fmt, actor=principal.username,
                              k=int(k))
    except BeaconRequestError as exc:
        return _exports_page(request, db, error=exc.message.render(request.state.locale), status=422)
    except LifeBankError as exc:
        return _exports_page(request, db, error=exc.render(request.state.locale), status=422)
    return _exports_page(request, db, message=Msg(
        "export {id} written for {recipient}: {rows} participants, {suppressed} suppressed", id=done["id"],
        recipient=done["recipient"], rows=done["rows"], suppressed=done["report"]["suppressed"]))


@router.post("/sharing/releases", response_class=HTMLResponse)
def release_form(request: Request, db: DbDep, principal: Annotated[Principal, Depends(page_requires("share.export"))],
                 csrf_token: Annotated[str, Form()] = "", dataset: Annotated[str, Form()] = "",
                 username: Annotated[str, Form()] = "", purposes: Annotated[str, Form()] = "",
                 reason: Annotated[str, Form()] = "") -> HTMLResponse:
    check_csrf(request, csrf_token)
    try:
        grant_id = beacon.grant_records(db, dataset, username.strip(), purposes=purposes, actor=principal.username,
                                        reason=reason)
    except LifeBankError as exc:
        return _exports_page(request, db, error=exc.render(request.state.locale), status=422)
    return _exports_page(request, db, message=Msg("release {id}: {user} may read records of {dataset}",
                                                  id=grant_id, user=username.strip(), dataset=dataset))


@router.get("/sharing/my-exports", response_class=HTMLResponse)
def my_exports(request: Request, db: DbDep,
               principal: Annotated[Principal, Depends(page_requires("share.receive"))]) -> HTMLResponse:
    return render(request, "sharing/my_exports.html", exports=exports.list_exports(db, recipient=principal.username))
