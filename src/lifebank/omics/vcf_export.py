"""Writing biallelic sites and their calls back out as VCF 4.2 text that bcftools and htslib read.

Genotype text follows htslib: alleles joined by '/' or '|' (the phase of the second allele), '.' for a
no-call, a lone allele for a haploid call.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TextIO

from lifebank.omics.allele_counts import format_float


@dataclass(frozen=True, slots=True)
class ExportSite:
    chrom: str
    pos: int
    id: str | None
    ref: str
    alt: str
    qual: float | None
    filter: str | None
    genotypes: Sequence[str]  # one GT string per exported sample


def genotype_text(a1: int, a2: int, phased: bool) -> str:
    def allele(code: int) -> str:
        return "." if code < 0 else str(code)

    if a2 == -2:
        return allele(a1)
    return f"{allele(a1)}{'|' if phased else '/'}{allele(a2)}"


def write_vcf(out: TextIO, *, samples: Sequence[str], contigs: Sequence[str], genome_build: str, source: str,
              filters: Iterable[str], sites: Iterable[ExportSite]) -> int:
    """Write the header and records; returns the number of records written."""
    out.write("##fileformat=VCFv4.2\n")
    out.write(f"##source={source}\n")
    out.write(f"##reference={genome_build}\n")
    for name in contigs:
        out.write(f"##contig=<ID={name}>\n")
    out.write('##FILTER=<ID=PASS,Description="All filters passed">\n')
    for name in sorted(set(filters) - {"PASS"}):
        out.write(f'##FILTER=<ID={name},Description="Filter {name} of the imported file">\n')
    out.write('##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n')
    header = ["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO"]
    out.write("\t".join(header + (["FORMAT", *samples] if samples else [])) + "\n")
    count = 0
    for site in sites:
        fields = [site.chrom, str(site.pos), site.id or ".", site.ref, site.alt,
                  "." if site.qual is None else format_float(site.qual), site.filter or ".", "."]
        if samples:
            fields += ["GT", *site.genotypes]
        out.write("\t".join(fields) + "\n")
        count += 1
    return count
