"""Knowledge-base evidence: one shape for every source (MOAlmanac, CIViC), and the MOAlmanac parser.

Pure. An `Evidence` is one biomarker -> therapy assertion: what it needs of the tumour (an exact allele, a
protein change, a codon, any oncogenic mutation of a gene, an amplification, a deletion, a fusion, TMB-high),
for which tumour type (an OncoTree code, `ANY_SOLID` for tumour-agnostic approvals, or None when the source's
disease has no OncoTree code), which therapy and direction, and the AMP/ASCO/CAP evidence level.

MOAlmanac `predictive_implication` -> AMP level (Li et al., J Mol Diagn 2017, table 2):
FDA-Approved and Guideline -> A (FDA-approved therapy / professional guideline); Clinical trial -> B
(well-powered studies); Clinical evidence -> C (small published studies, case series); Preclinical and
Inferential -> D (preclinical data, inference). Germline rows, prognostic-only rows and feature types LifeBank
does not test (signatures, knockdowns, aneuploidy) are skipped, and counted as such.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lifebank.precision.oncotree import ANY_SOLID
from lifebank.precision.protein import codon_of, short_protein_change

MOALMANAC_LEVELS = {"FDA-Approved": "A", "Guideline": "A", "Clinical trial": "B", "Clinical evidence": "C",
                    "Preclinical": "D", "Inferential": "D"}
LEVEL_ORDER = {"A": 0, "B": 1, "C": 2, "D": 3}

# What an evidence item needs of the tumour.
ALLELE, PROTEIN, CODON, GENE_MUTATION, AMPLIFICATION, DELETION, FUSION, TMB_HIGH = (
    "allele", "protein_change", "codon", "gene_mutation", "amplification", "deletion", "fusion", "tmb_high")

# Variant classes (MOAlmanac variant_annotation) that mean "loss of function" for a gene-level assertion.
TRUNCATING = frozenset({"Nonsense", "Frameshift", "Splice Site"})


@dataclass(frozen=True, slots=True)
class Evidence:
    source: str                       # "MOAlmanac" | "CIViC"
    source_id: str                    # assertion id / EID
    kind: str                         # ALLELE, PROTEIN, … (what it needs)
    gene: str
    therapy: str
    direction: str                    # "sensitivity" | "resistance"
    level: str                        # AMP level A-D
    tumour_code: str | None           # OncoTree code, ANY_SOLID, or None (disease not in OncoTree)
    disease: str
    evidence_label: str               # the source's own wording ("FDA-Approved", "B")
    protein_change: str | None = None
    partner: str | None = None        # fusion partner (None: any partner)
    variant_class: str | None = None  # gene-level: "Nonsense", "Frameshift", … (None: any oncogenic mutation)
    grch37: tuple[str, int, str, str] | None = None
    grch38: tuple[str, int, str, str] | None = None
    tmb_threshold: float | None = None
    pmids: tuple[str, ...] = ()
    trials: tuple[str, ...] = ()
    citation: str = ""

    def therapy_entry(self) -> dict[str, Any]:
        """The report's therapy item (the issue's exact keys first, then references)."""
        return {"therapy": self.therapy, "direction": self.direction, "level": self.level,
                "source": self.source, "source_id": self.source_id, "disease": self.disease,
                "tumour_type": self.tumour_code, "evidence": self.evidence_label, "pmids": list(self.pmids),
                "trials": list(self.trials)}


@dataclass
class ParsedSource:
    """A parsed knowledge-base file: its evidence, version and what was skipped (by reason)."""

    name: str
    version: str
    digest: str
    evidence: list[Evidence] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _direction(row: dict[str, Any]) -> str | None:
    if _text(row.get("therapy_sensitivity")) == "1":
        return "sensitivity"
    if _text(row.get("therapy_resistance")) == "1":
        return "resistance"
    return None


def _tumour_code(row: dict[str, Any]) -> str | None:
    code = _text(row.get("oncotree_code")).upper()
    if code:
        return code
    return ANY_SOLID if _text(row.get("oncotree_term")).casefold() == "any solid tumor" else None


def moalmanac_evidence(row: dict[str, Any]) -> tuple[Evidence | None, str]:
    """One legacy MOAlmanac assertion -> (Evidence, "") or (None, reason skipped)."""
    if row.get("_deprecated"):
        return None, "deprecated"
    feature = _text(row.get("feature_type"))
    direction = _direction(row)
    therapy = _text(row.get("therapy_name"))
    implication = _text(row.get("predictive_implication"))
    if direction is None or not therapy:
        return None, "no therapy sensitivity or resistance"
    level = MOALMANAC_LEVELS.get(implication)
    if level is None:
        return None, "unknown predictive implication"
    pmid = _text(row.get("pmid"))
    nct = _text(row.get("nct"))
    common: dict[str, Any] = dict(
        source="MOAlmanac", source_id=str(row.get("assertion_id", "")), therapy=therapy, direction=direction,
        level=level, tumour_code=_tumour_code(row), disease=_text(row.get("disease")), evidence_label=implication,
        pmids=(pmid,) if pmid else (), trials=(nct,) if nct else (), citation=_text(row.get("citation")))
    if feature == "Somatic Variant":
        gene = _text(row.get("gene"))
        protein = short_protein_change(_text(row.get("protein_change")))
        chrom, start = _text(row.get("chromosome")), _text(row.get("start_position"))
        ref, alt = _text(row.get("reference_allele")), _text(row.get("alternate_allele"))
        grch37 = (chrom, int(float(start)), ref, alt) if chrom and start and ref and alt else None
        if protein:
            codon = codon_of(protein)
            kind = CODON if codon and protein == f"p.{codon[0]}{codon[1]}" else PROTEIN
            return Evidence(kind=kind, gene=gene, protein_change=protein, grch37=grch37, **common), ""
        annotation = _text(row.get("variant_annotation")) or None
        return Evidence(kind=GENE_MUTATION, gene=gene, variant_class=annotation, **common), ""
    if feature == "Copy Number":
        direction_cn = _text(row.get("direction"))
        kind = {"Amplification": AMPLIFICATION, "Deletion": DELETION}.get(direction_cn)
        if kind is None:
            return None, "copy-number direction not amplification or deletion"
        return Evidence(kind=kind, gene=_text(row.get("gene")), **common), ""
    if feature == "Rearrangement":
        gene1, gene2 = _text(row.get("gene1")), _text(row.get("gene2")) or None
        if not gene1:
            return None, "rearrangement without a gene"
        return Evidence(kind=FUSION, gene=gene1, partner=gene2, **common), ""
    if feature == "Mutational Burden":
        threshold = _text(row.get("mutations_per_mb"))
        return Evidence(kind=TMB_HIGH, gene="TMB", tmb_threshold=float(threshold) if threshold else 10.0,
                        **common), ""
    return None, "feature type not tested: " + (feature or "none")


def parse_moalmanac(rows: list[dict[str, Any]], version: str, digest: str) -> ParsedSource:
    """Every legacy MOAlmanac assertion that names a therapy, as Evidence; the rest counted by reason."""
    parsed = ParsedSource("MOAlmanac", version, digest)
    for row in rows:
        evidence, reason = moalmanac_evidence(row)
        if evidence is None:
            parsed.skipped[reason] += 1
        else:
            parsed.evidence.append(evidence)
    return parsed


def load_moalmanac(path: Path) -> ParsedSource:
    """Read `molecular-oncology-almanac*.json[.gz]`; the version is the newest `last_updated` of its rows."""
    raw = path.read_bytes()
    text = gzip.decompress(raw) if path.suffix == ".gz" else raw
    rows = json.loads(text)
    version = max((_text(r.get("last_updated")) for r in rows), default="unknown")
    return parse_moalmanac(rows, version, hashlib.sha256(raw).hexdigest())
