"""Per-region reads over a `ChromIndex`: allele counts with one NumPy bincount, and dense genotypes.

Both work on the sparse genotype rows of the region's site-number range only (row groups chosen by their
`site` statistics). AC/AN follow `bcftools +fill-tags -- -t AC,AN`: a member without a row at a site holds
a homozygous-REF call of the site's ploidy (ploidy called alleles), a stored call adds its non-missing
alleles, a no-call nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lifebank.omics.site_index import ChromIndex, SiteRows

# A call's state is (a1 + 2) * 4 + (a2 + 2) with allele codes in -2..1 (-2: haploid second allele, -1: no-call,
# 0: REF, 1: ALT); per state, how many ALT alleles and how many called alleles it holds.
_CODES = np.arange(-2, 2)
_STATE_ALT = ((_CODES[:, None] == 1).astype(np.int64) + (_CODES[None, :] == 1)).ravel()
_STATE_CALLED = ((_CODES[:, None] >= 0).astype(np.int64) + (_CODES[None, :] >= 0)).ravel()
STATES = 16


def count_alleles(index: ChromIndex, rows: SiteRows, member: np.ndarray | None,
                  n_members: int) -> tuple[np.ndarray, np.ndarray]:
    """AC and AN of the given site rows over the members (a boolean mask by sample number; None: everyone).

    Per genotype row group, while its columns are in the CPU cache: a row's code is its call state (0..15),
    plus 16 when its sample is not a member, keyed (site - first site) * 32 + code and counted with one
    `np.bincount`; the members' 16 per-state counts of a site give its ALT alleles, called alleles and
    stored rows.
    """
    if not len(rows):
        return np.empty(0, np.int64), np.empty(0, np.int64)
    site = rows.site
    low, high = int(site.min()), int(site.max())
    outsider = None if member is None else (~member).astype(np.int8) << 4

    def count(cols: dict[str, np.ndarray]) -> tuple[int, np.ndarray]:
        at = cols["site"]
        first = int(at[0])
        # in place, so each step is one pass over arrays that stay in the CPU cache (half the time of temporaries)
        code = cols["a1"] << 2  # int8; with the + 10 below, (a1 + 2) * 4 + (a2 + 2)
        code += cols["a2"]
        if outsider is not None:
            code += outsider[cols["sample"]]
        key = at - first  # int32
        key <<= 5
        key += code
        key += 10
        return first, np.bincount(key, minlength=(int(at[-1]) - first + 1) * 32)

    columns = ("site", "a1", "a2") if member is None else ("site", "sample", "a1", "a2")
    totals = np.zeros((high - low + 1) * 32, np.int64)
    for first, counted in index.map_genotype_groups(low, high, columns, count):
        totals[(first - low) * 32:(first - low) * 32 + len(counted)] += counted
    table = totals.reshape(high - low + 1, 32)[site - low, :STATES]
    stored = table.sum(axis=1)
    ac = table @ _STATE_ALT
    an = (n_members - stored) * rows.ploidy.astype(np.int64) + table @ _STATE_CALLED
    return ac, an


@dataclass(frozen=True, slots=True)
class GenotypeMatrix:
    """Every sample's GT at every site of a region, dense: what `bcftools view -r` decodes, as arrays.

    `a1`, `a2` are int8 (sites x samples) allele codes as in the genotypes table (0 REF, 1 ALT, -1 no-call,
    a2 = -2 for a haploid call); `phased` is bool. Samples absent from the sparse table hold the site's
    implied homozygous-REF call (its ploidy and phasing).
    """

    samples: list[str]
    chrom: list[str]
    pos: np.ndarray
    ref: list[str]
    alt: list[str]
    a1: np.ndarray
    a2: np.ndarray
    phased: np.ndarray

    def __len__(self) -> int:
        return len(self.ref)

    def gt_texts(self, row: int) -> list[str]:
        """The GT strings of one site, as htslib prints them (`0|1`, `./.`, `1`)."""
        from lifebank.omics.vcf_export import genotype_text

        return [genotype_text(int(x), int(y), bool(p))
                for x, y, p in zip(self.a1[row], self.a2[row], self.phased[row], strict=True)]


def dense_genotypes(index: ChromIndex, rows: SiteRows, n_samples: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """a1, a2, phased (sites x samples) of the given site rows of one batch."""
    a1 = np.zeros((len(rows), n_samples), np.int8)
    a2 = np.zeros((len(rows), n_samples), np.int8)
    if not len(rows):
        return a1, a2, np.zeros((0, n_samples), bool)
    haploid = rows.ploidy == 1
    if haploid.any():
        a2[haploid] = -2
    phased = np.repeat(rows.phased_ref[:, None], n_samples, axis=1)
    site = rows.site
    low, high = int(site.min()), int(site.max())
    line = np.full(high - low + 1, -1, np.int64)
    line[site - low] = np.arange(len(rows))

    def scatter(cols: dict[str, np.ndarray]) -> None:
        at = line[cols["site"] - low]
        keep = at >= 0
        if not keep.all():  # rows of sites outside the region that share its site-number range
            cols = {name: values[keep] for name, values in cols.items()}
            at = at[keep]
        sample = cols["sample"]
        a1[at, sample] = cols["a1"]
        a2[at, sample] = cols["a2"]
        phased[at, sample] = cols["phased"]

    index.map_genotype_groups(low, high, ("site", "sample", "a1", "a2", "phased"), scatter)
    return a1, a2, phased
