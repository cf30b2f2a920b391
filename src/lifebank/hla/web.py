"""Pages of the HLA registry: donor search (patient typing in, ranked donors with a per-locus colour grid).

The form's fields arrive as text and are checked here, so a mistyped URL (`max_mismatches=abc`) is shown in
the form in the reader's language instead of FastAPI's problem+json.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from lifebank.auth.service import Principal
from lifebank.db.base import utcnow
from lifebank.errors import LifeBankError, ValidationFailed
from lifebank.hla import service
from lifebank.hla.search_export import COLUMNS, HEADERS, search_rows
from lifebank.hla.search_report import FORM_ORDER, percent, report_pdf
from lifebank.messages import N_, Msg, register_labels
from lifebank.web.csrf import check_csrf
from lifebank.web.deps import DbDep
from lifebank.web.exports import export_response, parse_format
from lifebank.web.templating import NavItem, gettext_for, message_text, render
from lifebank.web.ui import page_requires

router = APIRouter(prefix="/hla", include_in_schema=False)

NAV: list[NavItem] = [NavItem("Donor search", "/hla/search", "hla.search", 30),
                      NavItem("Saved searches", "/hla/searches", "hla.search", 31)]

PAGE_SIZE = 25
LOCI_CHOICES = {"10": "A,B,C,DRB1,DQB1", "8": "A,B,C,DRB1"}
register_labels("donor_type", {"adult": N_("Adult donor"), "cord": N_("Cord-blood unit")})
register_labels("entity_type", {"hla_donor": N_("HLA donor"), "hla_import": N_("Donor import"),
                                "hla_mac": N_("MAC dictionary"), "hla_release": N_("IPD-IMGT/HLA release"),
                                "hla_frequency_set": N_("Haplotype frequency set"),
                                "hla_saved_search": N_("Saved patient search")})
register_labels("ledger_action", {"hla.donors.import": N_("Donors imported"), "hla.donor.update": N_("Donor changed"),
                                  "hla.donor.delete": N_("Donor removed"),
                                  "hla.macs.load": N_("MAC dictionary loaded"),
                                  "hla.nomenclature.load": N_("IPD-IMGT/HLA release loaded"),
                                  "hla.frequencies.load": N_("Haplotype frequency set loaded"),
                                  "hla.search.save": N_("Patient search saved"),
                                  "hla.search.run": N_("Saved search run again"),
                                  "hla.search.delete": N_("Saved search removed")})


DISPLAY_LOCI = FORM_ORDER  # the form's order


def cell_class(position: dict[str, object]) -> str:
    """Colour of one position in the grid: the confidence, or `untyped`."""
    if position["grade"] == "unknown":
        return "untyped"
    return str(position["confidence"])


def min_probability_of(text: str) -> float | None:
    """The form's minimum P(10/10) in percent (blank: none) as a probability, or ValidationFailed."""
    text = text.strip().rstrip("%").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 100:
        raise ValidationFailed("Minimum P(10/10): {value!r} is not a percentage from 0 to 100", value=text)
    return value / 100


def search_form(max_mismatches: str, loci: str, donor_type: str, page: str) -> tuple[int, str, str | None, int]:
    """The form's choices checked as text: (max mismatches, loci, donor type, page), or ValidationFailed."""
    text = max_mismatches.strip() or "0"
    if not (text.isdigit() and 0 <= int(text) <= 4):
        raise ValidationFailed("Maximum mismatches: {value!r} is not a whole number from 0 to 4", value=max_mismatches)
    if loci not in LOCI_CHOICES:
        raise ValidationFailed("Match loci: {value!r} is not one of 10/10 or 8/8", value=loci)
    if donor_type not in ("", "adult", "cord"):
        raise ValidationFailed("Donor type: {value!r} is not adult or cord", value=donor_type)
    number = page.strip() or "1"
    if not number.isdigit() or int(number) < 1:
        raise ValidationFailed("page {value!r} is not a page number", value=page)
    return int(text), LOCI_CHOICES[loci], donor_type or None, int(number)


@router.get("/search", response_class=HTMLResponse)
def search_page(request: Request, db: DbDep, _p: Annotated[Principal, Depends(page_requires("hla.search"))],
                patient: str = "", max_mismatches: str = "0", loci: str = "10", donor_type: str = "",
                page: str = "1", min_probability: str = "", frequencies: str = "", save_error: str = "") -> Response:
    from lifebank.hla import prediction

    result, error, number = None, None, 1
    sets = [s["name"] for s in prediction.list_sets(db)]
    try:
        mismatches, loci_list, kind, number = search_form(max_mismatches, loci, donor_type, page)
        minimum = min_probability_of(min_probability)
        if frequencies and frequencies not in sets:
            raise ValidationFailed("Frequency set: {value!r} is not loaded", value=frequencies)
        if patient.strip():
            result = service.search(db, patient.strip(), max_mismatches=mismatches, loci=loci_list,
                                    donor_type=kind, limit=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE,
                                    min_probability=minimum, frequencies=frequencies or None)
    except LifeBankError as exc:
        error = message_text(request, exc)
    form = {"patient": patient, "max_mismatches": max_mismatches, "loci": loci, "donor_type": donor_type,
            "min_probability": min_probability, "frequencies": frequencies}
    query = urlencode({"patient": patient.strip(), "max_mismatches": max_mismatches, "loci": loci,
                       "donor_type": donor_type, "min_probability": min_probability, "frequencies": frequencies})
    display = [locus for locus in DISPLAY_LOCI if result and locus in result["loci"]]
    eight = bool(result) and "DQB1" not in result["loci"]
    return render(request, "hla/search.html", status_code=422 if error else 200, result=result, error=error,
                  form=form, page=number, limit=PAGE_SIZE, cell_class=cell_class, query=query, sets=sets,
                  display_loci=display, percent=percent, eight=eight, save_error=save_error,
                  label_of=lambda item: service.match_label(item, result["loci"] if result else ()))


@router.get("/search/export")
def search_export(request: Request, db: DbDep, _p: Annotated[Principal, Depends(page_requires("hla.search"))],
                  patient: str = "", max_mismatches: str = "0", loci: str = "10", donor_type: str = "",
                  format: str = "csv") -> Response:
    """Every donor of the active search (all pages) as CSV or Excel, headers in the reader's language."""
    _ = gettext_for(request)
    fmt = parse_format(format)
    mismatches, loci_list, kind, _page = search_form(max_mismatches, loci, donor_type, "1")
    if not patient.strip():
        raise ValidationFailed(Msg("give the patient's typing (a GL string) to search"))
    rows = search_rows(db, patient.strip(), max_mismatches=mismatches, loci=loci_list, donor_type=kind)
    return export_response(fmt, "donor-search", COLUMNS, rows, headers=[_(HEADERS[c]) for c in COLUMNS],
                           sheet="donors")


@router.get("/search/report")
def search_report(request: Request, db: DbDep, _p: Annotated[Principal, Depends(page_requires("hla.search"))],
                  patient: str = "", max_mismatches: str = "0", loci: str = "10", donor_type: str = "",
                  min_probability: str = "", frequencies: str = "") -> Response:
    """The active search as a printable PDF in the reader's language (the first 100 donors, ranked)."""
    mismatches, loci_list, kind, _page = search_form(max_mismatches, loci, donor_type, "1")
    if not patient.strip():
        raise ValidationFailed(Msg("give the patient's typing (a GL string) to search"))
    minimum = min_probability_of(min_probability)
    result = service.search(db, patient.strip(), max_mismatches=mismatches, loci=loci_list, donor_type=kind,
                            limit=100, min_probability=minimum, frequencies=frequencies or None)
    parameters = [(Msg("Maximum mismatches"), str(mismatches)), (Msg("Match loci"), loci_list),
                  (Msg("Frequency set"), frequencies or result.get("patient_frequencies") or "-")]
    if minimum is not None:
        parameters.append((Msg("Minimum P(10/10)"), percent(minimum)))
    labels = [service.match_label(item, result["loci"]) for item in result["items"]]
    body = report_pdf(result, patient=patient.strip(), parameters=parameters, generated=utcnow(),
                      language=request.state.locale, labels=labels)
    return Response(body, media_type="application/pdf",
                    headers={"Content-Disposition": 'attachment; filename="donor-search-report.pdf"'})


@router.get("/donors/{donor_id}", response_class=HTMLResponse)
def donor_page(request: Request, donor_id: str, db: DbDep,
               _p: Annotated[Principal, Depends(page_requires("hla.read"))]) -> Response:
    """One donor or cord unit as registered: the typing as sent, per locus, and the registry's details.

    Where the header's find box lands for a donor id (a coordinator scans or types it from a search list).
    """
    donor = service.get_donor(db, donor_id)
    def named(locus: str, value: str | None) -> str | None:  # Atlas files send '*01:01' under column A_1
        return f"{locus}{value}" if value and value.startswith("*") else value

    loci = [(locus, named(locus, donor["hla"].get(f"{locus}_1")), named(locus, donor["hla"].get(f"{locus}_2")))
            for locus in ("A", "B", "C", "DRB1", "DQB1", "DPB1")]
    from lifebank.hla import prediction

    imputed = prediction.donor_genotypes(db, donor_id, limit=10)
    born, today = donor["birth_date"], utcnow().date()
    age = None if born is None else today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    return render(request, "hla/donor.html", donor=donor, loci=loci, imputed=imputed, percent=percent, age=age)


SAVED_FIELDS = ("patient", "max_mismatches", "loci", "donor_type", "min_probability", "frequencies")


def _search_url(values: dict[str, str]) -> str:
    return "/hla/search?" + urlencode({k: values.get(k, "") for k in SAVED_FIELDS})


def _saved_parameters(form: dict[str, str]) -> dict[str, object]:
    """A saved search's parameters from the search form's fields (checked like the search itself)."""
    mismatches, loci_list, kind, _page = search_form(form.get("max_mismatches", "0"), form.get("loci", "10"),
                                                     form.get("donor_type", ""), "1")
    return {"max_mismatches": mismatches, "loci": loci_list, "donor_type": kind,
            "min_probability": min_probability_of(form.get("min_probability", "")),
            "frequencies": form.get("frequencies") or None}


def _form_values(parameters: dict[str, object], patient: str) -> dict[str, str]:
    """The search form's fields of a saved search (to open the search page on it)."""
    loci = {v: k for k, v in LOCI_CHOICES.items()}.get(str(parameters.get("loci", "")), "10")
    minimum = parameters.get("min_probability")
    return {"patient": patient, "max_mismatches": str(parameters.get("max_mismatches", 0)), "loci": loci,
            "donor_type": str(parameters.get("donor_type") or ""),
            "min_probability": "" if minimum is None else f"{float(minimum) * 100:g}",  # type: ignore[arg-type]
            "frequencies": str(parameters.get("frequencies") or "")}


@router.get("/searches", response_class=HTMLResponse)
def saved_searches_page(request: Request, db: DbDep,
                        _p: Annotated[Principal, Depends(page_requires("hla.search"))]) -> Response:
    from lifebank.hla import saved_searches

    found = saved_searches.list_saved(db)
    for item in found:
        item["url"] = _search_url(_form_values(item["parameters"], item["patient"]))
    return render(request, "hla/searches.html", searches=found)


@router.post("/searches", response_class=HTMLResponse)
async def save_search(request: Request, db: DbDep,
                      principal: Annotated[Principal, Depends(page_requires("hla.search"))]) -> Response:
    """The search page's "Save this search" form: saves, then shows the saved searches."""
    from lifebank.hla import saved_searches

    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    check_csrf(request, form.get("csrf_token", ""))
    try:
        saved_searches.save(db, form.get("name", ""), form.get("patient", ""), _saved_parameters(form),
                            actor=principal.username)
    except LifeBankError as exc:
        return RedirectResponse(_search_url(form) + "&" + urlencode({"save_error": message_text(request, exc)}),
                                status_code=303)
    return RedirectResponse("/hla/searches", status_code=303)


@router.post("/searches/{search_id}/run")
async def run_saved_search(request: Request, search_id: int, db: DbDep,
                           principal: Annotated[Principal, Depends(page_requires("hla.search"))]) -> Response:
    """Run a saved search again: recorded (when, how many donors), then the search page shows it."""
    from lifebank.hla import saved_searches

    form = await request.form()
    check_csrf(request, str(form.get("csrf_token", "")))
    ran = saved_searches.run(db, search_id, actor=principal.username, limit=1)
    return RedirectResponse(_search_url(_form_values(ran["search"]["parameters"], ran["search"]["patient"])),
                            status_code=303)


@router.post("/searches/{search_id}/delete")
async def delete_saved_search(request: Request, search_id: int, db: DbDep,
                              principal: Annotated[Principal, Depends(page_requires("hla.search"))]) -> Response:
    from lifebank.hla import saved_searches

    form = await request.form()
    check_csrf(request, str(form.get("csrf_token", "")))
    saved_searches.delete(db, search_id, actor=principal.username)
    return RedirectResponse("/hla/searches", status_code=303)
