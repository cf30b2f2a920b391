"""The assembled knowledge base: evidence from every source, indexed the ways a tumour is matched.

Pure. MOAlmanac's GRCh37 alleles are lifted to GRCh38 once here (the inputs are all GRCh38 by the time they
are matched), so "exact allele" is a dictionary look-up; each lifted allele also marks its nucleotide as
belonging to its protein codon, which lets a raw (unannotated) VCF variant at the same nucleotide with another
base be placed on the codon ("same codon") without transcript models.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import Any

from lifebank.precision.genes import GeneTable
from lifebank.precision.hotspots import Hotspots
from lifebank.precision.knowledge import (
    ALLELE,
    AMPLIFICATION,
    CODON,
    DELETION,
    FUSION,
    GENE_MUTATION,
    PROTEIN,
    TMB_HIGH,
    Evidence,
    ParsedSource,
)
from lifebank.precision.liftover import Lifter, normalise_contig
from lifebank.precision.oncotree import OncoTree
from lifebank.precision.protein import codon_of

Allele = tuple[str, int, str, str]


@dataclass
class KnowledgeBase:
    oncotree: OncoTree
    hotspots: Hotspots
    genes: GeneTable
    sources: list[ParsedSource]
    lifter: Lifter | None = None
    unlifted: int = 0
    by_allele: dict[Allele, list[Evidence]] = field(default_factory=lambda: defaultdict(list))
    by_protein: dict[tuple[str, str], list[Evidence]] = field(default_factory=lambda: defaultdict(list))
    by_codon: dict[tuple[str, int], list[Evidence]] = field(default_factory=lambda: defaultdict(list))
    gene_level: dict[str, list[Evidence]] = field(default_factory=lambda: defaultdict(list))
    copy_number: dict[tuple[str, str], list[Evidence]] = field(default_factory=lambda: defaultdict(list))
    fusions: dict[str, list[Evidence]] = field(default_factory=lambda: defaultdict(list))
    tmb: list[Evidence] = field(default_factory=list)
    codon_at: dict[tuple[str, int], tuple[str, str, int]] = field(default_factory=dict)
    protein_at: dict[Allele, tuple[str, str]] = field(default_factory=dict)
    grch37_alleles: dict[Allele, tuple[str, str]] = field(default_factory=dict)  # -> (gene, protein change)
    reference_base: dict[tuple[str, str, int], str] = field(default_factory=dict)  # (build, chrom, pos) -> REF

    def __post_init__(self) -> None:
        for source in self.sources:
            for evidence in source.evidence:
                self._index(evidence)
        for key in list(self.by_allele):
            self.by_allele[key] = _unique(self.by_allele[key])

    def _index(self, evidence: Evidence) -> None:
        if evidence.grch37 is not None:
            chrom37, pos37, ref37, alt37 = evidence.grch37
            chrom37 = normalise_contig(chrom37)
            if ref37 != "-" and alt37 != "-":
                self.grch37_alleles[(chrom37, pos37, ref37, alt37)] = (evidence.gene, evidence.protein_change or "")
                self.reference_base[("GRCh37", chrom37, pos37)] = ref37
        if evidence.grch37 is not None and self.lifter is not None:
            chrom, pos, ref, alt = evidence.grch37
            lifted = self.lifter.allele(chrom, pos, ref, alt) if ref != "-" and alt != "-" else None
            if lifted is None:
                self.unlifted += 1
            else:
                evidence = replace(evidence, grch38=lifted)
                self.reference_base[("GRCh38", lifted[0], lifted[1])] = lifted[2]
                self.by_allele[lifted].append(replace(evidence, kind=ALLELE))
                codon = codon_of(evidence.protein_change)
                if codon:
                    self.codon_at[(lifted[0], lifted[1])] = (evidence.gene, codon[0], codon[1])
                    if evidence.protein_change:
                        self.protein_at[lifted] = (evidence.gene, evidence.protein_change)
        if evidence.kind == PROTEIN and evidence.protein_change:
            self.by_protein[(evidence.gene, evidence.protein_change)].append(evidence)
        elif evidence.kind == CODON:
            codon = codon_of(evidence.protein_change)
            if codon:
                self.by_codon[(evidence.gene, codon[1])].append(evidence)
        elif evidence.kind == GENE_MUTATION:
            self.gene_level[evidence.gene].append(evidence)
        elif evidence.kind in (AMPLIFICATION, DELETION):
            self.copy_number[(evidence.gene, evidence.kind)].append(evidence)
        elif evidence.kind == FUSION:
            self.fusions[evidence.gene].append(evidence)
            if evidence.partner:
                self.fusions[evidence.partner].append(evidence)
        elif evidence.kind == TMB_HIGH:
            self.tmb.append(evidence)

    def allele_evidence(self, chrom: str, pos: int, ref: str, alt: str) -> list[Evidence]:
        return self.by_allele.get((normalise_contig(chrom), pos, ref, alt), [])

    def versions(self) -> dict[str, Any]:
        """What the report records as "knowledge-base versions used"."""
        found: dict[str, Any] = {s.name: {"version": s.version, "sha256": s.digest, "evidence": len(s.evidence)}
                                 for s in self.sources}
        found["OncoTree"] = {"version": self.oncotree.version, "nodes": len(self.oncotree.nodes)}
        found["hotspots"] = {"version": self.hotspots.version, "sha256": self.hotspots.digest,
                             "residues": self.hotspots.count}
        found["genes"] = {"version": self.genes.version, "sha256": self.genes.digest}
        if self.lifter is not None:
            found["liftover"] = {"chain": self.lifter.chain.name}
        return found

    def evidence_count(self) -> int:
        return sum(len(s.evidence) for s in self.sources)


def _unique(items: list[Evidence]) -> list[Evidence]:
    seen: set[tuple[str, str, str]] = set()
    kept = []
    for item in items:
        key = (item.source, item.source_id, item.therapy)
        if key not in seen:
            seen.add(key)
            kept.append(item)
    return kept
