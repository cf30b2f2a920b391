"""`/api/v1/omics`: the variant store over HTTP (same use cases as the CLI)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, UploadFile
from fastapi.responses import PlainTextResponse, StreamingResponse
from pydantic import BaseModel, Field

from lifebank.access import coverage
from lifebank.auth.service import Principal
from lifebank.errors import ValidationFailed
from lifebank.omics import cohorts as cohort_service
from lifebank.omics import service
from lifebank.omics.variant_list import COLUMNS, export_rows, variant_list
from lifebank.web.deps import DbDep, SettingsDep, require
from lifebank.web.exports import ExportFormat, export_response
from lifebank.web.pagination import Page, PageParams, page_params

router = APIRouter(prefix="/omics", tags=["omics"])
Reader = Annotated[Principal, Depends(require("omics.read"))]
Writer = Annotated[Principal, Depends(require("omics.write"))]
CohortReader = Annotated[Principal, Depends(require("cohort.read"))]
CohortWriter = Annotated[Principal, Depends(require("cohort.write"))]


class AlleleCountOut(BaseModel):
    CHROM: str
    POS: int
    REF: str
    ALT: str
    AC: int
    AN: int
    AF: float | None = Field(description="AC/AN as a 32-bit float; null when AN is 0 (bcftools writes '.')")


class SamplesIn(BaseModel):
    region: str
    dataset: str | None = None
    samples: list[str] | None = None
    cohort: str | None = None


class CohortIn(BaseModel):
    name: str
    criteria: dict[str, Any]
    allow_empty: bool = Field(False, description="save even when no one meets the criteria (refused otherwise)")


@router.get("/datasets", summary="Datasets with their genome build and size")
def datasets(db: DbDep, _p: Reader) -> list[dict[str, object]]:
    return service.list_datasets(db)


@router.get("/datasets/{name}", summary="A dataset's batches and files with their SHA-256")
def dataset(name: str, db: DbDep, _p: Reader) -> dict[str, object]:
    return service.dataset_detail(db, name)


@router.get("/datasets/{name}/samples", summary="VCF samples and their biobank links (participant codes only to "
            "readers of participants or under an approved data request; others see whether a sample is linked)")
def dataset_samples(name: str, db: DbDep, principal: Reader) -> list[dict[str, object]]:
    return coverage.sample_map_for(db, principal, service.list_samples(db, name))


@router.post("/datasets/{name}/imports", status_code=201, summary="Import a VCF/BCF as a new batch (all or nothing)")
def import_file(
    name: str, db: DbDep, settings: SettingsDep, principal: Writer,
    file: Annotated[UploadFile, File(description="VCF or BCF, plain or bgzipped")],
    genome_build: Annotated[str, Form()] = "GRCh38",
    sample_map: Annotated[UploadFile | None, File(description="CSV vcf_sample,participant,specimen_barcode")] = None,
) -> Any:
    mapping = sample_map.file.read().decode("utf-8") if sample_map is not None else None
    suffix = "".join(Path(file.filename or "upload.vcf").suffixes[-2:]) or ".vcf"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{Path(file.filename or 'upload').name.split('.')[0] or 'upload'}{suffix}"
        with path.open("wb") as out:
            while chunk := file.file.read(1 << 20):
                out.write(chunk)
        result = service.import_vcf(db, settings.data_dir, path, dataset=name, actor=principal.username,
                                    genome_build=genome_build, sample_map=mapping)
    return result.as_dict()


@router.get("/variants", summary="Variants in a region, with an ID, or in a gene")
def variants(
    db: DbDep, settings: SettingsDep, _p: Reader, page: Annotated[PageParams, Depends(page_params)],
    region: str | None = None, id: Annotated[str | None, Query(description="e.g. rs123")] = None,
    gene: str | None = None, dataset: str | None = None,
) -> Page[dict[str, object]]:
    if sum(x is not None for x in (region, id, gene)) != 1:
        raise ValidationFailed("give exactly one of region, id, gene")
    if region is not None:
        total, rows = service.variants_in_region(db, settings.data_dir, region, dataset=dataset, limit=page.limit,
                                                 offset=page.offset)
        return Page(total=total, limit=page.limit, offset=page.offset, items=rows)
    if id is not None:
        rows = service.variants_by_id(db, settings.data_dir, id, dataset=dataset)
    else:
        _, rows = service.variants_in_gene(db, settings.data_dir, gene or "", dataset=dataset)
    return Page(total=len(rows), limit=page.limit, offset=page.offset,
                items=rows[page.offset:page.offset + page.limit])


@router.get("/variants/export", summary="The whole variant list of a region, gene or ID as CSV or xlsx")
def variants_export(db: DbDep, settings: SettingsDep, _p: Reader, format: ExportFormat = ExportFormat.csv,
                    region: str | None = None, id: Annotated[str | None, Query(description="e.g. rs123")] = None,
                    gene: str | None = None, dataset: str | None = None,
                    cohort: Annotated[str | None, Query(description="AC/AN/AF over this cohort")] = None,
                    ) -> StreamingResponse:
    if sum(x is not None for x in (region, id, gene)) != 1:
        raise ValidationFailed("give exactly one of region, id, gene")
    found = variant_list(db, settings.data_dir, region=region or "", gene=gene or "", variant_id=id or "",
                         dataset=dataset, cohort=cohort)
    return export_response(format, "variants", COLUMNS, export_rows(found), sheet="variants")


@router.get("/af", summary="AC/AN/AF per biallelic site over every sample or a saved cohort")
def af(db: DbDep, settings: SettingsDep, _p: Reader, region: str, dataset: str | None = None,
       cohort: str | None = None) -> list[AlleleCountOut]:
    counts = service.allele_counts(db, settings.data_dir, region, dataset=dataset, cohort=cohort)
    return [AlleleCountOut(CHROM=c.chrom, POS=c.pos, REF=c.ref, ALT=c.alt, AC=c.ac, AN=c.an, AF=c.af)
            for c in counts]


@router.post("/af", summary="AC/AN/AF over an explicit list of VCF samples")
def af_subset(body: SamplesIn, db: DbDep, settings: SettingsDep, _p: Reader) -> list[AlleleCountOut]:
    counts = service.allele_counts(db, settings.data_dir, body.region, dataset=body.dataset, samples=body.samples,
                                   cohort=body.cohort)
    return [AlleleCountOut(CHROM=c.chrom, POS=c.pos, REF=c.ref, ALT=c.alt, AC=c.ac, AN=c.an, AF=c.af)
            for c in counts]


@router.post("/genotypes", summary="Non-reference calls and no-calls of given samples in a region")
def genotypes(body: SamplesIn, db: DbDep, settings: SettingsDep, _p: Reader) -> list[dict[str, object]]:
    from lifebank.omics.vcf_export import genotype_text

    rows = service.genotypes(db, settings.data_dir, body.region, dataset=body.dataset, samples=body.samples)
    for row in rows:
        row["gt"] = genotype_text(int(row["a1"]), int(row["a2"]), bool(row["phased"]))  # type: ignore[arg-type]
    return rows


@router.post("/export", response_class=PlainTextResponse, summary="A region of a dataset as VCF")
def export(body: SamplesIn, db: DbDep, settings: SettingsDep, _p: Reader) -> PlainTextResponse:
    if body.dataset is None:
        raise ValidationFailed("dataset is required for an export")
    text = service.export_vcf(db, settings.data_dir, body.region, dataset=body.dataset, samples=body.samples)
    return PlainTextResponse(text, media_type="text/vcf")


@router.get("/cohorts", summary="Saved cohorts")
def cohorts(db: DbDep, _p: CohortReader) -> list[dict[str, object]]:
    return cohort_service.list_cohorts(db)


@router.get("/cohorts/{name}", summary="A cohort's criteria, size, member counts and the members the reader may "
            "see (all with participant.read; under an approved data request its eligible members; else none)")
def cohort(name: str, db: DbDep, principal: CohortReader) -> dict[str, object]:
    return coverage.members_for(db, principal, cohort_service.get_cohort(db, name))


@router.get("/cohorts/{name}/members/export", summary="A cohort's members (those the reader may see) as CSV or xlsx")
def cohort_members_export(name: str, db: DbDep, principal: CohortReader,
                          format: ExportFormat = ExportFormat.csv) -> StreamingResponse:
    members = coverage.members_for(db, principal, cohort_service.get_cohort(db, name))["members"]
    return export_response(format, f"cohort-{name}", cohort_service.MEMBER_COLUMNS,
                           members, sheet="members")  # type: ignore[arg-type]


@router.delete("/cohorts/{name}", summary="Delete a saved cohort (ledgered with its criteria, size and digest)")
def cohort_delete(name: str, db: DbDep, principal: CohortWriter) -> dict[str, object]:
    return cohort_service.delete_cohort(db, name, actor=principal.username)


@router.post("/cohorts/preview", summary="Members a set of criteria selects (nothing saved; counts only "
             "without participant.read)")
def cohort_preview(body: CohortIn, db: DbDep, settings: SettingsDep, principal: CohortReader) -> dict[str, object]:
    criteria = cohort_service.CohortCriteria.from_dict(body.criteria)
    found = [{"participant": m.participant, "vcf_samples": list(m.vcf_samples)}
             for m in cohort_service.preview_cohort(db, settings.data_dir, criteria)]
    # A cohort not yet saved is named by no request: only a reader of participants sees who is in it.
    codes = None if coverage.sees_every_code(principal) else frozenset[str]()
    return {"size": len(found), **coverage.member_counts(found), **coverage.visible_members(found, codes)}


@router.post("/cohorts", status_code=201, summary="Build a cohort and save it by name")
def cohort_create(body: CohortIn, db: DbDep, settings: SettingsDep, principal: CohortWriter) -> dict[str, object]:
    criteria = cohort_service.CohortCriteria.from_dict(body.criteria)
    cohort_service.save_cohort(db, settings.data_dir, body.name, criteria, actor=principal.username,
                               allow_empty=body.allow_empty)
    return coverage.members_for(db, principal, cohort_service.get_cohort(db, body.name.strip()))
