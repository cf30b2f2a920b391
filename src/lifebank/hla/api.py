"""HTTP API of the HLA registry (mounted under /api/v1/hla): parse the request, call the service, shape the answer."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, Field

from lifebank.auth.service import Principal
from lifebank.errors import ValidationFailed
from lifebank.hla import service
from lifebank.hla.search_export import COLUMNS, search_rows
from lifebank.web.deps import DbDep, require
from lifebank.web.exports import ExportFormat, export_response
from lifebank.web.pagination import PageParams, page_params

router = APIRouter(prefix="/hla", tags=["hla"])

Reader = Annotated[Principal, Depends(require("hla.read"))]
Searcher = Annotated[Principal, Depends(require("hla.search"))]
Writer = Annotated[Principal, Depends(require("hla.write"))]
Paging = Annotated[PageParams, Depends(page_params)]
MAX_UPLOAD = 256 * 1024 * 1024


class GradeIn(BaseModel):
    patient: str = Field(min_length=1, description="patient GL string")
    donor: str = Field(min_length=1, description="donor GL string")


class SearchIn(BaseModel):
    patient: str = Field(min_length=1, description="patient GL string (A, B and DRB1 at least)")
    max_mismatches: int = Field(0, ge=0, le=4)
    loci: list[Literal["A", "B", "C", "DRB1", "DQB1"]] | None = Field(
        None, description="match loci; default 10/10 (A, B, C, DRB1, DQB1); 8/8 = A, B, C, DRB1")
    locus_caps: dict[str, int] = Field(default_factory=dict, description="maximum mismatches per locus")
    donor_type: Literal["adult", "cord"] | None = None
    limit: int = Field(20, ge=1, le=1000)
    offset: int = Field(0, ge=0)
    frequencies: str | None = Field(None, description="frequency set for patient and donors (default per person)")
    min_probability: float | None = Field(None, ge=0, le=1, description="minimum P(10/10) (8/8 search: P(8/8))")
    patient_population: str | None = Field(None, description="the patient's population, to choose a set")


class PredictIn(BaseModel):
    patient: str = Field(min_length=1, description="patient GL string")
    donor: str = Field(min_length=1, description="donor GL string")
    frequencies: str | None = Field(None, description="frequency set for both sides (default per person)")


class SavedSearchIn(BaseModel):
    name: str = Field(min_length=1, max_length=128)
    patient: str = Field(min_length=1, description="patient GL string")
    max_mismatches: int = Field(0, ge=0, le=4)
    loci: str | None = Field(None, description="comma-separated match loci, default A,B,C,DRB1,DQB1")
    donor_type: Literal["adult", "cord"] | None = None
    min_probability: float | None = Field(None, ge=0, le=1)
    frequencies: str | None = None


class MacsIn(BaseModel):
    content: str = Field(min_length=1, description="the dictionary file: NMDP numer.v3.txt or Atlas CSV layout")


class ReleaseIn(BaseModel):
    folder: str = Field(min_length=1, description="an IPD-IMGT/HLA release folder on the server")


@router.get("/alleles/{name}")
def allele(name: str, db: DbDep, _: Reader) -> dict[str, Any]:
    """One allele name (full or truncated) in the loaded IPD-IMGT/HLA release: G and P groups, ARD two-field name
    (lgx), expressed antigens, serological equivalents (as py-ard reduces them), DPB1 TCE; or, for a deleted name,
    IMGT's current name."""
    return service.describe_allele(db, name)


@router.post("/grade")
def grade(body: GradeIn, db: DbDep, _: Searcher) -> dict[str, Any]:
    """Grade one patient-donor pair: mismatch count, per-locus grades, confidence, antigen match, DPB1 TCE."""
    return service.grade(db, body.patient, body.donor)


@router.post("/search")
def search(body: SearchIn, db: DbDep, _: Searcher) -> dict[str, Any]:
    """Ranked donors (match count, grade, confidence, cord cell dose); each result explains every locus."""
    return service.search(db, body.patient, max_mismatches=body.max_mismatches, loci=body.loci,
                          donor_type=body.donor_type, limit=body.limit, offset=body.offset,
                          locus_caps=body.locus_caps, frequencies=body.frequencies,
                          min_probability=body.min_probability, patient_population=body.patient_population)


@router.post("/predict")
def predict(body: PredictIn, db: DbDep, _: Searcher) -> dict[str, Any]:
    """Match probabilities of one pair from haplotype frequencies: P(10/10), P(9/10) (exactly one mismatch),
    P(8/8), P(7/8), per locus P(0, 1, 2 mismatches); null where no frequency set explains a typing."""
    from lifebank.hla import prediction

    return prediction.predict(db, body.patient, body.donor, frequencies=body.frequencies)


@router.get("/frequencies")
def frequency_sets(db: DbDep, _: Reader) -> list[dict[str, Any]]:
    """Built-in and loaded haplotype frequency sets."""
    from lifebank.hla import prediction

    return prediction.list_sets(db)


@router.get("/donors/{donor_id}/genotypes")
def donor_genotypes(donor_id: str, db: DbDep, _: Reader) -> dict[str, Any]:
    """The genotypes (haplotype pairs) the donor's typing is consistent with, most likely first."""
    from lifebank.hla import prediction

    return prediction.donor_genotypes(db, donor_id)


@router.get("/search")
def search_get(db: DbDep, _: Searcher, patient: Annotated[str, Query(min_length=1)],
               max_mismatches: Annotated[int, Query(ge=0, le=4)] = 0,
               loci: Annotated[str | None, Query(description="comma-separated, e.g. A,B,C,DRB1")] = None,
               donor_type: Annotated[Literal["adult", "cord"] | None, Query()] = None,
               limit: Annotated[int, Query(ge=1, le=1000)] = 20,
               offset: Annotated[int, Query(ge=0)] = 0) -> dict[str, Any]:
    """The same search with query parameters (URL-encode `+` and `^` in the GL string)."""
    return service.search(db, patient, max_mismatches=max_mismatches, loci=loci, donor_type=donor_type,
                          limit=limit, offset=offset)


@router.get("/search/export")
def search_export(db: DbDep, _: Searcher, patient: Annotated[str, Query(min_length=1)],
                  format: ExportFormat = ExportFormat.csv,
                  max_mismatches: Annotated[int, Query(ge=0, le=4)] = 0,
                  loci: Annotated[str | None, Query(description="comma-separated, e.g. A,B,C,DRB1")] = None,
                  donor_type: Annotated[Literal["adult", "cord"] | None, Query()] = None) -> StreamingResponse:
    """Every donor the search finds (all pages, ranked) as CSV or xlsx: rank, donor, match, per-locus grades."""
    rows = search_rows(db, patient, max_mismatches=max_mismatches, loci=loci, donor_type=donor_type)
    return export_response(format, "donor-search", COLUMNS, rows, sheet="donors")


@router.post("/donors/import", status_code=201,
             openapi_extra={"requestBody": {"content": {"text/csv": {"schema": {"type": "string"}}}}})
async def import_donors(request: Request, db: DbDep, principal: Writer,
                        donor_type: Annotated[Literal["adult", "cord"], Query()] = "adult") -> Any:
    """Body: a 12-column HLA CSV/TSV or an `ID%GLSTRING` file. All-or-nothing; errors list every bad row."""
    raw = await request.body()
    if len(raw) > MAX_UPLOAD:
        raise ValidationFailed("file larger than {limit} bytes", limit=f"{MAX_UPLOAD:,}")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationFailed("the file is not UTF-8 text") from None
    result = await run_in_threadpool(service.import_donors, db, text, actor=principal.username, donor_type=donor_type)
    return JSONResponse(result.as_dict(), status_code=201)


@router.get("/donors")
def list_donors(db: DbDep, _: Reader, paging: Paging,
                donor_type: Annotated[Literal["adult", "cord"] | None, Query()] = None) -> dict[str, Any]:
    total, items = service.list_donors(db, limit=paging.limit, offset=paging.offset, donor_type=donor_type)
    return {"total": total, "limit": paging.limit, "offset": paging.offset, "items": items}


@router.get("/donors/{donor_id}")
def get_donor(donor_id: str, db: DbDep, _: Reader) -> dict[str, Any]:
    return service.get_donor(db, donor_id)


@router.patch("/donors/{donor_id}")
def update_donor(donor_id: str, changes: dict[str, str | float | None], db: DbDep, principal: Writer) -> Any:
    """Change typing columns (A_1 ... DRB1_2) or attributes (CellDose, ABO, CMV, RegistryCode, dates)."""
    return service.update_donor(db, donor_id, dict(changes), actor=principal.username)


@router.delete("/donors/{donor_id}", status_code=204)
def delete_donor(donor_id: str, db: DbDep, principal: Writer) -> Response:
    service.delete_donor(db, donor_id, actor=principal.username)
    return Response(status_code=204)


@router.get("/index")
def index_status(db: DbDep, _: Reader) -> dict[str, Any]:
    """Donors indexed, index memory, nomenclature release and MAC dictionary size of this process."""
    return service.index_status(db)


@router.put("/macs")
def load_macs(body: MacsIn, db: DbDep, principal: Writer) -> dict[str, Any]:
    """Replace the MAC dictionary (every typing is re-resolved on the next search)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "macs.txt"
        path.write_text(body.content, encoding="utf-8")
        return service.load_macs(db, path, actor=principal.username)


@router.put("/nomenclature")
def load_nomenclature(body: ReleaseIn, db: DbDep, principal: Writer) -> dict[str, Any]:
    """Switch to another IPD-IMGT/HLA release folder readable by the server."""
    return service.load_nomenclature(db, Path(body.folder), actor=principal.username)


@router.post("/searches", status_code=201)
def save_search(body: SavedSearchIn, db: DbDep, principal: Searcher) -> dict[str, Any]:
    """Keep a patient search (it is run once now; a bad typing is refused) to re-run on demand."""
    from lifebank.hla import saved_searches

    params = body.model_dump(exclude={"name", "patient"})
    return saved_searches.save(db, body.name, body.patient, params, actor=principal.username)


@router.get("/searches")
def saved_search_list(db: DbDep, _: Searcher) -> list[dict[str, Any]]:
    from lifebank.hla import saved_searches

    return saved_searches.list_saved(db)


@router.post("/searches/{search_id}/run")
def run_saved_search(search_id: int, db: DbDep, principal: Searcher,
                     limit: Annotated[int, Query(ge=1, le=1000)] = 20,
                     offset: Annotated[int, Query(ge=0)] = 0) -> dict[str, Any]:
    """Run a saved search against today's registry: `{"search", "previous_total", "result"}`."""
    from lifebank.hla import saved_searches

    return saved_searches.run(db, search_id, actor=principal.username, limit=limit, offset=offset)


@router.delete("/searches/{search_id}", status_code=204)
def delete_saved_search(search_id: int, db: DbDep, principal: Searcher) -> Response:
    from lifebank.hla import saved_searches

    saved_searches.delete(db, search_id, actor=principal.username)
    return Response(status_code=204)
