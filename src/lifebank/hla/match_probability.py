"""Match probability: from two imputed genotype lists, the probability of each mismatch count.

Pure (NumPy). Patient and donor are independent, so the probability that the pair has `k` mismatches is the sum
over (patient genotype, donor genotype) of the two probabilities where the genotype pair has `k` mismatches.
Mismatches are counted as `grading` counts them: per locus both orientations, the better kept; a position pair
matches when the P groups meet; a null-only position makes the locus homozygous for the other, and null faces
null as a match. So a null allele that the imputation finds possible contributes its probability.

Reported, as the issue's interface names them: `p10of10` = P(0 mismatches over A, B, C, DQB1, DRB1), `p9of10`
= P(exactly 1), `p8of8`/`p7of8` the same over A, B, C, DRB1, and per locus `p0`, `p1`, `p2` (DPB1 too when
both frequency sets have it; it never counts in the totals). A locus a frequency
set lacks has no probability (None), and nor has a total that needs it.

Speed: for one patient against many donors every locus is reduced to its distinct (patient, donor) locus
genotypes, graded once; the mismatch counts of all genotype pairs are gathers from those small tables, summed over
loci, and each probability is one matrix-vector product (patient genotypes x all donor genotypes).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from lifebank.hla.imputation import MatchClasses, MatchGenotypes

TEN_LOCI = ("A", "B", "C", "DQB1", "DRB1")
PREDICTED_LOCI = (*TEN_LOCI, "DPB1")  # DPB1 only when both sets have it
EIGHT_LOCI = ("A", "B", "C", "DRB1")


def locus_mismatches(classes: MatchClasses, locus: str, patient: np.ndarray, donor: np.ndarray) -> np.ndarray:
    """Mismatch count (0-2) of every patient locus genotype (rows of class pairs) against every donor one."""
    match, null = classes.matrix(locus)
    p0, p1 = patient[:, 0], patient[:, 1]
    d0, d1 = donor[:, 0], donor[:, 1]
    pn0, pn1, dn0, dn1 = null[p0], null[p1], null[d0], null[d1]
    # WMDA: a null-only position takes the other position's typing (the locus is homozygous).
    pe0, pe1 = np.where(pn0 & ~pn1, p1, p0), np.where(pn1 & ~pn0, p0, p1)
    de0, de1 = np.where(dn0 & ~dn1, d1, d0), np.where(dn1 & ~dn0, d0, d1)

    def hit(pr: np.ndarray, pe: np.ndarray, dr: np.ndarray, de: np.ndarray) -> np.ndarray:
        return (null[pr][:, None] & null[dr][None, :]) | match[pe[:, None], de[None, :]]

    straight = hit(p0, pe0, d0, de0).astype(np.int8) + hit(p1, pe1, d1, de1)
    crossed = hit(p0, pe0, d1, de1).astype(np.int8) + hit(p1, pe1, d0, de0)
    return (2 - np.maximum(straight, crossed)).astype(np.int8)


def _codes(pairs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    code = pairs[:, 0].astype(np.int64) * (1 << 20) + pairs[:, 1]
    unique, inverse = np.unique(code, return_inverse=True)
    rows = np.stack([unique >> 20, unique & ((1 << 20) - 1)], axis=1)
    return rows, inverse.ravel()


class DonorBatch:
    """Many donors' imputed genotype lists, concatenated, with each locus reduced to its distinct genotypes once
    (independent of the patient, so a benchmark or a search reuses it for every patient)."""

    def __init__(self, donors: Sequence[MatchGenotypes]) -> None:
        n = len(donors)
        sizes = np.fromiter((len(d) for d in donors), dtype=np.int64, count=n)
        if n == 0 or (sizes == 0).any():
            raise ValueError("every donor genotype list must be non-empty")
        self.loci = donors[0].loci
        self.size = n
        self.starts = np.zeros(n, dtype=np.int64)
        np.cumsum(sizes[:-1], out=self.starts[1:])
        classes = np.concatenate([d.classes for d in donors])
        self.probabilities = np.concatenate([d.probabilities for d in donors])
        self.rows: dict[str, np.ndarray] = {}
        self.inverse: dict[str, np.ndarray] = {}
        # Per locus, each donor's weight on each distinct locus genotype: per-locus probabilities need only these
        # (a donor typed at a locus has one or two entries, not one per imputed genotype).
        self.entries: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        donor_of_row = np.repeat(np.arange(n, dtype=np.int64), sizes)
        for c, locus in enumerate(self.loci):
            rows, inverse = _codes(classes[:, c, :])
            self.rows[locus], self.inverse[locus] = rows, inverse.astype(np.int32)
            code = donor_of_row * len(rows) + inverse
            unique, at = np.unique(code, return_inverse=True)
            weight = np.bincount(at.ravel(), weights=self.probabilities, minlength=len(unique))
            self.entries[locus] = (unique // len(rows), (unique % len(rows)).astype(np.int64), weight)


def batch_probabilities(classes: MatchClasses, patient: MatchGenotypes,
                        donors: Sequence[MatchGenotypes] | DonorBatch) -> dict[str, Any]:
    """Probabilities of one patient against each donor (all lists share `patient.loci`).

    Returns arrays, one value per donor: `p10of10`, `p9of10`, `p8of8`, `p7of8` (absent when a locus they need is
    not imputed) and `loci[locus] = (p0, p1, p2)`.
    """
    batch = donors if isinstance(donors, DonorBatch) else DonorBatch(donors)
    if len(patient) == 0:
        raise ValueError("the patient genotype list must be non-empty")
    loci = patient.loci
    tables: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for c, locus in enumerate(loci):
        p_rows, p_inv = _codes(patient.classes[:, c, :])
        tables[locus] = (locus_mismatches(classes, locus, p_rows, batch.rows[locus]), p_inv)
    n_rows = len(batch.probabilities)
    ten = all(locus in tables for locus in TEN_LOCI)
    eight = all(locus in tables for locus in EIGHT_LOCI)
    acc = {key: np.zeros(n_rows) for key in ("t0", "t1", "e0", "e1")}
    weights = patient.probabilities.tolist()
    if ten or eight:
        # totals count the scored loci only (DPB1, when a set has it, gets its per-locus probabilities only)
        first = [locus for locus in EIGHT_LOCI if locus in loci] + [locus for locus in loci if locus == "DQB1"]
        for i, weight in enumerate(weights):
            total = np.zeros(n_rows, dtype=np.int8)
            for locus in first:
                if locus == "DQB1" and eight:
                    acc["e0"] += (total == 0) * weight
                    acc["e1"] += (total == 1) * weight
                table, p_inv = tables[locus]
                total += table[p_inv[i]][batch.inverse[locus]]  # this patient genotype vs every donor genotype
            if ten:
                acc["t0"] += (total == 0) * weight
                acc["t1"] += (total == 1) * weight
            elif eight:
                acc["e0"] += (total == 0) * weight
                acc["e1"] += (total == 1) * weight

    def per_donor(values: np.ndarray) -> np.ndarray:
        return np.clip(np.add.reduceat(values * batch.probabilities, batch.starts), 0.0, 1.0)

    out: dict[str, Any] = {"loci": {}}
    for locus in loci:
        table, p_inv = tables[locus]
        donor, distinct, weight = batch.entries[locus]
        p = []
        for k in (0, 1):
            per_genotype = np.zeros(table.shape[1])
            for i, w in enumerate(weights):
                per_genotype += (table[p_inv[i]] == k) * w
            p.append(np.clip(np.bincount(donor, weights=weight * per_genotype[distinct], minlength=batch.size),
                             0.0, 1.0))
        out["loci"][locus] = (p[0], p[1], np.clip(1.0 - p[0] - p[1], 0.0, 1.0))
    if ten:
        out["p10of10"], out["p9of10"] = per_donor(acc["t0"]), per_donor(acc["t1"])
    if eight:
        out["p8of8"], out["p7of8"] = per_donor(acc["e0"]), per_donor(acc["e1"])
    return out


def pair_probabilities(classes: MatchClasses, patient: MatchGenotypes, donor: MatchGenotypes) -> dict[str, Any]:
    """One pair, in the JSON shape of `lifebank hla predict` (plain floats, None where unknown)."""
    batch = batch_probabilities(classes, patient, [donor])
    return as_dict(batch, 0)


def as_dict(batch: dict[str, Any], i: int) -> dict[str, Any]:
    """Donor `i` of a batch as `{"p10of10", "p9of10", "p8of8", "p7of8", "loci": {A: {p0, p1, p2}}}`."""
    out: dict[str, Any] = {}
    for key in ("p10of10", "p9of10", "p8of8", "p7of8"):
        out[key] = float(batch[key][i]) if key in batch else None
    out["loci"] = {locus: {"p0": float(v[0][i]), "p1": float(v[1][i]), "p2": float(v[2][i])}
                   for locus, v in batch["loci"].items()}
    return out
