"""Pages of the variant store: the region/gene variant browser with its AF plot, and the cohort builder.

Form mistakes are shown inside the page in the reader's language. The cohort preview is an htmx fragment:
htmx swaps only 2xx answers, so a refused preview answers 200 with the error in the fragment (a 422 would
leave the old preview on screen and the user with no message).
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup

from lifebank.access import coverage
from lifebank.auth.service import Principal
from lifebank.errors import LifeBankError
from lifebank.messages import Msg, label
from lifebank.omics import cohorts, service
from lifebank.omics.af_plot import af_svg
from lifebank.omics.variant_list import COLUMNS, HEADERS, export_rows, variant_list
from lifebank.web.csrf import check_csrf
from lifebank.web.deps import DbDep, SettingsDep
from lifebank.web.exports import export_response, parse_format
from lifebank.web.templating import NavItem, gettext_for, message_text, render
from lifebank.web.ui import page_requires

router = APIRouter(include_in_schema=False)
NAV = [
    NavItem("Variants", "/omics/variants", "omics.read", 40),
    NavItem("Cohorts", "/omics/cohorts", "cohort.read", 45),
]
MAX_ROWS = 500
CRITERIA_FIELDS = tuple(cohorts.CRITERIA_LABELS)


def _query(region: str, gene: str, dataset: str, cohort: str) -> str:
    return urlencode({k: v for k, v in (("region", region), ("gene", gene), ("dataset", dataset),
                                        ("cohort", cohort)) if v})


@router.get("/omics/variants", response_class=HTMLResponse)
def variant_browser(
    request: Request, db: DbDep, settings: SettingsDep,
    _p: Annotated[Principal, Depends(page_requires("omics.read"))],
    region: str = "", gene: str = "", dataset: str = "", cohort: str = "",
) -> Response:
    _ = gettext_for(request)
    datasets = service.list_datasets(db)
    error, found, plots = None, None, []
    try:
        found = variant_list(db, settings.data_dir, region=region, gene=gene, dataset=dataset or None,
                             cohort=cohort or None, limit=MAX_ROWS)
        for reg, reg_counts in zip(found.regions, found.counts, strict=True):
            if not len(reg_counts):
                continue
            low = reg.start if reg.end - reg.start < 50_000_000 else min(c.pos for c in reg_counts)
            high = reg.end if reg.end - reg.start < 50_000_000 else max(c.pos for c in reg_counts)
            plots.append(Markup(af_svg(  # af_svg escapes every text it writes
                reg_counts, low, high, title=_("Allele frequency in %(region)s") % {"region": str(reg)},
                x_title=_("Position on %(contig)s (bp)") % {"contig": reg.chrom},
                y_title=_("Allele frequency"))))
    except LifeBankError as exc:
        error = message_text(request, exc)
    return render(request, "omics/variants.html", status_code=422 if error else 200, datasets=datasets,
                  region=region, gene=gene, dataset=dataset, cohort=cohort, cohorts=cohorts.list_cohorts(db),
                  regions=found.regions if found else [], rows=found.rows if found else [],
                  total=found.total if found else 0, plots=plots, error=error, max_rows=MAX_ROWS,
                  query=_query(region, gene, dataset, cohort))


@router.get("/omics/variants/export")
def variant_export(request: Request, db: DbDep, settings: SettingsDep,
                   _p: Annotated[Principal, Depends(page_requires("omics.read"))],
                   format: str = "csv", region: str = "", gene: str = "", dataset: str = "",
                   cohort: str = "") -> Response:
    """The variant browser's whole list (not only the rows on screen) as CSV or Excel."""
    _ = gettext_for(request)
    fmt = parse_format(format)
    found = variant_list(db, settings.data_dir, region=region, gene=gene, dataset=dataset or None,
                         cohort=cohort or None)
    return export_response(fmt, "variants", COLUMNS, export_rows(found), headers=[_(HEADERS[c]) for c in COLUMNS],
                           sheet="variants")


def _choices(request: Request) -> dict[str, list[tuple[str, str]]]:
    """Select-box options of the choice criteria: (code, "code · label") in the reader's language."""
    language = request.state.locale
    out = {}
    for key, kind in cohorts.CHOICE_FIELDS.items():
        options = []
        for code in cohorts.allowed_codes(kind):
            text = label(kind, code, language)
            options.append((code, text if text == code or key == "sex" else f"{code} · {text}"))
        out[key] = options
    return out


def _builder(request: Request, db: DbDep, *, form: dict[str, str], error: str | None = None,
             empty: bool = False, status_code: int = 200, deleted: str = "") -> Response:
    return render(request, "omics/cohorts.html", status_code=status_code, cohorts=cohorts.list_cohorts(db),
                  datasets=service.list_datasets(db), form=form, error=error, choices=_choices(request),
                  criteria_text=lambda c: cohorts.criteria_text(c, request.state.locale), empty=empty,
                  deleted=deleted)


def _criteria_from_form(form: dict[str, str]) -> cohorts.CohortCriteria:
    return cohorts.CohortCriteria.from_dict({k: form.get(k, "").strip() for k in CRITERIA_FIELDS})


async def _form(request: Request) -> dict[str, str]:
    form = {k: str(v) for k, v in (await request.form()).items()}
    check_csrf(request, form.get("csrf_token"))
    return form


@router.get("/omics/cohorts", response_class=HTMLResponse)
def cohort_builder(request: Request, db: DbDep, _p: Annotated[Principal, Depends(page_requires("cohort.read"))],
                   deleted: str = "") -> Response:
    return _builder(request, db, form={}, deleted=deleted[:100])


@router.post("/omics/cohorts/preview", response_class=HTMLResponse)
async def cohort_preview(request: Request, db: DbDep, settings: SettingsDep,
                         principal: Annotated[Principal, Depends(page_requires("cohort.read"))]) -> Response:
    form = await _form(request)
    error, members, counts = None, None, None
    try:
        found = cohorts.preview_cohort(db, settings.data_dir, _criteria_from_form(form))
        everyone = [{"participant": m.participant, "vcf_samples": list(m.vcf_samples)} for m in found]
        counts = coverage.member_counts(everyone)
        codes = None if coverage.sees_every_code(principal) else frozenset[str]()
        members = coverage.visible_members(everyone, codes)["members"]
        counts["hidden"] = len(everyone) - len(members)
    except LifeBankError as exc:
        error = message_text(request, exc)
    # 200 even for a refused preview: htmx swaps only 2xx answers (the fragment carries the error).
    # A cohort not saved yet is named by no access request: only a reader of participants sees who is in it.
    return render(request, "omics/_preview.html", members=members, counts=counts, error=error)


@router.post("/omics/cohorts", response_class=HTMLResponse)
async def cohort_save(request: Request, db: DbDep, settings: SettingsDep,
                      principal: Annotated[Principal, Depends(page_requires("cohort.write"))]) -> Response:
    form = await _form(request)
    name = form.get("name", "").strip()
    try:
        cohorts.save_cohort(db, settings.data_dir, name, _criteria_from_form(form), actor=principal.username,
                            allow_empty=form.get("allow_empty") == "yes")
    except LifeBankError as exc:
        empty = isinstance(exc.message, Msg) and exc.message.template == cohorts.EMPTY_COHORT.template
        return _builder(request, db, form=form, error=message_text(request, exc), empty=empty, status_code=422)
    return RedirectResponse(f"/omics/cohorts/{quote(name, safe='')}", status_code=303)


@router.get("/omics/cohorts/{name}", response_class=HTMLResponse)
def cohort_page(request: Request, name: str, db: DbDep,
                principal: Annotated[Principal, Depends(page_requires("cohort.read"))]) -> Response:
    cohort = cohorts.get_cohort(db, name)
    kinds = cohorts.CHOICE_FIELDS
    language = request.state.locale
    criteria = [(label("cohort_criterion", key, language), label(kinds[key], value, language) if key in kinds
                 else value) for key, value in cohort["criteria"].items()]  # type: ignore[attr-defined]
    return render(request, "omics/cohort.html", cohort=coverage.members_for(db, principal, cohort),
                  criteria=criteria, can_delete=principal.can("cohort.write"), quoted=quote(name, safe=""))


@router.get("/omics/cohorts/{name}/export")
def cohort_export(request: Request, name: str, db: DbDep,
                  principal: Annotated[Principal, Depends(page_requires("cohort.read"))],
                  format: str = "csv") -> Response:
    """A cohort's members (participant and VCF samples) as CSV or Excel: those the reader may see."""
    _ = gettext_for(request)
    fmt = parse_format(format)
    members = coverage.members_for(db, principal, cohorts.get_cohort(db, name))["members"]
    return export_response(fmt, f"cohort-{name}", cohorts.MEMBER_COLUMNS, members,  # type: ignore[arg-type]
                           headers=[_("Participant"), _("VCF samples")], sheet="members")


@router.post("/omics/cohorts/{name}/delete", response_class=HTMLResponse)
async def cohort_delete(request: Request, name: str, db: DbDep,
                        principal: Annotated[Principal, Depends(page_requires("cohort.write"))]) -> Response:
    await _form(request)
    cohorts.delete_cohort(db, name, actor=principal.username)
    return RedirectResponse("/omics/cohorts?deleted=" + quote(name, safe=""), status_code=303)


__all__ = ["NAV", "router"]
