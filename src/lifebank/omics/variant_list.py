"""The variant list a user asks for (a region, a gene or a variant ID), with AC/AN/AF per site.

One function behind the variant browser, its CSV/xlsx export and the API's export, so the file holds exactly
the list the page shows (the page is cut at MAX_ROWS, the export is not).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from lifebank.db.engine import Database
from lifebank.errors import ValidationFailed
from lifebank.messages import N_
from lifebank.omics import service
from lifebank.omics.allele_counts import AlleleCount, AlleleCounts
from lifebank.omics.regions import Region, parse_region

# Export columns and the headers a reader sees (translated by the caller).
COLUMNS = ("dataset", "chrom", "pos", "id", "ref", "alt", "qual", "filter", "ac", "an", "af")
HEADERS = {"dataset": N_("Dataset"), "chrom": N_("Contig"), "pos": N_("Position"), "id": "ID", "ref": "REF",
           "alt": "ALT", "qual": "QUAL", "filter": N_("Filter"), "ac": "AC", "an": "AN", "af": "AF"}


@dataclass(slots=True)
class VariantList:
    regions: list[Region] = field(default_factory=list)
    total: int = 0
    rows: list[dict[str, object]] = field(default_factory=list)
    counts: list[AlleleCounts] = field(default_factory=list)  # per region, for the AF plot


def query_regions(db: Database, *, region: str = "", gene: str = "", dataset: str | None = None) -> list[Region]:
    """The region(s) a query names: a region or a gene, not both (a gene would silently replace the region)."""
    region, gene = region.strip(), gene.strip()
    if region and gene:
        raise ValidationFailed("give a region or a gene, not both: the gene's own region would replace "
                               "{region}", region=region)
    if gene:
        return service.gene_regions_in_data(db, gene, dataset)
    if region:
        return [parse_region(region)]
    return []


def variant_list(db: Database, data_dir: Path, *, region: str = "", gene: str = "", variant_id: str = "",
                 dataset: str | None = None, cohort: str | None = None, limit: int | None = None) -> VariantList:
    """Sites with their AC/AN/AF (over every sample, or a saved cohort's); `limit` rows per region at most."""
    out = VariantList()
    if variant_id.strip():
        if region.strip() or gene.strip():
            raise ValidationFailed("give one of region, gene or variant ID")
        rows = service.variants_by_id(db, data_dir, variant_id, dataset=dataset)
        out.total, out.rows = len(rows), rows
        sites = [Region(str(r["chrom"]), int(str(r["pos"])), int(str(r["pos"]))) for r in rows]
        _attach_counts(db, data_dir, out, sites, dataset, cohort, plot=False)
        return out
    out.regions = query_regions(db, region=region, gene=gene, dataset=dataset)
    for reg in out.regions:
        n, found = service.variants_in_region(db, data_dir, reg, dataset=dataset, limit=limit)
        out.total += n
        out.rows += found
    _attach_counts(db, data_dir, out, out.regions, dataset, cohort, plot=True)
    return out


def _attach_counts(db: Database, data_dir: Path, out: VariantList, regions: list[Region], dataset: str | None,
                   cohort: str | None, *, plot: bool) -> None:
    af_of: dict[tuple[object, ...], AlleleCount] = {}
    for reg in dict.fromkeys(regions):
        counts = service.allele_counts(db, data_dir, reg, dataset=dataset, cohort=cohort)
        if plot:
            out.counts.append(counts)
        af_of.update({(c.chrom, c.pos, c.ref, c.alt): c for c in counts})
    for row in out.rows:
        row["count"] = af_of.get((row["chrom"], row["pos"], row["ref"], row["alt"]))


def export_rows(found: VariantList) -> Iterator[dict[str, object]]:
    """Rows for `lifebank.web.exports.export_response`: the site and its AC, AN, AF (empty when unknown)."""
    for row in found.rows:
        count = row.get("count")
        yield {**{k: row.get(k) for k in COLUMNS[:8]},
               "ac": count.ac if isinstance(count, AlleleCount) else None,
               "an": count.an if isinstance(count, AlleleCount) else None,
               "af": count.af_text if isinstance(count, AlleleCount) and count.an else None}
