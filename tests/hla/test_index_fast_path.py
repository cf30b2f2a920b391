"""The group-postings search returns exactly what the straightforward per-genotype scan returns."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from lifebank.hla.group_postings import locus_groups
from lifebank.hla.index import build
from lifebank.hla.typing import Genotype

POOL = {
    "A": ["A*01:01", "A*02:01", "A*02:05", "A*03:01", "A*01:04N", "A*02:XX", "A2", "A*01:01/02:01", None],
    "B": ["B*08:01", "B*07:02", "B*44:02", "B*44:XX", "B12", "B*07:02/08:01", None],
    "C": ["C*07:01", "C*07:02", "C*07:XX", None],
    "DPB1": ["DPB1*04:01", "DPB1*02:01", None],
    "DQB1": ["DQB1*02:01", "DQB1*06:02", "DQB1*03:01", None],
    "DRB1": ["DRB1*03:01", "DRB1*15:01", "DRB1*04:01", "DRB1*15:XX", "DR15", None],
}
LOCUS_SETS = [("A", "B", "C", "DQB1", "DRB1"), ("A", "B", "DRB1"), ("A", "B", "C", "DRB1"),
              ("A", "B", "C", "DPB1", "DQB1", "DRB1"), ("C", "DQB1", "DRB1"), ("A",)]


@st.composite
def columns(draw) -> dict[str, tuple[str | None, str | None]]:
    return {locus: (draw(st.sampled_from(pool)), draw(st.sampled_from(pool))) for locus, pool in POOL.items()}


def genotype(parser, cols: dict[str, tuple[str | None, str | None]]) -> dict:
    loci = {locus: parser.locus_typing(locus, a, b) for locus, (a, b) in cols.items()}
    return dict(Genotype({k: v for k, v in loci.items() if v is not None}).loci)


def same(fast, slow) -> None:
    assert fast.total == slow.total
    assert fast.rows.tolist() == slow.rows.tolist()
    assert fast.mismatches.tolist() == slow.mismatches.tolist()


@settings(max_examples=120, deadline=None)
@given(donors=st.lists(columns(), min_size=1, max_size=40), patient=columns(), m=st.integers(0, 2),
       loci=st.sampled_from(LOCUS_SETS), added=st.lists(columns(), max_size=5),
       removed=st.lists(st.integers(0, 39), max_size=5), cap_a=st.sampled_from([None, 0, 1]),
       donor_type=st.sampled_from([None, "adult", "cord"]), offset=st.integers(0, 5))
def test_property_fast_path_equals_the_scan(parser, donors, patient, m, loci, added, removed, cap_a, donor_type,
                                            offset):
    types = ["cord" if i % 3 == 0 else "adult" for i in range(len(donors))]
    index = build((i, types[i], float(i) if types[i] == "cord" else None, genotype(parser, d))
                  for i, d in enumerate(donors))
    for j, cols in enumerate(added):  # rows after the last compaction: the delta, counted per locus
        index.add(1000 + j, "adult", None, genotype(parser, cols))
    for key in removed:
        index.remove(key)
    typed = genotype(parser, patient)
    caps = {"A": cap_a} if cap_a is not None and "A" in loci else None
    for limit in (10**6, 3):
        options = {"max_mismatches": m, "match_loci": loci, "locus_caps": caps, "donor_type": donor_type,
                   "offset": offset if limit == 3 else 0, "limit": limit}
        same(index.search(typed, **options), index.scan(typed, **options))
    index.compact()  # the same donors, now all in the group postings
    same(index.search(typed, max_mismatches=m, match_loci=loci, limit=10**6),
         index.scan(typed, max_mismatches=m, match_loci=loci, limit=10**6))


def test_groups_split_a_and_b_from_the_other_loci():
    assert locus_groups(("A", "B", "C", "DPB1", "DQB1", "DRB1")) == (("A", "B"), ("C", "DPB1", "DQB1", "DRB1"))
    assert locus_groups(("DRB1", "B")) == (("B",), ("DRB1",))
    assert locus_groups(("A", "B")) == (("A", "B"),)


def test_search_reads_fewer_rows_than_the_scan_on_a_repetitive_registry(parser):
    common = {"A": ("A*01:01", "A*02:01"), "B": ("B*08:01", "B*07:02"), "C": ("C*07:01", "C*07:02"),
              "DQB1": ("DQB1*02:01", "DQB1*06:02"), "DRB1": ("DRB1*03:01", "DRB1*15:01")}
    other = {"A": ("A*03:01", "A*03:01"), "B": ("B*44:02", "B*44:02"), "C": ("C*07:01", "C*07:01"),
             "DQB1": ("DQB1*03:01", "DQB1*03:01"), "DRB1": ("DRB1*04:01", "DRB1*04:01")}
    donors = [genotype(parser, common if i % 50 == 0 else other) for i in range(2000)]
    index = build((i, "adult", None, d) for i, d in enumerate(donors))
    fast = index.search(donors[0], max_mismatches=0, limit=10)
    same(fast, index.scan(donors[0], max_mismatches=0, limit=10))
    assert fast.total == 40 and fast.candidates == 40
    assert np.all(fast.mismatches == 0)
