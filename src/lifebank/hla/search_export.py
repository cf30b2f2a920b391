"""A donor search's whole result list as rows for CSV/xlsx: what the search page shows, every page of it.

The search answers at most 1,000 donors per call, so the export walks the ranked list page by page and
yields rows as it goes (the file streams; the ranking is the search's own).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from lifebank.db.engine import Database
from lifebank.hla import service
from lifebank.messages import N_

PAGE = 1000
LOCI = ("A", "B", "C", "DRB1", "DQB1")
COLUMNS = ("rank", "donor_id", "donor_type", "registry", "match", "mismatch_count", *LOCI, "dpb1_tce",
           "cell_dose", "abo", "cmv", "compared", "p10of10", "p9of10")
HEADERS = {"rank": N_("Rank"), "donor_id": N_("Donor"), "donor_type": N_("Type"), "registry": N_("Registry"),
           "match": N_("Match"), "compared": N_("Loci compared"), "p10of10": "P(10/10)", "p9of10": "P(9/10)",
           "mismatch_count": N_("Mismatches"), "dpb1_tce": "DPB1 TCE",
           "cell_dose": N_("Cell dose"), "abo": "ABO", "cmv": "CMV", **{locus: locus for locus in LOCI}}


def _locus_text(grade: dict[str, Any] | None) -> str:
    """`exact/mismatch` for the two positions of a locus; `untyped` when the donor has no typing there."""
    if grade is None:
        return ""
    if grade["untyped"]:
        return "untyped"
    return "/".join(p["grade"] for p in grade["positions"])


def search_rows(db: Database, patient: str, *, max_mismatches: int, loci: str | None,
                donor_type: str | None) -> Iterator[dict[str, Any]]:
    """Every donor the search finds, ranked, one row each (validation errors raise before the first row)."""
    first = service.search(db, patient, max_mismatches=max_mismatches, loci=loci, donor_type=donor_type,
                           limit=PAGE, offset=0)
    return _rows(db, first, patient, max_mismatches, loci, donor_type)


def _rows(db: Database, first: dict[str, Any], patient: str, max_mismatches: int, loci: str | None,
          donor_type: str | None) -> Iterator[dict[str, Any]]:
    result, offset, rank = first, 0, 0
    while True:
        for item in result["items"]:
            rank += 1
            yield {"rank": rank, "donor_id": item["donor_id"], "donor_type": item["donor_type"],
                   "registry": item["registry"], "match": item["match"], "compared": item["match_label"],
                   "p10of10": item.get("p10of10"), "p9of10": item.get("p9of10"),
                   "mismatch_count": item["mismatch_count"],
                   **{locus: _locus_text(item["loci"].get(locus)) for locus in LOCI},
                   "dpb1_tce": item["dpb1_tce"], "cell_dose": item["cell_dose"], "abo": item["abo"],
                   "cmv": item["cmv"]}
        offset += PAGE
        if offset >= result["total"] or not result["items"]:
            return
        result = service.search(db, patient, max_mismatches=max_mismatches, loci=loci, donor_type=donor_type,
                                limit=PAGE, offset=offset)
