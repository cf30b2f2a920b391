"""Imputation: the genotypes (pairs of haplotypes) a typing is consistent with, and their probabilities.

Pure (NumPy). Under a haplotype frequency set with haplotype frequencies f, a genotype {h1, h2} has prior
probability f1 f2 (2 f1 f2 when h1 != h2: two orderings, Hardy-Weinberg); a typing keeps the genotypes that could
have produced it and normalises. A genotype explains a typing when at every typed locus its two alleles can be
laid on the two typed positions in one orientation or the other (GL `+` is unphased, so each locus chooses its
orientation independently); an untyped locus accepts anything. This is the computation GRIMM (NMDP) and Atlas
(Anthony Nolan) perform; here it is written over boolean arrays.

*Expanding alleles to the set's resolution*: every allele name of the set stands for the current alleles it
covers (`coverage`): a two-field or `g` name, its ARD group (every allele whose two-field ARD name - py-ard's
lgx - is the name, plus the alleles the name prefixes); a `G`/`P` name, its IMGT members. An expressed name covers
only expressed alleles and a null name (`A*01:16N`) only null ones, so a null allele hidden in an allele list
(`A*01:01/A*01:16N`) becomes a probability, not a certainty. A position is consistent with a set allele when they
share a covered allele. A typing no genotype explains (an allele the set never saw) is *unrepresented*: the result
says which positions, and nothing is guessed.

The imputed list is cached per distinct typing (registries repeat typings enormously).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from lifebank.hla.frequencies import FrequencySet
from lifebank.hla.nomenclature import Nomenclature, split_allele
from lifebank.hla.typing import LocusTyping, Position

CACHE_SIZE = 200_000
_LGX_MEMBERS: dict[int, tuple[Nomenclature, dict[str, list[str]]]] = {}


def lgx_members(nom: Nomenclature) -> dict[str, list[str]]:
    """ARD two-field name -> every current allele with that ARD (memoised per nomenclature)."""
    hit = _LGX_MEMBERS.get(id(nom))
    if hit is not None and hit[0] is nom:
        return hit[1]
    members: dict[str, list[str]] = {}
    for allele in nom.alleles:
        members.setdefault(nom.lgx_of(allele), []).append(allele)
    _LGX_MEMBERS[id(nom)] = (nom, members)
    return members


def coverage(nom: Nomenclature, name: str) -> frozenset[str]:
    """The current alleles a frequency set's allele name stands for (see the module docstring)."""
    name = name.removeprefix("HLA-")
    null = name.endswith("N")
    if name.endswith("G") and nom.g_aliases.get(name, name) in nom.g_members:
        found = set(nom.g_members[nom.g_aliases.get(name, name)])
    elif name.endswith("P") and name in nom.p_members:
        found = set(nom.p_members[name])
    else:
        bare = name[:-1] if name.endswith("g") else name
        found = set(nom.expand(bare))
        if not found and nom.current_name(bare):
            found = set(nom.expand(nom.current_name(bare) or ""))
        parts = split_allele(bare)
        if parts is not None and len(parts.fields) == 2 and not null:
            found.update(lgx_members(nom).get(bare, ()))
    return frozenset(a for a in found if a.endswith("N") == null)


@dataclass(frozen=True, slots=True)
class Imputation:
    """The genotypes consistent with one typing. `pairs[i]` are two haplotype indexes of the set (h1 <= h2),
    `probabilities` sum to 1. When no genotype explains the typing, `pairs` is empty and `unexplained` lists
    the (locus, position text) the set has no allele for (empty when each position alone is covered but no
    haplotype pair combines them)."""

    set_name: str
    pairs: np.ndarray
    probabilities: np.ndarray
    unexplained: tuple[tuple[str, str], ...] = ()

    @property
    def represented(self) -> bool:
        return len(self.pairs) > 0


class MatchClasses:
    """Per locus, an integer id for each distinct 'what an allele expresses' (its P groups; empty = null).

    Two set alleles match when their P groups meet (WMDA, as `grading` counts); sets written at different
    resolutions still compare, since both sides are reduced to P groups. Shared by every imputer of a process.
    """

    def __init__(self) -> None:
        self.ids: dict[str, dict[frozenset[str], int]] = {}
        self.keys: dict[str, list[frozenset[str]]] = {}
        self._matrix: dict[str, np.ndarray] = {}

    def id_of(self, locus: str, groups: frozenset[str]) -> int:
        ids = self.ids.setdefault(locus, {})
        found = ids.get(groups)
        if found is None:
            found = ids[groups] = len(ids)
            self.keys.setdefault(locus, []).append(groups)
            self._matrix.pop(locus, None)
        return found

    def matrix(self, locus: str) -> tuple[np.ndarray, np.ndarray]:
        """(match[i, j], null[i]): classes i and j share a P group, or both are null."""
        keys = self.keys.get(locus, [])
        found = self._matrix.get(locus)
        if found is None or len(found) != len(keys):
            n = len(keys)
            found = np.zeros((n, n), dtype=bool)
            for i in range(n):
                for j in range(i, n):
                    hit = bool(keys[i] & keys[j]) or (not keys[i] and not keys[j])
                    found[i, j] = found[j, i] = hit
            self._matrix[locus] = found
        null = np.asarray([not k for k in keys], dtype=bool)
        return found, null


CLASSES = MatchClasses()


class Imputer:
    """Imputes typings under one frequency set (and one nomenclature release)."""

    def __init__(self, fset: FrequencySet, nom: Nomenclature, classes: MatchClasses = CLASSES) -> None:
        self.set = fset
        self.nom = nom
        self.loci = fset.loci
        self.classes = classes
        self.frequencies = fset.normalised()
        n, width = len(fset.haplotypes), len(fset.loci)
        self.haplotypes = np.zeros((n, width), dtype=np.int32)
        self.vocab: list[list[str]] = []
        self.allele_index: list[dict[str, list[int]]] = []  # locus column -> current allele -> vocab ids covering it
        self.class_of: list[np.ndarray] = []  # locus column -> vocab id -> match class id
        self.uncovered: list[str] = []  # set names no current allele stands for (a release too old or too new)
        for j, locus in enumerate(fset.loci):
            names: dict[str, int] = {}
            for i, hap in enumerate(fset.haplotypes):
                self.haplotypes[i, j] = names.setdefault(hap[j], len(names))
            vocab = list(names)
            index: dict[str, list[int]] = {}
            classes_j = np.zeros(len(vocab), dtype=np.int32)
            for v, name in enumerate(vocab):
                covered = coverage(nom, name)
                if not covered:
                    self.uncovered.append(name)
                for allele in covered:
                    index.setdefault(allele, []).append(v)
                groups = frozenset(g for g in (nom.p_group_of(a) for a in covered) if g is not None)
                classes_j[v] = classes.id_of(locus, groups)
            self.vocab.append(vocab)
            self.allele_index.append(index)
            self.class_of.append(classes_j)
        self.column = {locus: j for j, locus in enumerate(fset.loci)}
        self._positions: dict[tuple[int, str], np.ndarray] = {}
        self._cache: OrderedDict[tuple[tuple[str, str, str], ...], Imputation] = OrderedDict()

    # -- positions ------------------------------------------------------------------------------------------------
    def consistent(self, locus: str, position: Position) -> np.ndarray:
        """Per set allele of `locus`: whether it could be the allele behind `position`."""
        j = self.column[locus]
        key = (j, position.text)
        found = self._positions.get(key)
        if found is None:
            found = np.zeros(len(self.vocab[j]), dtype=bool)
            index = self.allele_index[j]
            for allele in position.alleles:
                hits = index.get(allele)
                if hits:
                    found[hits] = True
            if len(self._positions) < 500_000:
                self._positions[key] = found
        return found

    # -- typings --------------------------------------------------------------------------------------------------
    def impute(self, typing: Mapping[str, LocusTyping | None]) -> Imputation:
        """The genotypes consistent with `typing` (loci the set lacks, such as DPB1, are not used)."""
        key = tuple((locus, t.first.text, t.second.text) for locus in self.loci
                    if (t := typing.get(locus)) is not None)
        found = self._cache.get(key)
        if found is not None:
            self._cache.move_to_end(key)
            return found
        found = self._impute(typing)
        self._cache[key] = found
        if len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
        return found

    def _impute(self, typing: Mapping[str, LocusTyping | None]) -> Imputation:
        sides: list[tuple[np.ndarray, np.ndarray]] = []
        unexplained: list[tuple[str, str]] = []
        for j, locus in enumerate(self.loci):
            t = typing.get(locus)
            if t is None:
                continue
            c1, c2 = self.consistent(locus, t.first), self.consistent(locus, t.second)
            for c, position in ((c1, t.first), (c2, t.second)):
                if not c.any() and (locus, position.text) not in unexplained:
                    unexplained.append((locus, position.text))
            column = self.haplotypes[:, j]
            sides.append((c1[column], c2[column]))
        empty = Imputation(self.set.name, np.zeros((0, 2), dtype=np.int32), np.zeros(0), tuple(unexplained))
        if unexplained:
            return empty
        ok = self.frequencies > 0
        for a1, a2 in sides:
            ok &= a1 | a2
        idx = np.flatnonzero(ok)
        if not len(idx):
            return empty
        both = np.ones((len(idx), len(idx)), dtype=bool)
        for a1, a2 in sides:
            x1, x2 = a1[idx], a2[idx]
            both &= np.outer(x1, x2) | np.outer(x2, x1)
        both = np.triu(both)
        i, j = np.nonzero(both)
        if not len(i):
            return empty
        f = self.frequencies[idx]
        p = f[i] * f[j] * np.where(i == j, 1.0, 2.0)
        p /= p.sum()
        order = np.argsort(-p, kind="stable")
        pairs = np.stack([idx[i], idx[j]], axis=1).astype(np.int32)[order]
        return Imputation(self.set.name, pairs, p[order])

    def genotype_texts(self, imputation: Imputation, limit: int | None = None) -> list[dict[str, object]]:
        """The imputed genotypes as haplotype texts with probabilities, most likely first."""
        out = []
        texts = self.set.haplotypes
        for (a, b), p in list(zip(imputation.pairs.tolist(), imputation.probabilities.tolist(), strict=True))[:limit]:
            out.append({"haplotypes": ["~".join(texts[a]), "~".join(texts[b])], "probability": p})
        return out

    # -- what matching needs ----------------------------------------------------------------------------------------
    def match_genotypes(self, imputation: Imputation, loci: tuple[str, ...]) -> MatchGenotypes:
        """The imputed list reduced to what matching reads: per locus the unordered pair of match classes
        (phase and alleles that express the same P groups collapse together), probabilities summed."""
        k = len(imputation.pairs)
        classes = np.zeros((k, len(loci), 2), dtype=np.int32)
        for c, locus in enumerate(loci):
            j = self.column[locus]
            x = self.class_of[j][self.haplotypes[imputation.pairs[:, 0], j]]
            y = self.class_of[j][self.haplotypes[imputation.pairs[:, 1], j]]
            classes[:, c, 0], classes[:, c, 1] = np.minimum(x, y), np.maximum(x, y)
        if k <= 1:
            return MatchGenotypes(loci, classes, imputation.probabilities.astype(np.float64))
        flat = np.ascontiguousarray(classes.reshape(k, -1))
        rows = flat.view(np.dtype((np.void, flat.itemsize * flat.shape[1]))).ravel()  # one sortable key a row
        _, first, inverse = np.unique(rows, return_index=True, return_inverse=True)
        probs = np.bincount(inverse.ravel(), weights=imputation.probabilities, minlength=len(first))
        return MatchGenotypes(loci, classes[first], probs)


@dataclass(frozen=True, slots=True)
class MatchGenotypes:
    """Imputed genotypes as match classes: `classes[i, locus, 0|1]`, `probabilities[i]`."""

    loci: tuple[str, ...]
    classes: np.ndarray
    probabilities: np.ndarray

    def __len__(self) -> int:
        return len(self.probabilities)
