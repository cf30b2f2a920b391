"""Donors posted by their genotypes at a *group* of loci, so a search reads postings instead of scanning donors.

Pure (NumPy only). Why groups: one locus is a weak filter (half of all donors carry the patient's commonest
A allele, a third are untyped at C and DQB1, and an untyped locus matches), but the genotype at a group of loci
is a strong one, and registries still repeat it: ten million synthetic donors hold about 200,000 distinct
A+B genotypes and 150,000 distinct C+DQB1+DRB1 genotypes. So per group every distinct multi-locus genotype
(*combination*) is graded once from the per-locus genotype grades (one small gather per locus), and the donors
of a combination sit together in `order`.

With two groups, a donor has at most `m` mismatches exactly when its first group has `s` and its second at
most `m - s`, for one `s` in 0..m. For each `s` the search reads the smaller of the two postings
(first group = s, or second group <= m - s) and checks the other group with one gather per row, so every
donor it returns is exact and no donor is read twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

# The first group is HLA-A and -B: the two most polymorphic loci, typed for nearly every donor. The second group
# is every other locus of the index.
FIRST_GROUP = ("A", "B")
_KEY_LIMIT = 2**62


def locus_groups(loci: Sequence[str]) -> tuple[tuple[str, ...], ...]:
    """The loci of the index split into (at most) two groups; a group is never empty."""
    first = tuple(locus for locus in loci if locus in FIRST_GROUP)
    rest = tuple(locus for locus in loci if locus not in FIRST_GROUP)
    return tuple(group for group in (first, rest) if group)


class GroupPostings:
    """The posted donors of an index, grouped by their genotype ids at `loci` (rows [0, posted))."""

    def __init__(self, loci: tuple[str, ...]) -> None:
        self.loci = loci
        self.members: dict[str, np.ndarray] = {locus: np.zeros(0, dtype=np.int32) for locus in loci}
        self.order = np.zeros(0, dtype=np.int32)  # rows sorted by combination
        # beside `order`: the row's combination in the other group, so checking it reads memory in sequence
        self.partner = np.zeros(0, dtype=np.int32)
        self.offsets = np.zeros(1, dtype=np.int64)
        self.sizes = np.zeros(0, dtype=np.int64)

    def post(self, geno: Mapping[str, np.ndarray], n: int) -> np.ndarray:
        """Group rows [0, n) by their genotype ids at this group's loci (one sort of n keys).

        Returns the combination id of every row, for the other group's `partner`.
        """
        key = np.zeros(n, dtype=np.int64)
        width = 1
        for locus in self.loci:
            ids = geno[locus][:n].astype(np.int64)
            radix = int(ids.max()) + 1 if n else 1
            if width * radix >= _KEY_LIMIT:  # keep the key in 64 bits: renumber what is combined so far
                _, inverse = np.unique(key, return_inverse=True)
                key, width = inverse.astype(np.int64).ravel(), int(inverse.max()) + 1
            key = key * radix + ids
            width *= radix
        order = np.argsort(key, kind="stable")
        ordered = key[order]
        first = np.ones(n, dtype=bool)
        first[1:] = ordered[1:] != ordered[:-1]
        starts = np.flatnonzero(first)
        combination = np.empty(n, dtype=np.int32)
        combination[order] = np.cumsum(first) - 1
        self.order = order.astype(np.int32)
        self.offsets = np.append(starts, n).astype(np.int64)
        self.sizes = np.diff(self.offsets)
        self.members = {locus: geno[locus][:n][order[starts]] for locus in self.loci}
        return combination

    def pair_with(self, other_combination: np.ndarray) -> None:
        self.partner = other_combination[self.order]

    def __len__(self) -> int:
        return len(self.sizes)

    def nbytes(self) -> int:
        arrays = [self.order, self.partner, self.offsets, self.sizes, *self.members.values()]
        return sum(a.nbytes for a in arrays)

    def mismatches(self, per_locus: Mapping[str, np.ndarray]) -> np.ndarray:
        """Mismatches of every combination: the sum over the group's loci in `per_locus` (grades per genotype)."""
        out = np.zeros(len(self), dtype=np.int8)
        for locus in self.loci:
            if locus in per_locus:
                out += per_locus[locus][self.members[locus]]
        return out

    def positions(self, selected: np.ndarray) -> np.ndarray:
        """Positions in `order` (and `partner`) of the rows of the selected combinations."""
        return slices(self.offsets[selected], self.sizes[selected])


def slices(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """`arange(starts[i], starts[i] + lengths[i])` for every i, concatenated, without a Python loop."""
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    ends = np.cumsum(lengths)
    return np.arange(total, dtype=np.int64) + np.repeat(starts - (ends - lengths), lengths)


def post_groups(groups: Sequence[GroupPostings], geno: Mapping[str, np.ndarray], n: int) -> None:
    """Post rows [0, n) in every group; with two groups, each learns the other's combination of its rows."""
    combinations = [group.post(geno, n) for group in groups]
    if len(groups) == 2:
        groups[0].pair_with(combinations[1])
        groups[1].pair_with(combinations[0])


def matching_rows(groups: Sequence[GroupPostings], mismatches: Sequence[np.ndarray],
                  max_mismatches: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Posted rows with at most `max_mismatches` over all groups: (rows, their mismatches, rows read).

    `mismatches[i]` grades every combination of `groups[i]`. One group: its postings. Two groups: for each
    split `s` of the budget, the smaller of the two postings, the other group checked per row.
    """
    m = max_mismatches
    if len(groups) == 1:
        selected = np.flatnonzero(mismatches[0] <= m)
        positions = groups[0].positions(selected)
        grade = np.repeat(mismatches[0][selected], groups[0].sizes[selected])
        return groups[0].order[positions].astype(np.int64), grade, len(positions)
    (first, second), (mm1, mm2) = groups, mismatches
    by_first = np.bincount(mm1, weights=first.sizes, minlength=m + 1)
    up_to_second = np.cumsum(np.bincount(mm2, weights=second.sizes, minlength=m + 1))
    parts, grades, read = [], [], 0
    for s in range(m + 1):
        if by_first[s] == 0 or up_to_second[m - s] == 0:
            continue
        if by_first[s] <= up_to_second[m - s]:  # rows whose first group has s mismatches, the other <= m - s
            positions = first.positions(np.flatnonzero(mm1 == s))
            rest = mm2[first.partner[positions]]
            keep = rest <= m - s
            parts.append(first.order[positions[keep]])
            grades.append(rest[keep] + s)
        else:  # rows whose second group has <= m - s, the first exactly s
            selected = np.flatnonzero(mm2 <= m - s)
            positions = second.positions(selected)
            keep = mm1[second.partner[positions]] == s
            parts.append(second.order[positions[keep]])
            grades.append(np.repeat(mm2[selected], second.sizes[selected])[keep] + s)
        read += len(positions)
    if not parts:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int8), read
    return np.concatenate(parts).astype(np.int64), np.concatenate(grades).astype(np.int8), read
