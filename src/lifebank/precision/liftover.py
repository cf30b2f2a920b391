"""GRCh37 -> GRCh38 positions and alleles with pyliftover over Ensembl's chain (primary chromosomes only).

Pure (pyliftover is a pure-Python chain reader). Contig names are normalised first (`chr7` and `7` are the same
contig; `chrM`/`M` is `MT`), because Ensembl chains use bare names while many VCFs use `chr`. A position that
maps to the minus strand has its alleles reverse-complemented; one that does not map (deleted in GRCh38) is
None, and the caller reports it as unlifted.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

_COMPLEMENT = str.maketrans("ACGTNacgtn", "TGCANtgcan")
PRIMARY = frozenset([str(i) for i in range(1, 23)] + ["X", "Y", "MT"])


@lru_cache(maxsize=4096)
def normalise_contig(name: str) -> str:
    """`chr7` -> `7`, `chrM`/`M` -> `MT`, `chrX` -> `X`; anything else unchanged but for the prefix."""
    value = name.strip()
    if value[:3].lower() == "chr":
        value = value[3:]
    if value.upper() in ("M", "MT"):
        return "MT"
    return value.upper() if value.upper() in ("X", "Y") else value


def reverse_complement(allele: str) -> str:
    return allele.translate(_COMPLEMENT)[::-1]


class Lifter:
    """GRCh37 -> GRCh38 over one chain file (loaded once; a few hundred ms)."""

    def __init__(self, chain: Path) -> None:
        from pyliftover import LiftOver

        self.chain = chain
        self._lift = LiftOver(str(chain))

    def position(self, chrom: str, pos: int) -> tuple[str, int, str] | None:
        """(contig, 1-based position, strand) on GRCh38, or None."""
        hits = self._lift.convert_coordinate(normalise_contig(chrom), pos - 1)
        if not hits:
            return None
        contig, zero_based, strand = hits[0][0], hits[0][1], hits[0][2]
        return normalise_contig(contig), int(zero_based) + 1, strand

    def allele(self, chrom: str, pos: int, ref: str, alt: str) -> tuple[str, int, str, str] | None:
        """A VCF-style allele on GRCh38 (both ends of a multi-base REF must map, consistently)."""
        start = self.position(chrom, pos)
        if start is None:
            return None
        contig, new_pos, strand = start
        if len(ref) > 1:
            end = self.position(chrom, pos + len(ref) - 1)
            if end is None or end[0] != contig or abs(end[1] - new_pos) != len(ref) - 1:
                return None
        if strand == "-":
            new_pos = new_pos - len(ref) + 1
            ref, alt = reverse_complement(ref), reverse_complement(alt)
        return contig, new_pos, ref, alt
