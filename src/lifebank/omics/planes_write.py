"""Writing the allele-plane file of one batch contig during an import (format: `planes_read`).

The import encodes each site's ALT haplotypes as it parses the site (`site_alleles`: a dense plane or a list,
whichever is smaller), then hands over, chunk by chunk, the sites (row order) and their sparse genotype rows
(the same arrays that go into the genotypes Parquet table, for the no-call exceptions); `add_chunk` runs on
the import's writer thread. Dense planes go
straight to the file; the lists and exceptions to two side files appended at `close`, followed by the
per-site arrays and the footer. The file is fsynced by the import with the others and renamed into place
with its batch folder, so it exists entirely or not at all.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import BinaryIO

import numpy as np

from lifebank.omics.planes_read import MAGIC, SITE_ARRAYS, TRAILER, hap_width, plane_words

# a site's ALT haplotypes: (count, dense plane bytes or None, haplotype list or None)
SiteAlleles = tuple[int, "np.ndarray | None", "np.ndarray | None"]
NO_ALLELES: SiteAlleles = (0, None, None)


def _pad(handle: BinaryIO) -> int:
    """Zero bytes up to the next multiple of 8; returns the new offset."""
    at = handle.tell()
    if at % 8:
        handle.write(b"\0" * (8 - at % 8))
    return handle.tell()


class PlaneWriter:
    """Accumulates one contig's planes; `add_chunk` per genotype flush, `close` once."""

    def __init__(self, path: Path, n_samples: int) -> None:
        self.path = path
        self.n_samples = n_samples
        self.words = plane_words(n_samples)
        self.width = hap_width(n_samples)
        self.main = path.open("wb")
        self.main.write(MAGIC)
        self.dense_offset = _pad(self.main)
        self.sides = {name: path.with_name(path.name + f".{name}") for name in ("sparse", "exc_sample", "exc_missing")}
        self.side_files = {name: side.open("wb") for name, side in self.sides.items()}
        self.n_dense = 0
        self.counts = {"sparse": 0, "exc": 0}
        self.columns: dict[str, list[np.ndarray]] = {name: [] for name, _ in SITE_ARRAYS}
        self.texts: dict[str, list[bytes]] = {"ref": [], "alt": []}
        self.text_bytes = {"ref": 0, "alt": 0}
        self.rows = 0
        self.sorted_pos = True
        self.last_pos = -(2**31)
        self.max_span = 0

    def site_alleles(self, codes: np.ndarray) -> SiteAlleles:
        """One site's ALT haplotypes from its biallelic allele codes (samples x ploidy int8, C order), on the
        import's parsing thread: a site's own arrays are still in the CPU cache there (a vectorised pass over a
        whole chunk's sparse rows at flush cost ~5x more CPU a site)."""
        alt = codes == 1
        if codes.shape[1] == 1:  # haploid record: haplotype 2 * sample
            hap = np.flatnonzero(alt[:, 0]) * 2
            if len(hap) * self.width.itemsize <= self.words * 8:
                return len(hap), None, hap.astype(self.width)
            plane = np.zeros(2 * len(codes), bool)
            plane[hap] = True
            return len(hap), np.packbits(plane, bitorder="little"), None
        flat = alt.ravel()  # entry 2 * sample + slot
        count = int(np.count_nonzero(flat))
        if count * self.width.itemsize > self.words * 8:
            return count, np.packbits(flat, bitorder="little"), None
        return count, None, np.flatnonzero(flat).astype(self.width)

    def add_chunk(self, ploidy: np.ndarray, pos: np.ndarray, end: np.ndarray, ref: list[str], alt: list[str],
                  alleles: list[SiteAlleles], row: np.ndarray, sample: np.ndarray, a1: np.ndarray,
                  a2: np.ndarray) -> None:
        """Sites `self.rows ..`: their ploidy, pos, end, REF, ALT, `site_alleles` (or `NO_ALLELES` for a file
        without samples), and their sparse rows (`row` is the site's offset within this chunk, ascending)."""
        n_sites = len(ploidy)
        if not n_sites:
            return
        ploidy = ploidy.astype(np.int8)
        ac = np.fromiter((item[0] for item in alleles), np.int64, n_sites)
        planes = [item[1] for item in alleles if item[1] is not None]
        dense_row = np.full(n_sites, -1, np.int32)
        if planes:
            dense = np.fromiter((item[1] is not None for item in alleles), bool, n_sites)
            dense_row[dense] = np.arange(self.n_dense, self.n_dense + len(planes), dtype=np.int32)
            block = np.zeros((len(planes), self.words * 8), np.uint8)
            block[:, :len(planes[0])] = np.stack(planes)
            self.main.write(block.tobytes())
            self.n_dense += len(planes)
        lists = [item[2] for item in alleles if item[2] is not None]
        hap = np.concatenate(lists) if lists else np.empty(0, self.width)
        sparse_counts = np.fromiter((0 if item[2] is None else len(item[2]) for item in alleles), np.int64, n_sites)
        self.side_files["sparse"].write(hap.astype(self.width, copy=False).tobytes())
        # exceptions: samples with fewer called alleles than the site's ploidy
        called = (a1 >= 0).astype(np.int8) + (a2 >= 0)
        short = ploidy[row] - called
        exc = short != 0
        self.side_files["exc_sample"].write(sample[exc].astype(self.width).tobytes())
        self.side_files["exc_missing"].write(short[exc].astype(np.int8).tobytes())
        exc_rows = row[exc]
        exc_counts = np.bincount(exc_rows, minlength=n_sites)
        missing = np.bincount(exc_rows, weights=short[exc], minlength=n_sites).astype(np.int64)
        self.columns["dense_row"].append(dense_row)
        self.columns["sparse_end"].append(self.counts["sparse"] + np.cumsum(sparse_counts, dtype=np.int64))
        self.columns["exc_end"].append(self.counts["exc"] + np.cumsum(exc_counts, dtype=np.int64))
        self.counts["sparse"] += int(sparse_counts.sum())
        self.counts["exc"] += int(exc_counts.sum())
        self.columns["ac"].append(ac)
        self.columns["an"].append(ploidy.astype(np.int64) * self.n_samples - missing)
        self.columns["ploidy"].append(ploidy)
        pos32, end32 = pos.astype(np.int32), end.astype(np.int32)
        self.columns["pos"].append(pos32)
        self.columns["end"].append(end32)
        if self.sorted_pos and (int(pos32[0]) < self.last_pos or bool((np.diff(pos32) < 0).any())):
            self.sorted_pos = False
        self.last_pos = int(pos32[-1])
        self.max_span = max(self.max_span, int((end32.astype(np.int64) - pos32).max()))
        for name, values in (("ref", ref), ("alt", alt)):
            encoded = [(text + "\n").encode("utf-8") for text in values]
            lengths = np.fromiter(map(len, encoded), np.int64, len(encoded))
            self.columns[f"{name}_end"].append(self.text_bytes[name] + np.cumsum(lengths))
            self.text_bytes[name] += int(lengths.sum())
            self.texts[name].append(b"".join(encoded))
        self.rows += n_sites

    def close(self) -> None:
        """Append the side files, the per-site arrays and the footer (the file stays open on error: `discard`)."""
        arrays: dict[str, tuple[int, str, int]] = {
            "dense": (self.dense_offset, "<u8", self.n_dense * self.words)}
        for handle in self.side_files.values():
            handle.close()
        sizes = {"sparse": (self.width.str, self.counts["sparse"]), "exc_sample": (self.width.str, self.counts["exc"]),
                 "exc_missing": ("i1", self.counts["exc"])}
        for name, side in self.sides.items():
            offset = _pad(self.main)
            with side.open("rb") as handle:
                shutil.copyfileobj(handle, self.main, 1 << 20)
            arrays[name] = (offset, *sizes[name])
            side.unlink()
        for name, dtype in SITE_ARRAYS:
            offset = _pad(self.main)
            parts = self.columns[name]
            data = np.concatenate(parts) if parts else np.empty(0, dtype)
            if dtype == "<i8" and (not len(data) or int(data.max()) < 2**31):
                dtype = "<i4"  # running totals and counts that fit (the footer names each array's type)
            data = data.astype(dtype)
            self.main.write(data.tobytes())
            arrays[name] = (offset, dtype, len(data))
        for name in ("ref", "alt"):
            offset = _pad(self.main)
            self.main.write(b"".join(self.texts[name]))
            arrays[f"{name}_text"] = (offset, "u1", self.text_bytes[name])
        footer = json.dumps({"version": 1, "n_samples": self.n_samples, "n_sites": self.rows, "words": self.words,
                             "sorted_pos": self.sorted_pos, "max_span": self.max_span, "arrays": arrays},
                            separators=(",", ":")).encode()
        self.main.write(footer)
        self.main.write(TRAILER.pack(len(footer), MAGIC))
        self.main.close()

    def discard(self) -> None:
        """Close every handle after a failed import (the staging folder is removed by the service)."""
        for handle in (self.main, *self.side_files.values()):
            handle.close()
