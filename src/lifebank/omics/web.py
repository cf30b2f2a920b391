"""Pages of the variant store: the region/gene variant browser with its AF plot, and the cohort builder."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup

from lifebank.auth.service import Principal
from lifebank.errors import LifeBankError
from lifebank.omics import service
from lifebank.omics.af_plot import af_svg
from lifebank.omics.regions import Region, parse_region
from lifebank.web.csrf import check_csrf
from lifebank.web.deps import DbDep, SettingsDep
from lifebank.web.templating import NavItem, gettext_for, render
from lifebank.web.ui import page_requires

router = APIRouter(include_in_schema=False)
NAV = [
    NavItem("Variants", "/omics/variants", "omics.read", 40),
    NavItem("Cohorts", "/omics/cohorts", "cohort.read", 45),
]
MAX_ROWS = 500
CRITERIA_FIELDS = ("consent_code", "sex", "site", "specimen_type", "specimen_status", "min_quantity", "dataset",
                   "variant", "gene", "region", "max_af")


@router.get("/omics/variants", response_class=HTMLResponse)
def variant_browser(
    request: Request, db: DbDep, settings: SettingsDep,
    _p: Annotated[Principal, Depends(page_requires("omics.read"))],
    region: str = "", gene: str = "", dataset: str = "", cohort: str = "",
) -> Response:
    _ = gettext_for(request)
    datasets = service.list_datasets(db)
    error, rows, counts, plots, total = None, [], [], [], 0
    regions: list[Region] = []
    try:
        if gene.strip():
            regions = service.gene_regions(gene)
        elif region.strip():
            regions = [parse_region(region)]
        for reg in regions:
            n, found = service.variants_in_region(db, settings.data_dir, reg, dataset=dataset or None,
                                                  limit=MAX_ROWS)
            total += n
            rows += found
            reg_counts = service.allele_counts(db, settings.data_dir, reg, dataset=dataset or None,
                                               cohort=cohort or None)
            counts += reg_counts
            if reg_counts:
                low = reg.start if reg.end - reg.start < 50_000_000 else min(c.pos for c in reg_counts)
                high = reg.end if reg.end - reg.start < 50_000_000 else max(c.pos for c in reg_counts)
                plots.append(Markup(af_svg(reg_counts, low, high, title=_("Allele frequency in %(region)s")
                                           % {"region": str(reg)})))
    except LifeBankError as exc:
        error = exc.detail
    af_of = {(c.chrom, c.pos, c.ref, c.alt): c for c in counts}
    for row in rows:
        row["count"] = af_of.get((row["chrom"], row["pos"], row["ref"], row["alt"]))
    return render(request, "omics/variants.html", status_code=422 if error else 200, datasets=datasets,
                  region=region, gene=gene, dataset=dataset, cohort=cohort, cohorts=service.list_cohorts(db),
                  regions=regions, rows=rows, total=total, plots=plots, error=error, max_rows=MAX_ROWS)


def _criteria_from_form(form: dict[str, str]) -> service.CohortCriteria:
    return service.CohortCriteria.from_dict({k: form.get(k, "").strip() for k in CRITERIA_FIELDS})


@router.get("/omics/cohorts", response_class=HTMLResponse)
def cohort_builder(request: Request, db: DbDep, _p: Annotated[Principal, Depends(page_requires("cohort.read"))],
                   ) -> Response:
    return render(request, "omics/cohorts.html", cohorts=service.list_cohorts(db), datasets=service.list_datasets(db),
                  form={}, preview=None, error=None)


@router.post("/omics/cohorts/preview", response_class=HTMLResponse)
async def cohort_preview(request: Request, db: DbDep, settings: SettingsDep,
                         _p: Annotated[Principal, Depends(page_requires("cohort.read"))]) -> Response:
    form = {k: str(v) for k, v in (await request.form()).items()}
    check_csrf(request, form.get("csrf_token"))
    error, members = None, None
    try:
        members = service.preview_cohort(db, settings.data_dir, _criteria_from_form(form))
    except LifeBankError as exc:
        error = exc.detail
    return render(request, "omics/_preview.html", status_code=422 if error else 200, members=members, error=error)


@router.post("/omics/cohorts", response_class=HTMLResponse)
async def cohort_save(request: Request, db: DbDep, settings: SettingsDep,
                      principal: Annotated[Principal, Depends(page_requires("cohort.write"))]) -> Response:
    form = {k: str(v) for k, v in (await request.form()).items()}
    check_csrf(request, form.get("csrf_token"))
    name = form.get("name", "").strip()
    try:
        service.save_cohort(db, settings.data_dir, name, _criteria_from_form(form), actor=principal.username)
    except LifeBankError as exc:
        return render(request, "omics/cohorts.html", status_code=422, cohorts=service.list_cohorts(db),
                      datasets=service.list_datasets(db), form=form, preview=None, error=exc.detail)
    from urllib.parse import quote

    return RedirectResponse(f"/omics/cohorts/{quote(name, safe='')}", status_code=303)


@router.get("/omics/cohorts/{name}", response_class=HTMLResponse)
def cohort_page(request: Request, name: str, db: DbDep,
                _p: Annotated[Principal, Depends(page_requires("cohort.read"))]) -> Response:
    return render(request, "omics/cohort.html", cohort=service.get_cohort(db, name))


__all__ = ["NAV", "router"]
