"""Input files as uploaded (name -> bytes) -> `TumourInputs`: the one place every adapter (CLI, API, page,
demo, re-run) reads a tumour's files, so they all parse them the same way.

Pure. Files may be gzip-compressed (detected by their magic bytes, not their name).
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field
from typing import Any

from lifebank.errors import ValidationFailed
from lifebank.precision.cna_input import parse_segments
from lifebank.precision.fusion_input import parse_fusions
from lifebank.precision.interpret import DEFAULT_TARGET_MB, TumourInputs
from lifebank.precision.maf_input import parse_maf
from lifebank.precision.vcf_input import parse_vcf

GENOMES = ("GRCh37", "GRCh38")
KINDS = ("vcf", "maf", "cna", "fusions")


@dataclass
class Options:
    tumour_type: str
    genome: str | None = None          # None: GRCh38 for a VCF, the MAF's NCBI_Build for a MAF
    sample: str | None = None
    purity: float | None = None
    ploidy: float | None = None
    target_size_mb: float = DEFAULT_TARGET_MB
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"tumour_type": self.tumour_type, "genome": self.genome, "sample": self.sample,
                "purity": self.purity, "ploidy": self.ploidy, "target_size_mb": self.target_size_mb}


def text_of(data: bytes) -> str:
    raw = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
    return raw.decode("utf-8", errors="replace")


def check_options(options: Options) -> None:
    if options.genome is not None and options.genome not in GENOMES:
        raise ValidationFailed("genome {genome!r} is not GRCh37 or GRCh38", genome=options.genome)
    if options.purity is not None and not 0 < options.purity <= 1:
        raise ValidationFailed("purity {value} is not a fraction in (0, 1]", value=options.purity)
    if options.ploidy is not None and not 0 < options.ploidy <= 10:
        raise ValidationFailed("ploidy {value} is not between 0 and 10", value=options.ploidy)
    if not options.target_size_mb > 0:
        raise ValidationFailed("the target size must be more than 0 Mb")


def tumour_inputs(files: dict[str, bytes], options: Options) -> TumourInputs:
    """Parse each given file (`vcf`, `maf`, `cna`, `fusions`); a VCF or a MAF is required, not both."""
    check_options(options)
    if ("vcf" in files) == ("maf" in files):
        raise ValidationFailed("give the tumour's variants as one VCF or one MAF")
    if "vcf" in files:
        variants = parse_vcf(text_of(files["vcf"]).splitlines(), declared_genome=options.genome or "GRCh38",
                             sample=options.sample)
    else:
        variants = parse_maf(text_of(files["maf"]).splitlines(), declared_genome=options.genome, sample=options.sample)
    segments = parse_segments(text_of(files["cna"]).splitlines(), purity=options.purity,
                              ploidy=options.ploidy or 2.0, sample=options.sample) if "cna" in files else []
    fusions = parse_fusions(text_of(files["fusions"]).splitlines(), sample=options.sample) \
        if "fusions" in files else []
    return TumourInputs(options.tumour_type, variants, segments, fusions, purity=options.purity,
                        ploidy=options.ploidy, target_size_mb=options.target_size_mb)
