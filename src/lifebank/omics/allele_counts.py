"""AC, AN and AF as `bcftools +fill-tags -- -t AC,AN,AF` computes them, and how they are printed.

AN counts called alleles (a no-call contributes nothing, a haploid call one allele), AC counts ALT
alleles, and AF = AC/AN stored as a 32-bit float and printed with six significant digits (htslib's
`%g`); when AN is 0 bcftools leaves AF missing ('.').
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import overload

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


class AlleleCounts(Sequence[AlleleCount]):
    """AC/AN/AF of many sites as columns (NumPy arrays), as the store's query returns them.

    A 1 Mb region holds ~20,000 sites: building one Python object per site cost as much as the DuckDB
    aggregation itself, so the query result stays columnar. AF is computed for every site at once
    (AC/AN in double precision, stored as float32, NaN where AN is 0 - bcftools' missing AF). Indexing or
    iterating still yields `AlleleCount` values, so callers that want one object per site keep working.
    """

    __slots__ = ("chrom", "pos", "ref", "alt", "ac", "an", "af_values")

    def __init__(self, chrom: Sequence[str], pos: np.ndarray, ref: Sequence[str], alt: Sequence[str],
                 ac: np.ndarray, an: np.ndarray) -> None:
        if not len(chrom) == len(pos) == len(ref) == len(alt) == len(ac) == len(an):
            raise ValueError("AlleleCounts columns differ in length")
        self.chrom = list(chrom)
        self.pos = np.asarray(pos, dtype=np.int64)
        self.ref = list(ref)
        self.alt = list(alt)
        self.ac = np.asarray(ac, dtype=np.int64)
        self.an = np.asarray(an, dtype=np.int64)
        with np.errstate(divide="ignore", invalid="ignore"):
            self.af_values = np.where(self.an > 0, self.ac / np.maximum(self.an, 1), np.nan).astype(np.float32)

    @classmethod
    def from_counts(cls, counts: Iterable[AlleleCount]) -> AlleleCounts:
        rows = list(counts)
        return cls([c.chrom for c in rows], np.array([c.pos for c in rows], dtype=np.int64),
                   [c.ref for c in rows], [c.alt for c in rows], np.array([c.ac for c in rows], dtype=np.int64),
                   np.array([c.an for c in rows], dtype=np.int64))

    def __len__(self) -> int:
        return len(self.ref)

    @overload
    def __getitem__(self, index: int) -> AlleleCount: ...

    @overload
    def __getitem__(self, index: slice) -> AlleleCounts: ...

    def __getitem__(self, index: int | slice) -> AlleleCount | AlleleCounts:
        if isinstance(index, slice):
            return AlleleCounts(self.chrom[index], self.pos[index], self.ref[index], self.alt[index],
                                self.ac[index], self.an[index])
        return AlleleCount(self.chrom[index], int(self.pos[index]), self.ref[index], self.alt[index],
                           int(self.ac[index]), int(self.an[index]))

    def __iter__(self) -> Iterator[AlleleCount]:
        for row in zip(self.chrom, self.pos.tolist(), self.ref, self.alt, self.ac.tolist(), self.an.tolist(),
                       strict=True):
            yield AlleleCount(*row)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, AlleleCounts | list | tuple):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable container semantics, like list

    def __repr__(self) -> str:
        return f"AlleleCounts({len(self)} sites)"

    def af_texts(self) -> list[str]:
        """AF of every site as bcftools prints it (float32, `%g`; '.' when AN is 0).

        Each distinct value is formatted once (a region's rare variants share a few hundred AFs), the texts
        then gathered by index.
        """
        if not len(self.af_values):
            return []
        # distinct values by a sort, not np.unique (which imports numpy.ma: ~30 ms of a one-shot `omics af`)
        order = np.argsort(self.af_values, kind="stable")
        ordered = self.af_values[order]
        starts = np.ones(len(ordered), bool)
        starts[1:] = ordered[1:] != ordered[:-1]  # NaN != NaN: each missing AF is its own '.', still right
        at = np.empty(len(ordered), np.int64)
        at[order] = np.cumsum(starts) - 1
        texts = np.array(["." if np.isnan(v) else f"{v:g}" for v in ordered[starts].astype(np.float64).tolist()],
                         dtype=object)
        return texts[at].tolist()

    def as_rows(self) -> list[dict[str, object]]:
        """The rows `AlleleCount.as_row` gives, built column-wise."""
        return [{"CHROM": chrom, "POS": pos, "REF": ref, "ALT": alt, "AC": ac, "AN": an, "AF": af}
                for chrom, pos, ref, alt, ac, an, af in zip(self.chrom, self.pos.tolist(), self.ref, self.alt,
                                                            self.ac.tolist(), self.an.tolist(), self.af_texts(),
                                                            strict=True)]

    def to_tsv(self) -> str:
        """CHROM POS REF ALT AC AN AF lines (no header), the columns of `bcftools query` over +fill-tags output."""
        if not len(self):
            return ""
        lines = map("\t".join, zip(self.chrom, map(str, self.pos.tolist()), self.ref, self.alt,
                                   _int_texts(self.ac), _int_texts(self.an), self.af_texts(), strict=True))
        return "\n".join(lines) + "\n"


def _int_texts(values: np.ndarray) -> list[str]:
    """Counts as text; AC and AN are small and repeat, so each value up to the largest is formatted once and
    looked up (a third of the TSV's time for 20,000 sites went to `str` of the two count columns)."""
    if not len(values):
        return []
    top = int(values.max())
    if int(values.min()) < 0 or top > 1 << 16:
        return list(map(str, values.tolist()))
    table = list(map(str, range(top + 1)))
    return [table[v] for v in values.tolist()]


def merge_batch_counts(parts: Sequence[tuple[str, str, dict[str, object]]]) -> AlleleCounts:
    """AC/AN of one region from several batch contigs, `(dataset, chrom, columns)` with columns pos (array), ref,
    alt (lists), ac, an (arrays) in site order: one part is returned as it is (file order is position order);
    several are summed per (dataset, chrom, pos, ref, alt) and ordered by dataset, chrom and position."""
    if not parts:
        return AlleleCounts([], np.empty(0, np.int64), [], [], np.empty(0, np.int64), np.empty(0, np.int64))
    if len(parts) == 1:
        _, chrom, columns = parts[0]
        pos = np.asarray(columns["pos"], np.int64)
        return AlleleCounts([chrom] * len(pos), pos, list(columns["ref"]), list(columns["alt"]),  # type: ignore[call-overload]
                            columns["ac"], columns["an"])  # type: ignore[arg-type]
    merged: dict[tuple[str, str, int, str, str], list[int]] = {}
    for dataset, chrom, columns in parts:
        for pos, ref_allele, alt, ac, an in zip(np.asarray(columns["pos"]).tolist(), columns["ref"],  # type: ignore[call-overload]
                                                columns["alt"], np.asarray(columns["ac"]).tolist(),
                                                np.asarray(columns["an"]).tolist(), strict=True):
            total = merged.setdefault((dataset, chrom, pos, ref_allele, alt), [0, 0])
            total[0] += ac
            total[1] += an
    ordered = sorted(merged.items(), key=lambda item: (item[0][0], item[0][1], item[0][2]))
    return AlleleCounts.from_counts(AlleleCount(chrom, pos, ref_allele, alt, ac, an)
                                    for (_, chrom, pos, ref_allele, alt), (ac, an) in ordered)
