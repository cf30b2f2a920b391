"""Shared fixtures of the precision tests: the knowledge base (built once) and small input-file writers."""

from __future__ import annotations

from pathlib import Path

import pytest

from lifebank.precision import kb_store
from lifebank.precision.kb import KnowledgeBase

FIXTURES = Path(__file__).parent / "fixtures"
EXAMPLES = kb_store.VENDORED / "pcgr-examples"
CSQ_HEADER = ('##INFO=<ID=CSQ,Number=.,Type=String,Description="Consequence annotations from Ensembl VEP. '
              'Format: Allele|Consequence|IMPACT|SYMBOL|Gene|Feature_type|Feature|BIOTYPE|HGVSc|HGVSp|CANONICAL'
              '|MAX_AF">')


@pytest.fixture(scope="session")
def kb() -> KnowledgeBase:
    return kb_store.build(None)


def vep_vcf(path: Path, records: list[tuple[str, int, str, str, str, str, str]], *, genome: str = "GRCh38",
            samples: tuple[str, ...] = ("TUMOR",), extra_header: str = "") -> Path:
    """A VEP-annotated VCF: records are (chrom, pos, ref, alt, gene, consequence, HGVSp)."""
    lines = ["##fileformat=VCFv4.2", f"##reference={genome}", CSQ_HEADER,
             '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">']
    if extra_header:
        lines.append(extra_header)
    lines.append("\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT", *samples]))
    for chrom, pos, ref, alt, gene, consequence, hgvsp in records:
        csq = f"{alt}|{consequence}|MODERATE|{gene}|ENSG|Transcript|ENST|protein_coding||{hgvsp}|YES|"
        lines.append("\t".join([chrom, str(pos), ".", ref, alt, ".", "PASS", f"CSQ={csq}", "GT",
                                *(["0/1"] * len(samples))]))
    path.write_text("\n".join(lines) + "\n")
    return path
