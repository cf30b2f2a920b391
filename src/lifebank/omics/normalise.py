"""Splitting multi-allelic records into biallelic ones exactly as `bcftools norm -m-` does.

bcftools' rules (checked against bcftools 1.16), which a geneticist relies on when comparing counts:
- one output record per ALT, same POS and REF, no trimming or left-alignment;
- in GT, the split ALT becomes 1, REF stays 0, every *other* ALT becomes 0 (REF), a no-call stays a
  no-call, and phasing and ploidy (haploid calls, `1/.` partial calls) are kept as they were;
- INFO Number=A keeps the ALT's value, Number=R keeps REF's and the ALT's, Number=G keeps the three
  diploid genotype likelihoods 0/0, 0/i, i/i; every other INFO field is copied unchanged.

Allele codes used throughout the store: 0 REF, 1 ALT, -1 no-call, -2 "no such allele" (a haploid call
in a diploid record, htslib's vector end).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

NO_CALL = -1
VECTOR_END = -2


def split_alleles(alleles: np.ndarray, alt_index: int, top: int | None = None) -> np.ndarray:
    """GT allele indices (samples x ploidy, htslib coding) -> biallelic codes for ALT number `alt_index` (1-based).

    `top`: the caller's bound on the largest allele index (at least the true maximum, and at most 1 exactly
    when the true maximum is), to spare a second pass over the calls."""
    if alt_index == 1 and (alleles.max(initial=0) if top is None else top) <= 1:
        return alleles.astype(np.int8)  # already biallelic: nothing to recode (the common case, kept fast)
    return np.where(alleles == alt_index, 1, np.where(alleles < 0, alleles, 0)).astype(np.int8)


def split_info_value(number: str, value: Any, alt_index: int, n_alts: int) -> Any:
    """One INFO value as it reads on the biallelic record for ALT `alt_index` (1-based)."""
    if number not in {"A", "R", "G"} or n_alts == 1 or value is None:
        return value
    values = value if isinstance(value, (tuple, list)) else (value,)
    if number == "A":
        return values[alt_index - 1] if len(values) == n_alts else value
    if number == "R":
        return [values[0], values[alt_index]] if len(values) == n_alts + 1 else value
    # Number=G, diploid ordering: index of genotype j/k (j <= k) is k*(k+1)/2 + j
    if len(values) == (n_alts + 1) * (n_alts + 2) // 2:
        i = alt_index
        return [values[0], values[i * (i + 1) // 2], values[i * (i + 1) // 2 + i]]
    return value


def split_info(info: Mapping[str, Any], numbers: Mapping[str, str], alt_index: int, n_alts: int,
               keep: Sequence[str] | None) -> dict[str, Any]:
    """The INFO fields a dataset keeps, split for one ALT; tuples become lists so they serialise as JSON."""
    out: dict[str, Any] = {}
    for key, value in info.items():
        if keep is not None and key not in keep:
            continue
        split = split_info_value(numbers.get(key, "."), value, alt_index, n_alts)
        out[key] = list(split) if isinstance(split, tuple) else split
    return out
