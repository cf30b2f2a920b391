"""Gene fusions: PCGR's RNA fusion table (`FusionGene LeftBreakpoint RightBreakpoint SplitReads`, `EML4--ALK`)
or cBioPortal's structural variants (`Site1_Hugo_Symbol`, `Site2_Hugo_Symbol`).

Pure. Each fusion is (5' gene, 3' gene, breakpoints, supporting reads); the matcher looks both genes up, in
either orientation, since knowledge bases write fusions either way round (`ALK` fusion, `EML4::ALK`).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass

from lifebank.errors import RowError, RowsRejected
from lifebank.messages import Msg


@dataclass(frozen=True, slots=True)
class Fusion:
    line: int
    gene5: str
    gene3: str
    left: str | None = None
    right: str | None = None
    reads: int | None = None


def parse_fusions(lines: Iterable[str], *, sample: str | None = None) -> list[Fusion]:
    """Fusions of the file; for a cBioPortal file of several tumours, those of `sample` (its Sample_Id).
    A structural variant with a gene on one side only (the other intergenic) is kept with that one gene."""
    reader = csv.DictReader((line for line in lines if line.strip() and not line.startswith("#")), delimiter="\t")
    columns = set(reader.fieldnames or [])
    if "FusionGene" in columns:
        layout = "pcgr"
    elif {"Site1_Hugo_Symbol", "Site2_Hugo_Symbol"} <= columns:
        layout = "cbioportal"
    else:
        reason = Msg("required column is missing (or Site1_Hugo_Symbol and Site2_Hugo_Symbol)")
        raise RowsRejected(Msg("fusions"), [RowError(1, "FusionGene", reason)])
    fusions, errors = [], []
    for line, row in enumerate(reader, start=2):
        if layout == "pcgr":
            genes = [g.strip() for g in (row["FusionGene"] or "").replace("::", "--").split("--")]
            if len(genes) != 2 or not all(genes):
                errors.append(RowError(line, "FusionGene", Msg("{value!r} is not GENE1--GENE2",
                                                               value=row["FusionGene"])))
                continue
            reads = (row.get("SplitReads") or "").strip()
            fusions.append(Fusion(line, genes[0], genes[1], row.get("LeftBreakpoint"), row.get("RightBreakpoint"),
                                  int(reads) if reads.isdigit() else None))
        else:
            if sample is not None and (row.get("Sample_Id") or "").strip() != sample:
                continue
            five, three = ((row[c] or "").strip() for c in ("Site1_Hugo_Symbol", "Site2_Hugo_Symbol"))
            five, three = ("" if five == "NA" else five), ("" if three == "NA" else three)
            if not five and not three:
                errors.append(RowError(line, "Site1_Hugo_Symbol", Msg("the gene is empty")))
                continue
            fusions.append(Fusion(line, five or three, three if five else "",
                                  f"{row.get('Site1_Chromosome')}:{row.get('Site1_Position')}",
                                  f"{row.get('Site2_Chromosome')}:{row.get('Site2_Position')}"))
    if errors:
        raise RowsRejected(Msg("fusions"), errors)
    return fusions
