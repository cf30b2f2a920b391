"""A process's index of one committed (batch, contig) file pair, and the reads it makes cheap.

Batch files never change once the catalogue lists them, so both files' footers are parsed once, and the
small per-site columns (site, pos, end, ploidy, phased_ref: 14 bytes a site) of a sites row group are
decoded the first time a region touches it and then kept. A region becomes a test of each row group's
`pos`/`end` statistics, a mask over the kept columns of the few groups that can overlap, and the read of
only those row groups' other columns (pyarrow, no SQL planning: a DuckDB statement spent ~6-15 ms binding
and planning over a many-row-group file). A one-shot process decodes only the groups its region touches.
No genotype data and no site text columns are cached: every query decodes the row groups it needs.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

GENOTYPE_COLUMNS = ("site", "sample", "a1", "a2")
KEY_COLUMNS = ("site", "pos", "end", "ploidy", "phased_ref")
T = TypeVar("T")
TEXT_COLUMNS = ("id", "ref", "alt", "qual", "filter", "info")
# Decoded text columns of sites row groups kept by a warm process (least recently used dropped first). A
# million simulated sites take ~25 MiB; sites with long INFO JSON more, hence the bound.
TEXT_CACHE_BYTES = 256 * 2**20

_text_cache: OrderedDict[tuple[Path, int], pa.Table] = OrderedDict()
_text_bytes = 0
_text_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None


def _reader_pool() -> ThreadPoolExecutor:
    """Threads that decode genotype row groups side by side (pyarrow and NumPy release the GIL)."""
    global _pool
    with _text_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=max(2, min(4, os.cpu_count() or 2)),
                                       thread_name_prefix="omics-read")
        return _pool


def text_cache_bytes() -> int:
    """Bytes of decoded sites text columns kept by this process."""
    return _text_bytes


def _numpy(column: pa.ChunkedArray) -> np.ndarray:
    if column.num_chunks == 1:
        return column.chunk(0).to_numpy(zero_copy_only=False)
    return column.to_numpy()


def _row_offsets(meta: pq.FileMetaData) -> np.ndarray:
    """First row of every row group, plus the total row count at the end."""
    counts = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
    return np.concatenate([[0], np.cumsum(counts, dtype=np.int64)]).astype(np.int64)


def _bounds(meta: pq.FileMetaData, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Min and max of one column in every row group, from the footer's statistics.

    A row group without statistics gets the widest bounds, so it is always read (never wrongly skipped).
    """
    column = meta.schema.to_arrow_schema().get_field_index(name)
    low = np.full(meta.num_row_groups, np.iinfo(np.int64).min, dtype=np.int64)
    high = np.full(meta.num_row_groups, np.iinfo(np.int64).max, dtype=np.int64)
    for i in range(meta.num_row_groups):
        stats = meta.row_group(i).column(column).statistics
        if stats is not None and stats.has_min_max:
            low[i], high[i] = int(stats.min), int(stats.max)
    return low, high


@dataclass(frozen=True, slots=True)
class SiteRows:
    """Sites of one batch's contig that a region overlaps, in file order: row numbers and their key columns."""

    rows: np.ndarray         # int64 row numbers in the sites file
    site: np.ndarray         # int64 batch-local site numbers
    pos: np.ndarray          # int64
    ploidy: np.ndarray       # int8
    phased_ref: np.ndarray   # bool

    def __len__(self) -> int:
        return len(self.rows)


@dataclass(slots=True)
class ChromIndex:
    """Footers and row-group bounds of one batch's contig files, and the key columns of the groups read so far."""

    sites_path: Path
    genotypes_path: Path
    sites_meta: pq.FileMetaData
    sites_offsets: np.ndarray
    pos_low: np.ndarray       # per sites row group: min pos
    end_high: np.ndarray      # per sites row group: max end
    genotypes_meta: pq.FileMetaData
    genotype_low: np.ndarray  # per genotypes row group: min and max site
    genotype_high: np.ndarray
    groups: dict[int, dict[str, np.ndarray]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def load(cls, sites_path: Path, genotypes_path: Path) -> ChromIndex:
        sites_meta = pq.read_metadata(sites_path)
        genotypes_meta = pq.read_metadata(genotypes_path)
        pos_low, _ = _bounds(sites_meta, "pos")
        _, end_high = _bounds(sites_meta, "end")
        genotype_low, genotype_high = _bounds(genotypes_meta, "site")
        return cls(sites_path, genotypes_path, sites_meta, _row_offsets(sites_meta), pos_low, end_high,
                   genotypes_meta, genotype_low, genotype_high)

    def _group(self, number: int) -> dict[str, np.ndarray]:
        cached = self.groups.get(number)
        if cached is None:
            table = pq.ParquetFile(self.sites_path, metadata=self.sites_meta).read_row_group(
                number, columns=list(KEY_COLUMNS), use_threads=False)
            cached = {name: table[name].to_numpy(zero_copy_only=False) for name in KEY_COLUMNS}
            for name in ("site", "pos", "end"):
                cached[name] = cached[name].astype(np.int64)
            with self.lock:
                self.groups[number] = cached
        return cached

    def rows_in(self, start: int, end: int) -> SiteRows:
        """The sites whose reference span POS..END overlaps start..end, in file order."""
        parts = []
        for number in np.flatnonzero((self.pos_low <= end) & (self.end_high >= start)).tolist():
            group = self._group(number)
            hit = np.flatnonzero((group["pos"] <= end) & (group["end"] >= start))
            if len(hit):
                parts.append((hit + self.sites_offsets[number], {k: v[hit] for k, v in group.items()}))
        if not parts:
            return SiteRows(np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int64),
                            np.empty(0, np.int8), np.empty(0, bool))
        if len(parts) == 1:
            rows, cols = parts[0]
        else:
            rows = np.concatenate([p[0] for p in parts])
            cols = {k: np.concatenate([p[1][k] for p in parts]) for k in KEY_COLUMNS}
        return SiteRows(rows, cols["site"], cols["pos"], cols["ploidy"], cols["phased_ref"])

    def warm(self) -> int:
        """Decode every row group's key and text columns now (a server at start-up); returns the text bytes kept."""
        for number in range(len(self.sites_offsets) - 1):
            self._group(number)
            self._text_group(number)
        return text_cache_bytes()

    def _text_group(self, number: int) -> pa.Table:
        """The text columns of one sites row group, decoded once and kept (bounded, least recently used out)."""
        global _text_bytes
        key = (self.sites_path, number)
        with _text_lock:
            table = _text_cache.get(key)
            if table is not None:
                _text_cache.move_to_end(key)
                return table
        table = pq.ParquetFile(self.sites_path, metadata=self.sites_meta).read_row_group(
            number, columns=list(TEXT_COLUMNS), use_threads=False)
        with _text_lock:
            if key not in _text_cache:
                _text_cache[key] = table
                _text_bytes += table.nbytes
                while _text_bytes > TEXT_CACHE_BYTES and len(_text_cache) > 1:
                    _, dropped = _text_cache.popitem(last=False)
                    _text_bytes -= dropped.nbytes
        return table

    def read_sites(self, found: SiteRows, columns: list[str]) -> pa.Table:
        """The given text columns (`TEXT_COLUMNS`) of the found rows, from their row groups."""
        if not len(found):
            return pq.ParquetFile(self.sites_path, metadata=self.sites_meta).schema_arrow.empty_table().select(
                columns)
        group_of = np.searchsorted(self.sites_offsets, found.rows, side="right") - 1
        pieces = []
        # np.unique and Table.take would import numpy.ma and pyarrow.compute (~0.1 s of a one-shot command):
        # a region's rows of one row group are almost always a contiguous run, read as a slice
        for number in sorted(set(group_of.tolist())):
            hit = group_of == number
            local = found.rows[hit] - self.sites_offsets[number]
            table = self._text_group(number).select(columns)
            first, count = int(local[0]), len(local)
            if int(local[-1]) - first + 1 == count and (count < 2 or bool((np.diff(local) == 1).all())):
                pieces.append((np.flatnonzero(hit), table.slice(first, count)))
            else:
                pieces.append((np.flatnonzero(hit), table.take(pa.array(local))))
        if len(pieces) == 1:
            return pieces[0][1]
        table = pa.concat_tables([piece for _, piece in pieces])
        order = np.concatenate([at for at, _ in pieces])
        if (np.diff(order) > 0).all():
            return table
        return table.take(pa.array(np.argsort(order, kind="stable")))

    def map_genotype_groups(self, low_site: int, high_site: int, columns: tuple[str, ...],
                               task: Callable[[dict[str, np.ndarray]], T]) -> list[T]:
        """`task` applied to the sparse genotype rows with low_site <= site <= high_site, row group by row group.

        Only row groups whose `site` statistics overlap the range are decoded, each on a reader thread, and
        handed over (as NumPy arrays, `site` first) while still in the CPU cache; rows are sorted by site, so
        the range is cut out by binary search. Results come back in file order.
        """
        groups = np.flatnonzero((self.genotype_high >= low_site) & (self.genotype_low <= high_site)).tolist()
        wanted = list(dict.fromkeys(("site", *columns)))

        def run(number: int) -> tuple[bool, T | None]:
            table = pq.ParquetFile(self.genotypes_path, metadata=self.genotypes_meta, memory_map=True).read_row_group(
                number, columns=wanted, use_threads=False)
            cols = {name: _numpy(table[name]) for name in wanted}
            site = cols["site"]
            first = int(np.searchsorted(site, low_site, side="left"))
            last = int(np.searchsorted(site, high_site, side="right"))
            if first == last:
                return False, None
            if first or last < len(site):
                cols = {name: values[first:last] for name, values in cols.items()}
            return True, task(cols)

        return [value for ok, value in _reader_pool().map(run, groups) if ok]  # type: ignore[misc]

    def genotype_rows(self, low_site: int, high_site: int,
                      columns: tuple[str, ...] = GENOTYPE_COLUMNS) -> dict[str, np.ndarray]:
        """Columns of the sparse genotype rows with low_site <= site <= high_site, as NumPy arrays.

        Only row groups whose `site` statistics overlap the range are decoded (pyarrow decodes the
        columns on its thread pool); rows are sorted by site, so the range is cut out by binary search.
        """
        groups = np.flatnonzero((self.genotype_high >= low_site) & (self.genotype_low <= high_site)).tolist()
        wanted = list(dict.fromkeys(("site", *columns)))
        if not groups:
            schema = pq.ParquetFile(self.genotypes_path, metadata=self.genotypes_meta).schema_arrow
            return {name: np.empty(0, dtype=schema.field(name).type.to_pandas_dtype()) for name in wanted}
        table = pq.ParquetFile(self.genotypes_path, metadata=self.genotypes_meta, memory_map=True).read_row_groups(
            groups, columns=wanted, use_threads=True)
        site = table["site"].to_numpy()
        first = int(np.searchsorted(site, low_site, side="left"))
        last = int(np.searchsorted(site, high_site, side="right"))
        out = {"site": site[first:last]}
        for name in wanted:
            if name != "site":
                out[name] = table[name].slice(first, last - first).to_numpy(zero_copy_only=False)
        return out
