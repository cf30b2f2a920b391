"""Genomic regions as people type them (`chr22:10,510,000-10,520,000`), 1-based and inclusive like bcftools -r."""

from __future__ import annotations

import re
from dataclasses import dataclass

from lifebank.errors import ValidationFailed

_REGION = re.compile(r"^(?P<chrom>[^:\s]+)(?::(?P<start>[\d,]+)?(?:-(?P<end>[\d,]+)?)?)?$")
MAX_POSITION = 2**31 - 1


@dataclass(frozen=True, slots=True)
class Region:
    chrom: str
    start: int
    end: int

    def __str__(self) -> str:
        return f"{self.chrom}:{self.start}-{self.end}"

    @property
    def length(self) -> int:
        return self.end - self.start + 1


def parse_region(text: str) -> Region:
    """`CHR`, `CHR:POS`, `CHR:START-END` or `CHR:START-` (bcftools' forms); positions are 1-based, inclusive."""
    match = _REGION.match(text.strip())
    if not match:
        raise ValidationFailed("region {text!r} is not CHR:START-END", text=text)
    chrom = match["chrom"]
    raw_start, raw_end = match["start"], match["end"]
    start = int(raw_start.replace(",", "")) if raw_start else 1
    if raw_end:
        end = int(raw_end.replace(",", ""))
    elif raw_start and "-" not in text:
        end = start
    else:
        end = MAX_POSITION
    if start < 1 or end < start or end > MAX_POSITION:
        raise ValidationFailed("region {text!r}: need 1 <= START <= END", text=text)
    return Region(chrom, start, end)


def chrom_aliases(chrom: str) -> list[str]:
    """The same contig with and without the `chr` prefix (GRCh38 VCFs use `chr22`, NCBI tables `22`)."""
    if chrom.startswith("chr"):
        return [chrom, chrom[3:]]
    return [chrom, f"chr{chrom}"]
