"""Which sites of a dataset some sample carries: a compact in-memory index for presence and count answers.

A Beacon asks "does any sample carry this allele?" and "how many such variants lie in this region?" hundreds
of times a second; reading Parquet row groups and counting alleles for each question costs milliseconds.
`build` reads a dataset's committed batches once (through the store's own site index and its sparse genotype
rows) and keeps, per contig of the data, only the sites at least one sample carries (AC > 0) whose REF and
ALT are plain bases: position, last reference base, REF and ALT, sorted by position, the same site of several
batches kept once. A question is then a binary search. Committed batch files never change, so an index stays
true until the catalogue lists another batch: its owner keys it by the dataset's batches (see
`lifebank.sharing.data`).

Memory: about 40 bytes a kept site (two int64 columns and two pointers to shared one-letter strings for SNVs).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from lifebank.omics.queries import BatchRef, VariantStore
from lifebank.omics.regions import chrom_aliases

_PLAIN = re.compile(r"^[ACGTUNRYSWKMBDHV]+$")  # '*' and symbolic alleles (<DEL>, …) are not Beacon alleles
_ALL = (1, 2**31 - 1)


@dataclass(frozen=True, slots=True)
class ContigSites:
    """The carried sites of one contig, sorted by position."""

    pos: np.ndarray    # int64, 1-based POS
    end: np.ndarray    # int64, last reference base (POS + len(REF) - 1)
    ref: np.ndarray    # object (str)
    alt: np.ndarray    # object (str)
    max_span: int      # longest end - pos: how far left of a region an overlapping site can start

    def __len__(self) -> int:
        return len(self.pos)

    def overlapping(self, start: int, end: int) -> np.ndarray:
        """Indexes of the sites whose POS..END overlaps start..end (1-based, inclusive), in position order."""
        low = int(np.searchsorted(self.pos, start - self.max_span, side="left"))
        high = int(np.searchsorted(self.pos, end, side="right"))
        if low >= high:
            return np.empty(0, np.int64)
        window = np.arange(low, high)
        return window[self.end[low:high] >= start]


@dataclass(frozen=True, slots=True)
class SitePresence:
    """Carried sites of one dataset by contig (as the data names them)."""

    contigs: dict[str, ContigSites]

    def __len__(self) -> int:
        return sum(len(c) for c in self.contigs.values())

    def parts(self, chrom: str) -> Iterator[tuple[str, ContigSites]]:
        """The contigs of the data that `chrom` names (`22` and `chr22` are one contig)."""
        aliases = chrom_aliases(chrom)
        for name, sites in self.contigs.items():
            if name in aliases:
                yield name, sites

    def count(self, chrom: str, start: int, end: int) -> int:
        """Carried sites overlapping start..end (1-based, inclusive)."""
        return sum(len(sites.overlapping(start, end)) for _, sites in self.parts(chrom))

    def sites(self, chrom: str, start: int, end: int) -> list[tuple[str, int, str, str]]:
        """(contig, POS, REF, ALT) of the carried sites overlapping start..end, in position order."""
        out: list[tuple[str, int, str, str]] = []
        for name, sites in self.parts(chrom):
            at = sites.overlapping(start, end)
            out += [(name, pos, ref, alt) for pos, ref, alt in zip(sites.pos[at].tolist(), sites.ref[at].tolist(),
                                                                  sites.alt[at].tolist(), strict=True)]
        return out

    def memory_bytes(self) -> int:
        return sum(c.pos.nbytes + c.end.nbytes + c.ref.nbytes + c.alt.nbytes for c in self.contigs.values())


def _carried_sites(store: VariantStore, ref: BatchRef, chrom: str) -> tuple[np.ndarray, ...] | None:
    """pos, end, ref, alt of one batch contig's sites that some sample carries and that have plain alleles."""
    index = store.chrom_index(ref, chrom)
    rows = index.rows_in(*_ALL)
    if not len(rows):
        return None
    low, high = int(rows.site.min()), int(rows.site.max())
    carried = np.zeros(high - low + 1, bool)

    def mark(cols: dict[str, np.ndarray]) -> None:
        alt_call = (cols["a1"] == 1) | (cols["a2"] == 1)
        carried[cols["site"][alt_call] - low] = True

    index.map_genotype_groups(low, high, ("a1", "a2"), mark)
    keep = carried[rows.site - low]
    table = index.read_sites(rows, ["ref", "alt"])
    refs = np.asarray(table["ref"].to_pylist(), dtype=object)
    alts = np.asarray(table["alt"].to_pylist(), dtype=object)
    plain = {value: bool(_PLAIN.match(value)) for value in {*refs.tolist(), *alts.tolist()}}
    keep &= np.fromiter((plain[r] and plain[a] for r, a in zip(refs.tolist(), alts.tolist(), strict=True)),
                        bool, len(refs))
    refs, alts = refs[keep], alts[keep]
    pos = rows.pos[keep].astype(np.int64)
    # plain alleles: the reference span is REF itself (symbolic alleles, whose END comes from INFO, are left out)
    end = pos + np.fromiter((len(r) for r in refs.tolist()), np.int64, len(refs)) - 1
    return pos, end, refs, alts


def _first_of_each(pos: np.ndarray, refs: np.ndarray, alts: np.ndarray) -> np.ndarray | None:
    """Indexes keeping the first of each (POS, REF, ALT) of position-sorted sites (None: no repeat). Only runs
    of one position are compared, so a million sites cost one vector comparison and a short loop."""
    same = np.flatnonzero(pos[1:] == pos[:-1]) + 1  # sites sharing the position of the one before
    if not len(same):
        return None
    drop: list[int] = []
    run_start = -1
    seen: set[tuple[str, str]] = set()
    for i in same.tolist():
        if run_start < 0 or pos[run_start] != pos[i]:
            run_start = i - 1
            seen = {(refs[i - 1], alts[i - 1])}
        key = (refs[i], alts[i])
        if key in seen:
            drop.append(i)
        seen.add(key)
    if not drop:
        return None
    keep = np.ones(len(pos), bool)
    keep[drop] = False
    return np.flatnonzero(keep)


def build(store: VariantStore, batches: Sequence[BatchRef]) -> SitePresence:
    """The carried-sites index of the given batches (one dataset's, as the catalogue lists them)."""
    pieces: dict[str, list[tuple[np.ndarray, ...]]] = {}
    for ref in batches:
        for chrom in ref.chroms:
            found = _carried_sites(store, ref, chrom)
            if found is not None and len(found[0]):
                pieces.setdefault(chrom, []).append(found)
    contigs: dict[str, ContigSites] = {}
    for chrom, parts in pieces.items():
        pos, end, refs, alts = (np.concatenate([p[i] for p in parts]) for i in range(4))
        order = np.argsort(pos, kind="stable")
        pos, end, refs, alts = pos[order], end[order], refs[order], alts[order]
        keep = _first_of_each(pos, refs, alts)
        if keep is not None:  # the same site twice (two records of a file, or two batches) is one site
            pos, end, refs, alts = pos[keep], end[keep], refs[keep], alts[keep]
        span = int((end - pos).max()) if len(pos) else 0
        contigs[chrom] = ContigSites(pos, end, refs, alts, span)
    return SitePresence(contigs)
