"""The warm-process reads (site index, row-group reads, bincount AC/AN, dense genotypes) against bcftools."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from lifebank.omics.ingest import write_batch
from lifebank.omics.queries import BatchRef, VariantStore
from lifebank.omics.regions import Region
from lifebank.omics.site_index import ChromIndex

from .conftest import REAL_VCFS, bcftools, bcftools_pipeline

CHR22 = next(v for v in REAL_VCFS if "chr22" in v.name)
WHOLE = 2**31 - 1


def _load(vcf: Path, root: Path, batch: int = 1) -> tuple[VariantStore, list[BatchRef], list[str]]:
    summary = write_batch(vcf, root, dataset="d", batch=batch, keep_info=None)
    return VariantStore(root), [BatchRef("d", batch, tuple(summary.chroms))], summary.samples


def _gt_lines(store: VariantStore, refs: list[BatchRef], region: Region) -> list[str]:
    matrix = store.genotype_matrix(refs, region)
    return ["\t".join([c, str(p), r, a, *matrix.gt_texts(i)]) for i, (c, p, r, a) in
            enumerate(zip(matrix.chrom, matrix.pos.tolist(), matrix.ref, matrix.alt, strict=True))]


@pytest.mark.parametrize("vcf", [*REAL_VCFS, "edge"], ids=lambda v: getattr(v, "name", v))
def test_genotype_matrix_equals_bcftools_split_genotypes(vcf, tmp_path, edge_vcf):
    """Every sample's GT (phasing, no-calls, haploid calls) as `bcftools norm -m- | query [%GT]` prints it."""
    vcf = edge_vcf if vcf == "edge" else vcf
    store, refs, _ = _load(vcf, tmp_path / "omics")
    expected = bcftools_pipeline(f"bcftools norm -m- {vcf} 2>/dev/null | bcftools query -f "
                                 "'%CHROM\\t%POS\\t%REF\\t%ALT[\\t%GT]\\n'").splitlines()
    ours = [line for chrom in refs[0].chroms for line in _gt_lines(store, refs, Region(chrom, 1, WHOLE))]
    assert ours == expected
    assert len(ours) > 0


def test_region_reads_match_bcftools_on_random_windows(tmp_path):
    """Random windows (some inside one row group, some across, some empty): sites, AC/AN, GTs."""
    store, refs, samples = _load(CHR22, tmp_path / "omics")
    every = store.chrom_index(refs[0], "chr22").rows_in(1, WHOLE)
    assert len(every) > 100
    rng = random.Random(10)
    low, high = int(every.pos[0]), int(every.pos[-1])
    for _ in range(6):
        start = rng.randint(low - 100, high)
        region = Region("chr22", start, start + rng.choice([0, 50, 2_000, 20_000]))
        sites = bcftools_pipeline(f"bcftools view -r {region} {CHR22} 2>/dev/null | bcftools norm -m- - 2>/dev/null"
                                  " | bcftools query -f '%POS\\t%REF\\t%ALT\\n'").splitlines()
        ours = [f"{r['pos']}\t{r['ref']}\t{r['alt']}" for r in store.sites_in_region(refs, region)]
        assert ours == sites
        assert store.count_sites_in_region(refs, region) == len(sites)
        subset = rng.sample(samples, 17)
        subset_file = tmp_path / "subset.txt"
        subset_file.write_text("\n".join(subset) + "\n")
        counts = store.allele_counts(refs, region, subset)
        expected = bcftools_pipeline(
            f"bcftools view -r {region} -S {subset_file} -G {CHR22} 2>/dev/null | "
            "bcftools norm -m- - 2>/dev/null | bcftools +fill-tags - -- -t AC,AN 2>/dev/null | "
            "bcftools query -f '%POS\\t%REF\\t%ALT\\t%AC\\t%AN\\n'").splitlines() if sites else []
        assert [f"{c.pos}\t{c.ref}\t{c.alt}\t{c.ac}\t{c.an}" for c in counts] == expected


def test_sites_page_and_total_agree(tmp_path):
    store, refs, _ = _load(CHR22, tmp_path / "omics")
    region = Region("chr22", 1, WHOLE)
    every = store.sites_in_region(refs, region)
    total = store.count_sites_in_region(refs, region)
    assert total == len(every) > 20
    assert store.sites_in_region(refs, region, limit=7, offset=5) == every[5:12]
    every[0]["pos"] = -1  # callers may edit their rows: the cached result stays intact
    assert store.sites_in_region(refs, region)[0]["pos"] != -1


def test_unsorted_positions_within_a_contig_fall_back_to_a_full_mask(tmp_path):
    """A contig in one block but not in position order: the index notices and still finds every overlap."""
    lines = bcftools("view", "-H", str(CHR22)).splitlines()[:60]
    shuffled = lines[:]
    random.Random(3).shuffle(shuffled)
    vcf = tmp_path / "unsorted.vcf"
    vcf.write_text(bcftools("view", "-h", str(CHR22)) + "\n".join(shuffled) + "\n")
    store, refs, _ = _load(vcf, tmp_path / "omics")
    every = store.chrom_index(refs[0], "chr22").rows_in(1, WHOLE)
    assert not (np.diff(every.pos) >= 0).all()
    positions = sorted(int(line.split("\t")[1]) for line in lines)
    region = Region("chr22", positions[10], positions[40])
    expected = bcftools_pipeline(f"bcftools view -t {region} {vcf} 2>/dev/null | bcftools norm -m- - 2>/dev/null | "
                                 "bcftools query -f '%POS\\t%REF\\t%ALT\\n'").splitlines()
    ours = [f"{r['pos']}\t{r['ref']}\t{r['alt']}" for r in store.sites_in_region(refs, region)]
    assert sorted(ours) == sorted(expected) and len(ours) >= 31
    assert [int(x.split("\t")[0]) for x in ours] == sorted(int(x.split("\t")[0]) for x in ours)


def test_two_batches_give_one_matrix_with_no_calls_where_a_batch_lacks_a_site(tmp_path, edge_vcf):
    root = tmp_path / "omics"
    first = write_batch(edge_vcf, root, dataset="d", batch=1, keep_info=None)
    renamed = tmp_path / "second.vcf"
    text = edge_vcf.read_text().replace("\ts1\ts2\ts3\ts4\ts5\ts6", "\tt1\tt2\tt3\tt4\tt5\tt6")
    kept = [line for line in text.splitlines() if line.startswith("#") or "\t30\t" not in line]
    renamed.write_text("\n".join(kept) + "\n")
    second = write_batch(renamed, root, dataset="d", batch=2, keep_info=None)
    store = VariantStore(root)
    refs = [BatchRef("d", 1, tuple(first.chroms)), BatchRef("d", 2, tuple(second.chroms))]
    matrix = store.genotype_matrix(refs, Region("1", 30, 30))
    assert matrix.samples == [*first.samples, *second.samples]
    assert matrix.gt_texts(0) == ["0|0", "0|0", "0/0", "0|1", "1|1", "0|0"] + ["./."] * 6
    whole = store.genotype_matrix(refs, Region("1", 1, WHOLE))
    assert whole.pos.tolist() == sorted(whole.pos.tolist())
    assert np.array_equal(whole.a1[:, :6], store.genotype_matrix(refs[:1], Region("1", 1, WHOLE)).a1)


def test_index_bounds_come_from_row_group_statistics(tmp_path):
    store, refs, _ = _load(CHR22, tmp_path / "omics")
    index: ChromIndex = store.chrom_index(refs[0], "chr22")
    assert (index.genotype_low <= index.genotype_high).all()
    site = index.rows_in(1, WHOLE).site
    rows = index.genotype_rows(int(site[3]), int(site[5]))
    assert set(np.unique(rows["site"]).tolist()) <= set(site[3:6].tolist())
    assert index.genotype_rows(10**9, 10**9 + 1)["site"].size == 0
