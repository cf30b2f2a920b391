"""CIViC's nightly `ClinicalEvidenceSummaries.tsv` (CC0) as Evidence.

Pure. Kept: accepted, somatic, PREDICTIVE evidence that SUPPORTS a sensitivity/response or resistance (a
"does not support" item is not evidence for the therapy and is skipped). CIViC levels A-D are AMP levels
as they are; E (inferential) counts as D. CIViC names diseases (Disease Ontology), not OncoTree codes: the
disease name is looked up among OncoTree names and a short synonym table; an unmapped disease makes the item
count only as "another tumour type" (Tier II at best), which errs on the safe side.

Molecular profiles: a simple profile `GENE VARIANT` (`BRAF V600E`, `ERBB2 Amplification`, `EML4::ALK Fusion`,
`KRAS Mutation`) becomes one evidence item per therapy (COMBINATION therapies joined with " + "); complex
profiles (`… AND …`, `… OR …`) are skipped and counted. Older exports with `gene` and `variant` columns are
read too.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable

from lifebank.errors import RowError, RowsRejected
from lifebank.messages import Msg
from lifebank.precision.knowledge import (
    AMPLIFICATION,
    CODON,
    DELETION,
    FUSION,
    GENE_MUTATION,
    PROTEIN,
    Evidence,
    ParsedSource,
)
from lifebank.precision.protein import codon_of, short_protein_change

REQUIRED = ("disease", "therapies", "evidence_type", "evidence_direction", "evidence_level", "significance",
            "evidence_id")
LEVELS = {"A": "A", "B": "B", "C": "C", "D": "D", "E": "D"}
SIGNIFICANCE = {"sensitivity/response": "sensitivity", "sensitivityresponse": "sensitivity",
                "sensitivity": "sensitivity", "resistance": "resistance", "reduced sensitivity": "resistance"}
# CIViC (Disease Ontology) names -> OncoTree codes, where the names differ.
DISEASE_SYNONYMS = {
    "lung non-small cell carcinoma": "NSCLC", "colorectal cancer": "COADREAD", "breast cancer": "BRCA",
    "melanoma": "MEL", "skin melanoma": "SKCM", "lung adenocarcinoma": "LUAD", "acute myeloid leukemia": "AML",
    "chronic myeloid leukemia": "CML", "thyroid cancer": "THYROID", "ovarian cancer": "OVT",
    "gastrointestinal stromal tumor": "GIST", "colon cancer": "COAD", "pancreatic cancer": "PAAD",
    "prostate cancer": "PRAD", "stomach cancer": "STAD", "cancer": "ANY", "solid tumor": "ANY_SOLID",
}
_FUSION = re.compile(r"^([A-Za-z0-9-]+|v)::([A-Za-z0-9-]+|v)(?:\s+fusion)?$", re.IGNORECASE)


def _norm(value: str | None) -> str:
    return (value or "").strip()


def _variant_evidence(gene: str, variant: str) -> dict[str, object] | None:
    """What a simple profile needs of the tumour, or None when LifeBank cannot test it (expression, …)."""
    lowered = variant.casefold()
    if lowered in ("amplification", "copy number gain"):
        return {"kind": AMPLIFICATION, "gene": gene}
    if lowered in ("deletion", "loss", "copy number loss"):
        return {"kind": DELETION, "gene": gene}
    if lowered in ("mutation", "oncogenic mutation", "mutations"):
        return {"kind": GENE_MUTATION, "gene": gene}
    if lowered in ("loss-of-function", "truncating mutation", "frameshift truncation"):
        return {"kind": GENE_MUTATION, "gene": gene, "variant_class": "Nonsense"}
    if lowered == "fusion":
        return {"kind": FUSION, "gene": gene, "partner": None}
    protein = short_protein_change(variant)
    if protein is None:
        return None
    codon = codon_of(protein)
    exact_codon = codon is not None and protein == f"p.{codon[0]}{codon[1]}"
    return {"kind": CODON if exact_codon else PROTEIN, "gene": gene, "protein_change": protein}


def _profile(row: dict[str, str]) -> dict[str, object] | None:
    if _norm(row.get("gene")) and _norm(row.get("variant")):
        return _variant_evidence(_norm(row["gene"]), _norm(row["variant"]))
    profile = _norm(row.get("molecular_profile"))
    if not profile or " AND " in profile or " OR " in profile or "NOT " in profile:
        return None
    gene, _, variant = profile.partition(" ")
    fusion = _FUSION.match(gene) if "::" in gene else None
    if fusion:
        five, three = fusion.group(1), fusion.group(2)
        if five.lower() == "v":
            return {"kind": FUSION, "gene": three, "partner": None}
        return {"kind": FUSION, "gene": five, "partner": None if three.lower() == "v" else three}
    return _variant_evidence(gene, variant) if variant else None


def parse_civic_evidence(text: str, version: str, digest: str,
                         tumour_code: Callable[[str], str | None]) -> ParsedSource:
    """Parse a nightly ClinicalEvidenceSummaries TSV. Missing columns are named; all or nothing."""
    reader = csv.DictReader(io.StringIO(text), delimiter="\t")
    columns = reader.fieldnames or []
    missing = [c for c in REQUIRED if c not in columns]
    if "molecular_profile" not in columns and not {"gene", "variant"} <= set(columns):
        missing.append("molecular_profile")
    if missing:
        raise RowsRejected(Msg("CIViC evidence file"),
                           [RowError(1, c, Msg("required column is missing")) for c in missing])
    parsed = ParsedSource("CIViC", version, digest)
    errors: list[RowError] = []
    for line, row in enumerate(reader, start=2):
        if _norm(row.get("evidence_status")) not in ("", "accepted"):
            parsed.skipped["not accepted"] += 1
            continue
        if _norm(row.get("variant_origin")).casefold() not in ("", "somatic"):
            parsed.skipped["not somatic"] += 1
            continue
        if _norm(row["evidence_type"]).casefold() != "predictive":
            parsed.skipped["not predictive"] += 1
            continue
        if _norm(row["evidence_direction"]).casefold().replace(" ", "_") != "supports":
            parsed.skipped["does not support"] += 1
            continue
        direction = SIGNIFICANCE.get(_norm(row["significance"]).casefold())
        if direction is None:
            parsed.skipped["significance not sensitivity or resistance"] += 1
            continue
        level = LEVELS.get(_norm(row["evidence_level"]).upper())
        if level is None:
            errors.append(RowError(line, "evidence_level", Msg("{value!r} is not a CIViC evidence level A-E",
                                                               value=row["evidence_level"])))
            continue
        needs = _profile(row)
        if needs is None:
            parsed.skipped["molecular profile not testable"] += 1
            continue
        therapies = [t.strip() for t in _norm(row["therapies"]).split(",") if t.strip()]
        if not therapies:
            parsed.skipped["no therapy"] += 1
            continue
        groups = [" + ".join(therapies)] if _norm(row.get("therapy_interaction_type")).casefold() == "combination" \
            else therapies
        disease = _norm(row["disease"])
        pmid = _norm(row.get("citation_id")) if _norm(row.get("source_type")).casefold() == "pubmed" else ""
        trials = tuple(t.strip() for t in _norm(row.get("nct_ids")).split(",") if t.strip())
        for therapy in groups:
            parsed.evidence.append(Evidence(
                source="CIViC", source_id="EID" + _norm(row["evidence_id"]), therapy=therapy, direction=direction,
                level=level, tumour_code=tumour_code(disease), disease=disease,
                evidence_label=_norm(row["evidence_level"]).upper(), pmids=(pmid,) if pmid else (), trials=trials,
                citation=_norm(row.get("citation")), **needs))  # type: ignore[arg-type]
    if errors:
        raise RowsRejected(Msg("CIViC evidence file"), errors)
    return parsed


def civic_tumour_code(name_lookup: Callable[[str], str | None]) -> Callable[[str], str | None]:
    """Disease name -> OncoTree code: the synonym table first, then OncoTree's own names."""

    def lookup(disease: str) -> str | None:
        return DISEASE_SYNONYMS.get(disease.strip().casefold()) or name_lookup(disease)

    return lookup
