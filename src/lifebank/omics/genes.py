"""Gene symbol -> GRCh38 region(s), from the vendored NCBI gene table (public-domain NCBI Gene data)."""

from __future__ import annotations

import csv
import gzip
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from lifebank.errors import NotFound
from lifebank.omics.regions import Region

GENE_TABLE = Path(__file__).parent / "data" / "ncbi_genes" / "genes_grch38_ncbi.tsv.gz"


@dataclass(frozen=True, slots=True)
class Gene:
    symbol: str
    name: str
    chrom: str  # NCBI style, no 'chr'
    start: int
    end: int
    strand: str
    entrez_id: str
    gene_type: str

    def region(self) -> Region:
        return Region(self.chrom, self.start, self.end)


@cache
def _genes() -> dict[str, list[Gene]]:
    table: dict[str, list[Gene]] = {}
    with gzip.open(GENE_TABLE, "rt", encoding="utf-8") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            gene = Gene(row["symbol"], row["name"], row["chrom"], int(row["start"]), int(row["end"]), row["strand"],
                        row["entrez_id"], row["gene_type"])
            table.setdefault(gene.symbol.upper(), []).append(gene)
    return table


def genes_named(symbol: str) -> list[Gene]:
    """Every row of the symbol (two for PAR genes on X and Y); NotFound names the unknown symbol."""
    found = _genes().get(symbol.strip().upper())
    if not found:
        raise NotFound("gene {symbol!r} is not in the NCBI GRCh38 gene table", symbol=symbol)
    return found
