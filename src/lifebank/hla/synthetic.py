"""Synthetic donor populations sampled from real haplotype frequencies, at a realistic mix of resolutions.

Pure (NumPy). Used by the demo (100 k donors) and the benchmark (10 M+ donors), so it is vectorised: each donor
draws two haplotypes by frequency, then a *resolution plan* decides how each locus is reported, as registries
really list donors - many typed at two fields at five loci, many only at A, B and DRB1, older ones with XX codes
or serology at A and B, some with allele strings. Output is per locus a vocabulary of typing tokens and two token
indexes per donor (-1 = untyped), which the demo writes as text and the benchmark codes straight into the index.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lifebank.hla.frequencies import FrequencySet
from lifebank.hla.index import SearchIndex
from lifebank.hla.nomenclature import Nomenclature, split_allele
from lifebank.hla.typing import TypingParser

CAU_FREQUENCIES = Path(__file__).parent / "data" / "haplotype-frequencies" / "CAU.freqs.gz"
HAPLOTYPE_LOCI = ("A", "C", "B", "DRB1", "DQB1")
SYNTHETIC_LOCI = ("A", "B", "C", "DQB1", "DRB1")

# (share of donors, how each locus is reported): "2f" two-field, "xx" XX code, "ser" serology,
# "str" allele string with a second allele of the same first field, None = untyped.
RESOLUTION_PLANS: tuple[tuple[float, dict[str, str | None]], ...] = (
    (0.55, {"A": "2f", "B": "2f", "C": "2f", "DQB1": "2f", "DRB1": "2f"}),
    (0.20, {"A": "2f", "B": "2f", "C": None, "DQB1": None, "DRB1": "2f"}),
    (0.10, {"A": "xx", "B": "xx", "C": None, "DQB1": None, "DRB1": "2f"}),
    (0.05, {"A": "ser", "B": "ser", "C": None, "DQB1": None, "DRB1": "2f"}),
    (0.10, {"A": "str", "B": "str", "C": "str", "DQB1": "2f", "DRB1": "2f"}),
)
KINDS = ("2f", "xx", "ser", "str")


@dataclass(frozen=True, slots=True)
class HaplotypeFrequencies:
    alleles: dict[str, list[str]]  # locus -> distinct alleles
    haplotypes: dict[str, np.ndarray]  # locus -> allele index per haplotype
    frequencies: np.ndarray  # normalised


def load_frequencies(path: Path = CAU_FREQUENCIES) -> HaplotypeFrequencies:
    alleles: dict[str, dict[str, int]] = {locus: {} for locus in HAPLOTYPE_LOCI}
    columns: dict[str, list[int]] = {locus: [] for locus in HAPLOTYPE_LOCI}
    freqs: list[float] = []
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            parts = line.strip().split(",")
            if len(parts) < 3 or "~" not in parts[0]:
                continue
            for locus, allele in zip(HAPLOTYPE_LOCI, parts[0].split("~"), strict=True):
                columns[locus].append(alleles[locus].setdefault(allele, len(alleles[locus])))
            freqs.append(float(parts[2]))
    p = np.asarray(freqs, dtype=np.float64)
    return HaplotypeFrequencies({k: list(v) for k, v in alleles.items()},
                                {k: np.asarray(v, dtype=np.int32) for k, v in columns.items()}, p / p.sum())


def frequencies_from_set(fset: FrequencySet) -> HaplotypeFrequencies:
    """A frequency set's five loci as sampling input; `g` group names are written as their two-field name
    (`A*02:07g` -> `A*02:07`), which is how a registry would report the allele."""
    alleles: dict[str, dict[str, int]] = {locus: {} for locus in HAPLOTYPE_LOCI}
    columns: dict[str, list[int]] = {locus: [] for locus in HAPLOTYPE_LOCI}
    where = {locus: fset.loci.index(locus) for locus in HAPLOTYPE_LOCI}
    for haplotype in fset.haplotypes:
        for locus in HAPLOTYPE_LOCI:
            name = haplotype[where[locus]].removesuffix("g")
            columns[locus].append(alleles[locus].setdefault(name, len(alleles[locus])))
    return HaplotypeFrequencies({k: list(v) for k, v in alleles.items()},
                                {k: np.asarray(v, dtype=np.int32) for k, v in columns.items()}, fset.normalised())


@dataclass(frozen=True, slots=True)
class Population:
    n: int
    vocab: dict[str, list[str]]  # locus -> typing tokens
    first: dict[str, np.ndarray]  # locus -> token index per donor (-1 untyped)
    second: dict[str, np.ndarray]


def _vocabulary(locus: str, alleles: list[str], nom: Nomenclature) -> list[str]:
    """Tokens laid out kind-major: index = kind * len(alleles) + allele index."""
    by_first: dict[str, list[str]] = {}
    for allele in alleles:
        by_first.setdefault(allele.split("*")[1].split(":")[0], []).append(allele)
    out: list[str] = []
    for kind in KINDS:
        for allele in alleles:
            parts = split_allele(allele)
            first_field = parts.fields[0] if parts else "01"
            if kind == "2f":
                out.append(allele)
            elif kind == "xx":
                out.append(f"{locus}*{first_field}:XX")
            elif kind == "ser":
                expanded = nom.expand(allele)
                antigen = next((nom.serology_of[a] for a in expanded if a in nom.serology_of), None)
                out.append(antigen or allele)
            else:
                siblings = [a for a in by_first[first_field] if a != allele]
                out.append(f"{allele}/{siblings[0].split('*')[1]}" if siblings else allele)
    return out


def sample_population(n: int, rng: np.random.Generator, nom: Nomenclature,
                      frequencies: HaplotypeFrequencies | None = None) -> Population:
    freqs = frequencies or load_frequencies()
    cdf = np.cumsum(freqs.frequencies)
    cdf[-1] = 1.0
    h1 = np.searchsorted(cdf, rng.random(n), side="right").astype(np.int32)
    h2 = np.searchsorted(cdf, rng.random(n), side="right").astype(np.int32)
    shares = np.asarray([share for share, _ in RESOLUTION_PLANS])
    plan = rng.choice(len(RESOLUTION_PLANS), size=n, p=shares / shares.sum()).astype(np.int8)
    vocab, first, second = {}, {}, {}
    for locus in SYNTHETIC_LOCI:
        alleles = freqs.alleles[locus]
        vocab[locus] = _vocabulary(locus, alleles, nom)
        u = len(alleles)
        kind_of_plan = np.asarray([KINDS.index(p[locus]) if p[locus] else -1 for _, p in RESOLUTION_PLANS])
        kinds = kind_of_plan[plan]
        a1 = freqs.haplotypes[locus][h1]
        a2 = freqs.haplotypes[locus][h2]
        first[locus] = np.where(kinds >= 0, kinds * u + a1, -1).astype(np.int32)
        second[locus] = np.where(kinds >= 0, kinds * u + a2, -1).astype(np.int32)
    return Population(n, vocab, first, second)


def genotype_ids(pop: Population, parser: TypingParser, index: SearchIndex, locus: str,
                 rows: slice | None = None) -> np.ndarray:
    """Code one locus of (a slice of) the population into the index's genotype ids, vectorised."""
    table = index.tables[locus]
    typing_of_token = np.asarray([0] + [table.typing_id(parser.position(tok, locus)) for tok in pop.vocab[locus]],
                                 dtype=np.int64)
    window = rows or slice(0, pop.n)
    t1 = typing_of_token[pop.first[locus][window] + 1]
    t2 = typing_of_token[pop.second[locus][window] + 1]
    lo, hi = np.minimum(t1, t2), np.maximum(t1, t2)
    width = len(table.positions) + 1
    pairs, inverse = np.unique(lo * width + hi, return_inverse=True)
    ids = np.asarray([table.genotype_id(int(code // width), int(code % width)) for code in pairs], dtype=np.int32)
    return ids[inverse.ravel()]
