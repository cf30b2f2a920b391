"""Imputed genotypes for a whole registry, per distinct typing, kept beside the search index.

Pure (NumPy). Registries repeat typings, and the search index already codes each donor locus as a genotype id,
so a donor's typing at the imputed loci is the tuple of its genotype ids: each distinct tuple is imputed once
(`Imputer` caches too), and `row_key` maps every index row to its tuple's id. `precompute` fills it for every
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
            for u, genotypes in enumerate(unique.tolist()):
                key = tuple(genotypes)
                kid = self.keys.get(key)
                if kid is None:
                    kid = self.keys[key] = len(self.lists)
                    imputed = self.imputer.impute(self._typing(key))
                    self.lists.append(self.imputer.match_genotypes(imputed, self.loci) if imputed.represented else None)
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
