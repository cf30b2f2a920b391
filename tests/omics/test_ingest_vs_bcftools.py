"""The store's splitting and allele counts against bcftools itself, on every real VCF we have."""

from __future__ import annotations

import random
from pathlib import Path

import duckdb
import pytest

from lifebank.omics.ingest import write_batch
from lifebank.omics.queries import BatchRef, VariantStore, export_sites
from lifebank.omics.regions import Region
from lifebank.omics.vcf_export import genotype_text

from .conftest import REAL_VCFS, SITES_ONLY_BCF, bcftools, bcftools_pipeline

WHOLE = 2**31 - 1


def _load(vcf: Path, root: Path) -> tuple[VariantStore, list[BatchRef], list[str]]:
    summary = write_batch(vcf, root, dataset="d", batch=1, keep_info=None)
    return VariantStore(root), [BatchRef("d", 1, tuple(summary.chroms))], summary.samples


def _our_counts(store: VariantStore, refs: list[BatchRef], samples: list[str] | None) -> list[str]:
    lines = []
    for chrom in refs[0].chroms:
        for c in store.allele_counts(refs, Region(chrom, 1, WHOLE), samples):
            lines.append(f"{c.chrom}\t{c.pos}\t{c.ref}\t{c.alt}\t{c.ac}\t{c.an}\t{c.af_text}")
    return lines


def _bcftools_counts(vcf: Path, samples: list[str] | None) -> list[str]:
    subset = f"bcftools view -s {','.join(samples)} - 2>/dev/null | " if samples else ""
    return bcftools_pipeline(
        f"bcftools norm -m- {vcf} 2>/dev/null | {subset}bcftools +fill-tags -- -t AC,AN,AF 2>/dev/null "
        "| bcftools query -f '%CHROM\\t%POS\\t%REF\\t%ALT\\t%AC\\t%AN\\t%AF\\n'").splitlines()


def _input(vcf: Path | str, edge_vcf: Path, tmp_path: Path) -> Path:
    """The real files as they are; 'edge' the hand-written VCF; 'bcf' the chr22 file converted to BCF."""
    if vcf == "edge":
        return edge_vcf
    if vcf == "bcf":
        out = tmp_path / "chr22.bcf"
        bcftools("view", "-Ob", "-o", str(out), str(next(v for v in REAL_VCFS if "chr22" in v.name)))
        return out
    return Path(vcf)


@pytest.mark.parametrize("vcf", [*REAL_VCFS, "edge", "bcf"], ids=lambda v: getattr(v, "name", v))
def test_ac_an_af_equal_bcftools_fill_tags_whole_cohort_and_random_subsets(vcf, tmp_path, edge_vcf):
    vcf = _input(vcf, edge_vcf, tmp_path)
    store, refs, samples = _load(vcf, tmp_path / "omics")
    assert _our_counts(store, refs, None) == _bcftools_counts(vcf, None)
    rng = random.Random(20261124)
    for size in (1, max(1, len(samples) // 3), len(samples) - 1):
        subset = rng.sample(samples, size)
        assert _our_counts(store, refs, subset) == _bcftools_counts(vcf, subset), subset


@pytest.mark.parametrize("vcf", [*REAL_VCFS, "edge", "bcf"], ids=lambda v: getattr(v, "name", v))
def test_split_genotypes_equal_bcftools_norm_m_minus(vcf, tmp_path, edge_vcf):
    """Every biallelic record and every GT (phasing, no-calls, haploid calls) as `bcftools norm -m-` writes it."""
    vcf = _input(vcf, edge_vcf, tmp_path)
    store, refs, samples = _load(vcf, tmp_path / "omics")
    ours = []
    for chrom in refs[0].chroms:
        _, sites = export_sites(store, refs, Region(chrom, 1, WHOLE), samples)
        ours += [f"{s.chrom}\t{s.pos}\t{s.id or '.'}\t{s.ref}\t{s.alt}\t{' '.join(s.genotypes)}" for s in sites]
    expected = bcftools_pipeline(f"bcftools norm -m- {vcf} 2>/dev/null | "
                                 "bcftools query -f '%CHROM\\t%POS\\t%ID\\t%REF\\t%ALT\\t[%GT ]\\n'").splitlines()
    assert ours == [line.rstrip() for line in expected]


def test_sites_only_bcf_keeps_every_site_and_split_info(tmp_path):
    store, refs, samples = _load(SITES_ONLY_BCF, tmp_path / "omics")
    assert samples == []
    rows = store.sites_in_region(refs, Region("chr20", 1, WHOLE))
    expected = bcftools("query", "-f", "%CHROM\t%POS\t%REF\t%ALT\n", str(SITES_ONLY_BCF)).splitlines()
    assert [f"{r['chrom']}\t{r['pos']}\t{r['ref']}\t{r['alt']}" for r in rows] == expected


def test_number_a_r_g_info_split_like_bcftools(tmp_path, edge_vcf):
    store, refs, _ = _load(edge_vcf, tmp_path / "omics")
    import json
    rows = store.sites_in_region(refs, Region("1", 10, 10))
    ours = [(r["alt"], json.loads(r["info"])) for r in rows]
    expected = bcftools_pipeline(f"bcftools norm -m- {edge_vcf} 2>/dev/null | "
                                 "bcftools query -i 'POS=10' -f '%ALT\\t%XA\\t%XR\\t%XG\\t%X1\\n' -").splitlines()
    assert len(ours) == len(expected) == 3
    for (alt, info), line in zip(ours, expected, strict=True):
        e_alt, xa, xr, xg, x1 = line.split("\t")
        assert alt == e_alt
        assert info["XA"] == int(xa)
        assert info["XR"] == [int(x) for x in xr.split(",")]
        assert info["XG"] == [int(x) for x in xg.split(",")]
        assert info["X1"] == x1


def test_region_query_matches_bcftools_view_r(tmp_path):
    vcf = next(v for v in REAL_VCFS if "chr22" in v.name)
    store, refs, _ = _load(vcf, tmp_path / "omics")
    for region in ("chr22:10510000-10512000", "chr22:10510353-10510353", "chr22:10513000-10520000"):
        ours = [(r["pos"], r["ref"], r["alt"]) for r in store.sites_in_region(refs, _region(region))]
        expected = bcftools_pipeline(f"bcftools view -r {region} {vcf} 2>/dev/null | bcftools norm -m- - 2>/dev/null"
                                     " | bcftools query -f '%POS\\t%REF\\t%ALT\\n'").splitlines()
        assert [f"{p}\t{r}\t{a}" for p, r, a in ours] == expected


def _region(text: str) -> Region:
    from lifebank.omics.regions import parse_region
    return parse_region(text)


def test_layout_is_readable_with_plain_duckdb_sql(tmp_path):
    """docs/omics-storage.md's recipe: AC/AN of the whole cohort from the files alone, no LifeBank code."""
    vcf = next(v for v in REAL_VCFS if "chr22" in v.name)
    root = tmp_path / "omics"
    write_batch(vcf, root, dataset="kg", batch=1, keep_info=None)
    sql = f"""
        WITH s AS (SELECT * FROM read_parquet('{root}/sites/*/*/*/*.parquet', hive_partitioning = true)),
        g AS (SELECT * FROM read_parquet('{root}/genotypes/*/*/*/*.parquet', hive_partitioning = true)),
        n AS (SELECT dataset, batch, count(*) AS n FROM read_parquet('{root}/samples/*/*/*.parquet',
              hive_partitioning = true) GROUP BY ALL),
        gc AS (SELECT dataset, batch, site, sum((a1 = 1)::INT + (a2 = 1)::INT) AS ac,
                      sum((a1 >= 0)::INT + (a2 >= 0)::INT) AS called, count(*) AS k FROM g GROUP BY ALL)
        SELECT s.chrom, s.pos, s.ref, s.alt, coalesce(gc.ac, 0) AS ac,
               (n.n - coalesce(gc.k, 0)) * s.ploidy + coalesce(gc.called, 0) AS an
        FROM s JOIN n USING (dataset, batch) LEFT JOIN gc USING (dataset, batch, site)
        ORDER BY s.pos, s.site"""
    rows = duckdb.sql(sql).fetchall()
    expected = bcftools_pipeline(f"bcftools norm -m- {vcf} 2>/dev/null | bcftools +fill-tags -- -t AC,AN 2>/dev/null"
                                 " | bcftools query -f '%CHROM\\t%POS\\t%REF\\t%ALT\\t%AC\\t%AN\\n'").splitlines()
    assert ["\t".join(str(x) for x in row) for row in rows] == expected


def test_genotype_text_follows_htslib():
    assert genotype_text(0, 1, False) == "0/1"
    assert genotype_text(1, 0, True) == "1|0"
    assert genotype_text(-1, 1, False) == "./1"
    assert genotype_text(1, -2, True) == "1"
    assert genotype_text(-1, -2, False) == "."


def test_dp_and_gq_of_every_call_are_kept(tmp_path):
    """FORMAT/DP and GQ, REF calls included, equal what bcftools prints after splitting."""
    vcf = next(v for v in REAL_VCFS if "chr22" in v.name)
    root = tmp_path / "omics"
    write_batch(vcf, root, dataset="kg", batch=1, keep_info=None)
    rows = duckdb.sql(f"""SELECT f.pos, s.alt, f.dp, f.gq
        FROM read_parquet('{root}/formats/*/*/*/*.parquet') f
        JOIN read_parquet('{root}/sites/*/*/*/*.parquet') s USING (site) ORDER BY site""").fetchall()

    def text(values):
        return " ".join("." if v is None else str(v) for v in values)

    ours = [f"{pos}\t{alt}\t{text(dp)}\t{text(gq)}" for pos, alt, dp, gq in rows]
    expected = bcftools_pipeline(f"bcftools norm -m- {vcf} 2>/dev/null | bcftools query "
                                 "-f '%POS\\t%ALT\\t[%DP ]\\t[%GQ ]\\n'").splitlines()
    assert ours == [line.replace(" \t", "\t").rstrip() for line in expected]


def test_record_without_gt_counts_no_alleles(tmp_path):
    vcf = tmp_path / "nogt.vcf"
    vcf.write_text("##fileformat=VCFv4.2\n##contig=<ID=1>\n"
                   '##FORMAT=<ID=GT,Number=1,Type=String,Description="GT">\n'
                   '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="DP">\n'
                   "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\ta\tb\n"
                   "1\t5\t.\tA\tC\t.\t.\t.\tDP\t3\t4\n1\t6\t.\tA\tC,G\t.\t.\t.\tGT\t0/2\t1/1\n")
    store, refs, _ = _load(vcf, tmp_path / "omics")
    counts = [(c.pos, c.alt, c.ac, c.an, c.af_text) for c in store.allele_counts(refs, Region("1", 1, 100))]
    # bcftools leaves AC/AN/AF unset ('.') on the GT-less record; LifeBank says AC 0 of AN 0, AF missing
    assert counts == [(5, "C", 0, 0, "."), (6, "C", 2, 4, "0.5"), (6, "G", 1, 4, "0.25")]
