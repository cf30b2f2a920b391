"""Copy-number segments -> per-gene calls (amplification, gain, loss, deep deletion), with the thresholds.

Pure. Two layouts are read: PCGR's allele-specific segments (`Chromosome Start End nMajor nMinor`: total copy
number = nMajor + nMinor, already purity-adjusted by the caller) and a SEG file (`ID chrom loc.start loc.end
num.mark seg.mean`, log2 ratio), converted to a total copy number with the tumour's purity p and ploidy P when
given: CN = P * (2^log2 - (1 - p)) / p (default p = 1, P = 2).

Calls (on the total copy number CN, ploidy P, default 2), as PCGR's defaults:
  amplification  CN >= 5 (and >= P + 3 for a polyploid tumour)
  gain           P < CN < amplification threshold
  loss           0 < CN < P   (not a deletion biomarker)
  deletion       CN = 0       (homozygous deletion; a deletion biomarker)
Only genes of the knowledge base's copy-number evidence are listed per gene (a whole-genome list of every gene
in every segment would bury the actionable ones); the segment count is kept.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass

from lifebank.errors import RowError, RowsRejected
from lifebank.messages import Msg
from lifebank.precision.liftover import normalise_contig

AMPLIFICATION_MIN_CN = 5


@dataclass(frozen=True, slots=True)
class Segment:
    line: int
    chrom: str
    start: int
    end: int
    copy_number: float


def call(copy_number: float, ploidy: float = 2.0) -> str:
    """The call of one total copy number (see the module's table)."""
    if copy_number >= max(AMPLIFICATION_MIN_CN, ploidy + 3):
        return "amplification"
    if copy_number <= 0.5:
        return "deletion"
    if copy_number > ploidy + 0.5:
        return "gain"
    if copy_number < ploidy - 0.5:
        return "loss"
    return "neutral"


def parse_segments(lines: Iterable[str], *, purity: float | None = None, ploidy: float = 2.0,
                   sample: str | None = None) -> list[Segment]:
    """Segments of the file; for a SEG file of several tumours, those whose `ID` is `sample`."""
    reader = csv.DictReader((line for line in lines if line.strip() and not line.startswith("#")), delimiter="\t")
    columns = reader.fieldnames or []
    pcgr = {"Chromosome", "Start", "End", "nMajor", "nMinor"}
    seg = {"chrom", "loc.start", "loc.end", "seg.mean"}
    if pcgr <= set(columns):
        names = ("Chromosome", "Start", "End")
    elif seg <= set(columns):
        names = ("chrom", "loc.start", "loc.end")
    else:
        wanted = sorted(pcgr - set(columns)) if "nMajor" in columns or "Chromosome" in columns \
            else sorted(seg - set(columns))
        raise RowsRejected(Msg("copy-number segments"), [RowError(1, c, Msg("required column is missing"))
                                                         for c in wanted])
    p = purity if purity else 1.0
    segments, errors = [], []
    for line, row in enumerate(reader, start=2):
        if sample is not None and "ID" in columns and (row.get("ID") or "").strip() != sample:
            continue
        try:
            start, end = int(row[names[1]]), int(row[names[2]])
            if names[0] == "Chromosome":
                cn = float(row["nMajor"]) + float(row["nMinor"])
            else:
                cn = max(0.0, ploidy * (2 ** float(row["seg.mean"]) - (1 - p)) / p)
        except (TypeError, ValueError):
            errors.append(RowError(line, "segment", Msg("start, end and copy number must be numbers")))
            continue
        if end < start:
            errors.append(RowError(line, names[2], Msg("the segment ends before it starts")))
            continue
        segments.append(Segment(line, normalise_contig(row[names[0]]), start, end, cn))
    if errors:
        raise RowsRejected(Msg("copy-number segments"), errors)
    return segments
