"""Gene symbol -> GRCh38 span (NCBI Gene via org.Hs.eg.db), and which protein-coding gene covers a position.

Pure. Used where the input carries no annotation: a raw VCF's variant is reported at gene level under the
protein-coding gene whose span covers it, and a copy-number segment's genes are those whose span it overlaps.
Positions are 1-based and inclusive, chromosomes without `chr` (the file's own convention). Look-ups use
fixed 100 kb bins, each listing the genes that touch it, so a whole-genome tumour (a million variants) is
placed in a few seconds.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

BIN = 100_000


@dataclass(frozen=True, slots=True)
class Gene:
    symbol: str
    chrom: str
    start: int
    end: int
    entrez_id: str


class GeneTable:
    def __init__(self, genes: list[Gene], version: str, digest: str) -> None:
        self.version = version
        self.digest = digest
        self.by_symbol: dict[str, Gene] = {}
        self._bins: dict[tuple[str, int], list[Gene]] = {}
        for gene in genes:
            self.by_symbol.setdefault(gene.symbol, gene)
            for b in range(gene.start // BIN, gene.end // BIN + 1):
                self._bins.setdefault((gene.chrom, b), []).append(gene)
        for genes_in_bin in self._bins.values():
            genes_in_bin.sort(key=lambda g: g.end - g.start)  # the most specific (shortest) gene first

    def gene_at(self, chrom: str, pos: int) -> str | None:
        """The shortest protein-coding gene covering `chrom:pos`, or None (intergenic)."""
        for gene in self._bins.get((chrom, pos // BIN), ()):
            if gene.start <= pos <= gene.end:
                return gene.symbol
        return None

    def overlapping(self, chrom: str, start: int, end: int) -> list[Gene]:
        """Genes whose span overlaps [start, end], in position order."""
        seen: dict[str, Gene] = {}
        for b in range(start // BIN, end // BIN + 1):
            for gene in self._bins.get((chrom, b), ()):
                if gene.start <= end and gene.end >= start:
                    seen.setdefault(gene.symbol, gene)
        return sorted(seen.values(), key=lambda g: g.start)


def parse_genes(text: str, version: str, digest: str) -> GeneTable:
    """Protein-coding rows of `genes_grch38_ncbi.tsv` (chrom start end strand entrez_id symbol … gene_type …)."""
    reader = csv.DictReader(io.StringIO(text), delimiter="\t")
    genes = [Gene(row["symbol"], row["chrom"], int(row["start"]), int(row["end"]), row["entrez_id"])
             for row in reader if row.get("gene_type") == "protein-coding"]
    return GeneTable(genes, version, digest)


def load_genes(path: Path) -> GeneTable:
    raw = path.read_bytes()
    return parse_genes(gzip.decompress(raw).decode(), "NCBI Gene 2022-09-12 (org.Hs.eg.db 3.16.0)",
                       hashlib.sha256(raw).hexdigest())
