"""AC, AN and AF as `bcftools +fill-tags -- -t AC,AN,AF` computes them, and how they are printed.

AN counts called alleles (a no-call contributes nothing, a haploid call one allele), AC counts ALT
alleles, and AF = AC/AN stored as a 32-bit float and printed with six significant digits (htslib's
`%g`); when AN is 0 bcftools leaves AF missing ('.').
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class AlleleCount:
    chrom: str
    pos: int
    ref: str
    alt: str
    ac: int
    an: int

    @property
    def af(self) -> float | None:
        return None if self.an == 0 else float(np.float32(self.ac / self.an))

    @property
    def af_text(self) -> str:
        return "." if self.an == 0 else format_float(self.ac / self.an)

    def as_row(self) -> dict[str, object]:
        return {"CHROM": self.chrom, "POS": self.pos, "REF": self.ref, "ALT": self.alt, "AC": self.ac,
                "AN": self.an, "AF": self.af_text}


def format_float(value: float) -> str:
    """htslib's rendering of a VCF Float: float32, then `%g`."""
    return f"{float(np.float32(value)):g}"
