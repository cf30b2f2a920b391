"""Imputed genotypes for a whole registry, per distinct typing, kept beside the search index.

Pure (NumPy). Registries repeat typings, and the search index already codes each donor locus as a genotype id,
so a donor's typing at the imputed loci is the tuple of its genotype ids: each distinct tuple is imputed once
(`Imputer` caches too), and `row_key` maps every index row to its tuple's id. Most distinct typings of a large
registry are unambiguous at the set's resolution at every locus (each position fits exactly one allele of the
set): their imputed list, reduced to what matching reads, is one genotype with probability 1 whenever some
phase makes both haplotypes ones the set lists. Those are decided in bulk (one array test per phase), the rest
are imputed one by one. `precompute` fills it for every
row (after an import, in the background at server start), so a search reads probabilities for its candidates
without re-imputing donors; a row added since is imputed on first use.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from lifebank.hla.imputation import CLASSES, Imputer, MatchGenotypes
from lifebank.hla.index import SearchIndex
from lifebank.hla.match_probability import TEN_LOCI, DonorBatch, batch_probabilities
from lifebank.hla.typing import LocusTyping

MISSING = -1


class ImputedRegistry:
    """Per index row, the imputed genotype list of its typing under one frequency set."""

    def __init__(self, index: SearchIndex, imputer: Imputer) -> None:
        self.index = index
        self.imputer = imputer
        self.loci = tuple(locus for locus in TEN_LOCI if locus in imputer.loci)
        self.keys: dict[tuple[int, ...], int] = {}
        self.lists: list[MatchGenotypes | None] = []  # None: the set explains no genotype of the typing
        self.unexplained: list[tuple[tuple[str, str], ...]] = []
        self.row_key = np.full(0, MISSING, dtype=np.int32)
        self._vocab_pairs: dict[tuple[str, int], tuple[int, int] | None] = {}
        columns = [imputer.column[locus] for locus in self.loci]
        self._columns = columns
        known = imputer.haplotypes[imputer.frequencies > 0][:, columns].astype(np.int64)
        self._haplotype_codes = np.unique(self._code(known))
        self.bulk = 0  # typings decided in bulk (unambiguous)

    @staticmethod
    def _code(vocab: np.ndarray) -> np.ndarray:
        """One int64 per haplotype from its vocab indexes (12 bits a locus)."""
        code = np.zeros(vocab.shape[0], dtype=np.int64)
        for c in range(vocab.shape[1]):
            code = (code << 12) | vocab[:, c]
        return code

    def _vocab_pair(self, locus: str, gid: int) -> tuple[int, int] | None:
        """The set alleles behind a locus genotype when each position fits exactly one; None otherwise."""
        key = (locus, gid)
        if key in self._vocab_pairs:
            return self._vocab_pairs[key]
        table = self.index.tables[locus]
        found: tuple[int, int] | None = None
        if gid != 0:
            first, second = table.positions[table.g_first[gid]], table.positions[table.g_second[gid]]
            if first is not None and second is not None:
                c1, c2 = self.imputer.consistent(locus, first), self.imputer.consistent(locus, second)
                if c1.sum() == 1 and c2.sum() == 1:
                    found = (int(np.flatnonzero(c1)[0]), int(np.flatnonzero(c2)[0]))
        self._vocab_pairs[key] = found
        return found

    def _bulk(self, keys: list[tuple[int, ...]]) -> tuple[list[int], list[MatchGenotypes | None]]:
        """Decide the unambiguous typings among `keys` in bulk: (their positions in `keys`, their lists)."""
        rows, pairs = [], []
        for i, key in enumerate(keys):
            found = [self._vocab_pair(locus, gid) for locus, gid in zip(self.loci, key, strict=True)]
            if all(f is not None for f in found):
                rows.append(i)
                pairs.append(found)
        if not rows or len(self._columns) > 5:
            return [], []
        vocab = np.asarray(pairs, dtype=np.int64)  # (k, loci, 2)
        width = vocab.shape[1]
        represented = np.zeros(len(rows), dtype=bool)
        for phase in range(1 << (width - 1)):
            flip = np.asarray([(phase >> c) & 1 for c in range(width)], dtype=np.int64)
            h1 = np.where(flip[None, :] == 1, vocab[:, :, 1], vocab[:, :, 0])
            h2 = np.where(flip[None, :] == 1, vocab[:, :, 0], vocab[:, :, 1])
            represented |= self._known(self._code(h1)) & self._known(self._code(h2))
        out: list[MatchGenotypes | None] = []
        for i in range(len(rows)):
            if not represented[i]:
                out.append(None)
                continue
            classes = np.empty((1, width, 2), dtype=np.int32)
            for c, j in enumerate(self._columns):
                x, y = self.imputer.class_of[j][vocab[i, c, 0]], self.imputer.class_of[j][vocab[i, c, 1]]
                classes[0, c, 0], classes[0, c, 1] = min(x, y), max(x, y)
            out.append(MatchGenotypes(self.loci, classes, np.ones(1)))
        return rows, out

    def _known(self, codes: np.ndarray) -> np.ndarray:
        at = np.searchsorted(self._haplotype_codes, codes)
        at[at == len(self._haplotype_codes)] = 0
        return self._haplotype_codes[at] == codes

    def _typing(self, genotypes: Sequence[int]) -> dict[str, LocusTyping | None]:
        out: dict[str, LocusTyping | None] = {}
        for locus, gid in zip(self.loci, genotypes, strict=True):
            table = self.index.tables[locus]
            first, second = table.positions[table.g_first[gid]], table.positions[table.g_second[gid]]
            out[locus] = None if gid == 0 or first is None or second is None else LocusTyping(locus, first, second)
        return out

    def key_ids(self, rows: np.ndarray) -> np.ndarray:
        """The typing id of each row, imputing typings not seen yet."""
        if len(self.row_key) < self.index.size:
            grown = np.full(self.index.size, MISSING, dtype=np.int32)
            grown[: len(self.row_key)] = self.row_key
            self.row_key = grown
        rows = np.asarray(rows, dtype=np.int64)
        ids = self.row_key[rows]
        todo = rows[ids == MISSING]
        if len(todo):
            stacked = np.stack([self.index.geno[locus][todo] for locus in self.loci], axis=1)
            unique, inverse = np.unique(stacked, axis=0, return_inverse=True)
            found = np.empty(len(unique), dtype=np.int32)
            fresh = []
            for u, genotypes in enumerate(unique.tolist()):
                key = tuple(genotypes)
                kid = self.keys.get(key)
                if kid is None:
                    fresh.append(u)
                    continue
                found[u] = kid
            fresh_keys = [tuple(unique[u].tolist()) for u in fresh]
            bulk_rows, bulk_lists = self._bulk(fresh_keys)
            decided = dict(zip(bulk_rows, bulk_lists, strict=True))
            self.bulk += sum(1 for x in bulk_lists if x is not None)
            for i, (u, key) in enumerate(zip(fresh, fresh_keys, strict=True)):
                kid = self.keys[key] = len(self.lists)
                listed = decided.get(i)
                if listed is not None:
                    self.lists.append(listed)
                    self.unexplained.append(())
                else:  # ambiguous, or unambiguous but no listed phase: impute (and say what is unexplained)
                    imputed = self.imputer.impute(self._typing(key))
                    self.lists.append(self.imputer.match_genotypes(imputed, self.loci) if imputed.represented
                                      else None)
                    self.unexplained.append(imputed.unexplained)
                found[u] = kid
            self.row_key[todo] = found[inverse.ravel()]
            ids = self.row_key[rows]
        return ids

    def precompute(self, chunk: int = 1_000_000) -> int:
        """Impute every row's typing now (at import or server start); returns the number of distinct typings."""
        for start in range(0, self.index.size, chunk):
            self.key_ids(np.arange(start, min(start + chunk, self.index.size)))
        return len(self.lists)

    def probabilities(self, patient: MatchGenotypes, rows: np.ndarray) -> dict[str, Any]:
        """Per row: `p10of10`, `p9of10`, `p8of8`, `p7of8` and `loci[locus] = (p0, p1, p2)`; NaN where the row's
        typing is unrepresented in the set (its probabilities are unknown)."""
        ids = self.key_ids(rows)
        distinct, inverse = np.unique(ids, return_inverse=True)
        inverse = inverse.ravel()
        known = np.asarray([self.lists[k] is not None for k in distinct.tolist()], dtype=bool)
        out: dict[str, Any] = {"loci": {}}
        n = len(rows)
        keys = ("p10of10", "p9of10", "p8of8", "p7of8")
        for key in keys:
            out[key] = np.full(n, np.nan)
        for locus in self.loci:
            out["loci"][locus] = tuple(np.full(n, np.nan) for _ in range(3))
        if not known.any() or len(patient) == 0:
            return out
        lists = [self.lists[k] for k in distinct[known].tolist()]
        batch = batch_probabilities(CLASSES, patient, DonorBatch(lists))  # type: ignore[arg-type]
        position = np.full(len(distinct), -1, dtype=np.int64)
        position[known] = np.arange(int(known.sum()))
        at = position[inverse]
        hit = at >= 0
        for key in keys:
            if key in batch:
                out[key][hit] = batch[key][at[hit]]
        for locus, values in batch["loci"].items():
            for i in range(3):
                out["loci"][locus][i][hit] = values[i][at[hit]]
        return out
