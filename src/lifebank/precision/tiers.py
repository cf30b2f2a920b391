"""AMP/ASCO/CAP 2017 tiers of somatic variants (Li et al., J Mol Diagn 2017;19:4-23), as explicit rules.

Pure. Each biomarker (variant, copy-number change, fusion, TMB) gets the tier of its strongest therapy
evidence, and the rule that placed it:

  I-A   level A evidence (FDA-approved therapy or professional guideline) in this tumour type
  I-B   level B evidence (well-powered studies with expert consensus) in this tumour type
  II-C  level A or B evidence in another tumour type (AMP counts it as level C), or level C evidence
        (small studies) in any tumour type
  II-D  level D evidence only (preclinical, case reports, inference)
  IV    benign or likely benign: population allele frequency >= 1 % in the input's annotation, or a
        synonymous change, and no evidence at all
  III   unknown clinical significance: everything else (a hotspot without therapy evidence stays here)

"In this tumour type" means the evidence's OncoTree code is the tumour's code or one of its ancestors, or the
evidence is tumour-agnostic for solid tumours and the tumour is solid (BRAF V600E: dabrafenib + trametinib,
"Any solid tumor", 2022). Sensitivity and resistance both count toward the tier (resistance to a standard
therapy is clinically significant too); the report keeps them apart.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from lifebank.messages import N_
from lifebank.precision.knowledge import LEVEL_ORDER, Evidence
from lifebank.precision.oncotree import OncoTree

BENIGN_POPULATION_AF = 0.01
SYNONYMOUS = frozenset({"synonymous_variant", "Silent"})

RULES: dict[str, str] = {
    "I-A": N_("Level A evidence (FDA-approved or guideline) in this tumour type"),
    "I-B": N_("Level B evidence (well-powered studies) in this tumour type"),
    "II-C": N_("Level A/B evidence in another tumour type, or level C evidence"),
    "II-D": N_("Level D evidence only (preclinical, case reports, inference)"),
    "III": N_("No therapy evidence: unknown clinical significance"),
    "IV": N_("Benign or likely benign (common in the population, or synonymous)"),
}


@dataclass(frozen=True, slots=True)
class Placed:
    tier: str          # "I" | "II" | "III" | "IV"
    rule: str          # a key of RULES


def in_tumour_type(evidence: Evidence, tumour: str, oncotree: OncoTree) -> bool:
    return evidence.tumour_code is not None and oncotree.applies(evidence.tumour_code, tumour)


def contextual_level(evidence: Evidence, here: bool) -> str:
    """The evidence's AMP level for this tumour: A/B elsewhere count as C."""
    if not here and evidence.level in ("A", "B"):
        return "C"
    return evidence.level


def place(evidence: Iterable[Evidence], tumour: str, oncotree: OncoTree, *, population_af: float | None = None,
          consequence: str | None = None) -> Placed:
    """The tier of one biomarker from the evidence matched to it."""
    best: str | None = None
    for item in evidence:
        level = contextual_level(item, in_tumour_type(item, tumour, oncotree))
        if best is None or LEVEL_ORDER[level] < LEVEL_ORDER[best]:
            best = level
    if best == "A":
        return Placed("I", "I-A")
    if best == "B":
        return Placed("I", "I-B")
    if best == "C":
        return Placed("II", "II-C")
    if best == "D":
        return Placed("II", "II-D")
    if (population_af is not None and population_af >= BENIGN_POPULATION_AF) or consequence in SYNONYMOUS:
        return Placed("IV", "IV")
    return Placed("III", "III")
