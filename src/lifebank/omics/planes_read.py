"""The allele-plane file of one batch contig: what a subset's AC and AN are counted from (docs/omics-storage.md).

Why: counting a 1,000-sample subset over a 1 Mb region from the sparse genotype rows meant decoding ~7 M
Parquet rows (48 ms of 83 on a quiet machine; issue 10 asks for 5x the bcftools pipeline). Here every site's
ALT alleles are kept per *haplotype* (bit `2 * sample + slot`, slot 0 for the first allele of the GT, 1 for the
second), so a subset's AC is a popcount of the site's bits under the subset's haplotype mask:

- a site with many ALT haplotypes keeps a dense bit-plane (`ceil(2n / 64)` little-endian uint64 words);
- a site with few keeps the sorted list of its ALT haplotype numbers (uint16 when 2n <= 65,536, else uint32;
  sample numbers likewise), whichever is smaller;
- AN counts called alleles: every sample holds `ploidy` of them except the few listed as *exceptions*
  (sample, missing alleles): no-calls, partial no-calls and haploid calls in a diploid record.

The same file holds the small per-site columns a count needs without Parquet (pos, end, ploidy, REF, ALT, and
the whole-batch AC and AN), so a one-shot `lifebank omics af` reads it with NumPy over `mmap` and imports
neither pyarrow nor DuckDB. Results are those of `region_reads.count_alleles` over the sparse rows (tests hold
them equal, and both to bcftools). Layout, little-endian, every array 8-byte aligned:

    b"LBPLANE1"  dense planes (n_dense x words uint64)  ALT haplotype lists  exception samples
    exception missing-allele counts (int8)  per-site arrays  REF and ALT text  JSON footer
    footer length (uint64)  b"LBPLANE1"

The footer names every array's offset, dtype and length (int64 columns are written as int32 when they fit).
"""

from __future__ import annotations

import json
import mmap
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from lifebank.omics.regions import Region

MAGIC = b"LBPLANE1"
SUFFIX = ".lbplanes"
TRAILER = struct.Struct("<Q8s")
# per-site arrays: (name, dtype); `*_end` are running totals (a site's entries run from the previous end)
SITE_ARRAYS = (("dense_row", "<i4"), ("sparse_end", "<i8"), ("exc_end", "<i8"), ("ac", "<i8"), ("an", "<i8"),
               ("ploidy", "i1"), ("pos", "<i4"), ("end", "<i4"), ("ref_end", "<i8"), ("alt_end", "<i8"))


class PlaneFileError(Exception):
    """A file that is not an allele-plane file of this version (readers fall back to the Parquet path)."""


def planes_path(root: Path, dataset: str, batch: int, chrom: str) -> Path:
    """`<root>/planes/dataset=<d>/batch=<n>/chrom=<c>/part-0.lbplanes` (`layout.planes_file`, without pyarrow)."""
    return root / "planes" / f"dataset={dataset}" / f"batch={batch}" / f"chrom={chrom}" / f"part-0{SUFFIX}"


def hap_width(n_samples: int) -> np.dtype:
    return np.dtype("<u2") if 2 * n_samples <= 65_536 else np.dtype("<u4")


def plane_words(n_samples: int) -> int:
    return (2 * n_samples + 63) // 64


@dataclass(slots=True)
class AllelePlanes:
    """An open allele-plane file (memory-mapped; committed files never change, so a process keeps it open)."""

    path: Path
    n_samples: int
    n_sites: int
    words: int
    sorted_pos: bool
    max_span: int
    arrays: dict[str, np.ndarray]
    _map: mmap.mmap

    @classmethod
    def open(cls, path: Path) -> AllelePlanes:
        with path.open("rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size < len(MAGIC) + TRAILER.size:
                raise PlaneFileError(str(path))
            mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        footer_len, magic = TRAILER.unpack_from(mapped, size - TRAILER.size)
        if magic != MAGIC or mapped[:len(MAGIC)] != MAGIC or footer_len > size:
            mapped.close()
            raise PlaneFileError(str(path))
        footer = json.loads(mapped[size - TRAILER.size - footer_len:size - TRAILER.size])
        arrays = {name: np.frombuffer(mapped, dtype=np.dtype(dtype), count=count, offset=offset)
                  for name, (offset, dtype, count) in footer["arrays"].items()}
        words = int(footer["words"])
        arrays["dense"] = arrays["dense"].reshape(-1, words) if words else arrays["dense"].reshape(0, 0)
        return cls(path, int(footer["n_samples"]), int(footer["n_sites"]), words, bool(footer["sorted_pos"]),
                   int(footer["max_span"]), arrays, mapped)

    def rows_in(self, start: int, end: int) -> np.ndarray:
        """Row numbers (file order) of the sites whose POS..END overlaps start..end, as `ChromIndex.rows_in`."""
        pos, ends = self.arrays["pos"], self.arrays["end"]
        if self.sorted_pos:
            low = int(np.searchsorted(pos, max(start - self.max_span, -(2**31)), side="left"))
            high = int(np.searchsorted(pos, min(end, 2**31 - 1), side="right"))
            return low + np.flatnonzero(ends[low:high] >= start)
        return np.flatnonzero((pos <= end) & (ends >= start))

    def alleles(self, rows: np.ndarray) -> tuple[list[str], list[str]]:
        """REF and ALT of the given rows."""
        if not len(rows):
            return [], []
        first, last = int(rows[0]), int(rows[-1])
        if not self.sorted_pos:
            first, last = int(rows.min()), int(rows.max())
        out = []
        for name in ("ref", "alt"):
            ends = self.arrays[f"{name}_end"]
            low = int(ends[first - 1]) if first else 0
            texts = bytes(self.arrays[f"{name}_text"][low:int(ends[last])]).decode("utf-8").split("\n")
            texts.pop()  # each text ends with a newline
            if last - first + 1 != len(rows):
                texts = [texts[i] for i in (rows - first).tolist()]
            out.append(texts)
        return out[0], out[1]

    def counts(self, rows: np.ndarray, member: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """AC and AN of the given rows over the members (a boolean mask by sample number; None: every sample)."""
        a = self.arrays
        if member is None:
            return a["ac"][rows].astype(np.int64), a["an"][rows].astype(np.int64)
        if not len(rows):
            return np.empty(0, np.int64), np.empty(0, np.int64)
        first, last = int(rows.min()), int(rows.max())
        span = slice(first, last + 1)
        hap_member = np.repeat(member.astype(np.uint8), 2)
        # listed ALT haplotypes: the members' ones counted by a running total over the span's entries
        ac = _segment_sums(hap_member, a["sparse"], a["sparse_end"], first, last)
        dense_row = a["dense_row"][span]
        dense = np.flatnonzero(dense_row >= 0)
        if len(dense):
            mask = np.zeros(self.words * 8, np.uint8)
            packed = np.packbits(hap_member, bitorder="little")
            mask[:len(packed)] = packed
            mask_words = mask.view("<u8")
            at = dense_row[dense]
            lo, hi = int(at[0]), int(at[-1])
            planes = a["dense"][lo:hi + 1]
            total = np.empty(hi - lo + 1, np.int64)
            for block in range(0, hi - lo + 1, 2048):  # blocks that stay in the CPU cache
                part = planes[block:block + 2048] & mask_words
                total[block:block + 2048] = np.bitwise_count(part).sum(axis=1, dtype=np.int64)
            ac[dense] = total[at - lo]
        missing = _segment_sums(member.astype(np.int64), a["exc_sample"], a["exc_end"], first, last,
                                weights=a["exc_missing"])
        an = a["ploidy"][span].astype(np.int64) * int(np.count_nonzero(member)) - missing
        local = rows - first
        return ac[local], an[local]

    def close(self) -> None:
        self.arrays = {}
        self._map.close()


def _segment_sums(values: np.ndarray, entries: np.ndarray, ends: np.ndarray, first: int, last: int,
                  weights: np.ndarray | None = None) -> np.ndarray:
    """Per site first..last: the sum of `values[entry]` (times `weights[entry]`) over the site's entries."""
    low = int(ends[first - 1]) if first else 0
    bounds = np.empty(last - first + 2, np.int64)
    bounds[0] = low
    bounds[1:] = ends[first:last + 1]
    picked = values[entries[low:int(bounds[-1])]].astype(np.int64)
    if weights is not None:
        picked *= weights[low:int(bounds[-1])]
    running = np.zeros(len(picked) + 1, np.int64)
    np.cumsum(picked, out=running[1:])
    return running[bounds[1:] - low] - running[bounds[:-1] - low]


def plane_counts(planes: AllelePlanes, region: Region, member: np.ndarray | None) -> dict[str, object]:
    """Columns pos, ref, alt, ac, an of the region's sites in one batch contig (`allele_counts.merge_batch_counts`)."""
    rows = planes.rows_in(region.start, region.end)
    ac, an = planes.counts(rows, member)
    ref, alt = planes.alleles(rows)
    return {"pos": planes.arrays["pos"][rows].astype(np.int64), "ref": ref, "alt": alt, "ac": ac, "an": an}
