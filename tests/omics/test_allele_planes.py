"""The allele-plane files (`planes_write`, `planes_read`): the same AC/AN as counting every call, and as today's
sparse-row path, on generated genotypes (hypothesis), on every real VCF, through the import and without planes."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from lifebank.audit.models import LedgerEvent
from lifebank.cli import direct
from lifebank.db.engine import Database
from lifebank.errors import Conflict, NotFound
from lifebank.omics import direct_reads, layout, service
from lifebank.omics.ingest import file_sha256, write_batch
from lifebank.omics.models import OmicsFile
from lifebank.omics.planes_read import AllelePlanes, hap_width
from lifebank.omics.planes_rebuild import rebuild_planes
from lifebank.omics.planes_write import NO_ALLELES, PlaneWriter
from lifebank.omics.queries import BatchRef, VariantStore
from lifebank.omics.region_reads import count_alleles
from lifebank.omics.regions import Region

from .conftest import EDGE_VCF, REAL_VCFS

WHOLE = 2**31 - 1


def _write(path: Path, a1: np.ndarray, a2: np.ndarray, ploidy: np.ndarray, pos: np.ndarray, cuts: list[int],
           extra_ref: np.ndarray) -> AllelePlanes:
    """Planes of a dense call matrix (sites x samples), the sparse rows chosen as the import chooses them (plus
    `extra_ref`: homozygous-REF calls stored anyway, as a REF call phased the other way is), in chunks."""
    n_sites, n_samples = a1.shape
    implied_a2 = np.where(ploidy == 2, 0, -2)[:, None]
    stored = ~((a1 == 0) & (a2 == implied_a2)) | extra_ref
    writer = PlaneWriter(path, n_samples)
    bounds = [0, *sorted(set(cuts)), n_sites]
    alleles = [writer.site_alleles(np.stack([a1[i], a2[i]], axis=1) if ploidy[i] == 2 else a1[i][:, None])
               if n_samples else NO_ALLELES for i in range(n_sites)]
    for first, last in zip(bounds[:-1], bounds[1:], strict=True):
        site, sample = np.nonzero(stored[first:last])
        writer.add_chunk(ploidy[first:last], pos[first:last], pos[first:last] + 1,
                         [f"A{i}" for i in range(first, last)], [f"C{i}" for i in range(first, last)],
                         alleles[first:last], site.astype(np.int32), sample.astype(np.int32),
                         a1[first:last][site, sample], a2[first:last][site, sample])
    writer.close()
    return AllelePlanes.open(path)


@st.composite
def call_matrices(draw: st.DrawFn) -> tuple:
    n_samples = draw(st.integers(0, 90))
    n_sites = draw(st.integers(1, 40))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    ploidy = rng.choice(np.array([1, 2], np.int8), n_sites, p=[0.2, 0.8])
    alt_freq = rng.choice([0.0, 0.02, 0.2, 0.6, 1.0], n_sites)[:, None]  # rare sites listed, common ones dense
    missing = rng.choice([0.0, 0.05, 0.5], n_sites)[:, None]
    shape = (n_sites, n_samples)

    def allele() -> np.ndarray:
        codes = (rng.random(shape) < alt_freq).astype(np.int8)
        codes[rng.random(shape) < missing] = -1
        return codes

    a1, a2 = allele(), allele()
    a2[ploidy == 1] = -2
    haploid_in_diploid = (rng.random(shape) < 0.05) & (ploidy == 2)[:, None]
    a2[haploid_in_diploid] = -2
    pos = np.sort(rng.integers(1, 500, n_sites)) if draw(st.booleans()) else rng.integers(1, 500, n_sites)
    cuts = draw(st.lists(st.integers(1, max(1, n_sites - 1)), max_size=3)) if n_sites > 1 else []
    extra_ref = rng.random(shape) < 0.02
    return a1, a2, ploidy, pos, cuts, extra_ref, seed


@settings(max_examples=60, deadline=None)
@given(call_matrices())
def test_planes_count_every_subset_as_a_count_of_every_call(tmp_path_factory, generated):
    a1, a2, ploidy, pos, cuts, extra_ref, seed = generated
    planes = _write(tmp_path_factory.mktemp("planes") / "p.lbplanes", a1, a2, ploidy, pos, cuts, extra_ref)
    n_sites, n_samples = a1.shape
    rng = np.random.default_rng(seed)
    alt = (a1 == 1).astype(np.int64) + (a2 == 1)
    called = (a1 >= 0).astype(np.int64) + (a2 >= 0)
    for _ in range(4):
        start = int(rng.integers(0, 500))
        stop = start + int(rng.integers(0, 300))
        region_rows = planes.rows_in(start, stop)
        assert region_rows.tolist() == np.flatnonzero((pos <= stop) & (pos + 1 >= start)).tolist()
        for member in (None, rng.random(n_samples) < 0.5, np.zeros(n_samples, bool), np.ones(n_samples, bool)):
            rows = np.arange(n_sites) if member is None else region_rows
            chosen = np.ones(n_samples, bool) if member is None else member
            ac, an = planes.counts(rows, member)
            assert ac.tolist() == alt[rows][:, chosen].sum(axis=1).tolist()
            assert an.tolist() == called[rows][:, chosen].sum(axis=1).tolist()
    assert planes.alleles(np.arange(n_sites)) == ([f"A{i}" for i in range(n_sites)], [f"C{i}" for i in range(n_sites)])
    assert planes.arrays["pos"].tolist() == pos.tolist()
    planes.close()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 400), st.integers(0, 30)), min_size=1, max_size=30),
       st.integers(1, 450), st.integers(0, 100))
def test_region_rows_are_the_overlapping_sites_in_file_order(tmp_path_factory, sites, start, length):
    """POS..END overlaps the region, as `ChromIndex.rows_in` decides (sorted files and unsorted ones)."""
    pos = np.array([p for p, _ in sites], np.int64)
    end = pos + np.array([span for _, span in sites], np.int64)
    path = tmp_path_factory.mktemp("rows") / "p.lbplanes"
    writer = PlaneWriter(path, 0)
    empty = np.empty(0, np.int32)
    writer.add_chunk(np.full(len(pos), 2, np.int8), pos, end, ["A"] * len(pos), ["C"] * len(pos),
                     [NO_ALLELES] * len(pos), empty, empty, empty.astype(np.int8), empty.astype(np.int8))
    writer.close()
    planes = AllelePlanes.open(path)
    stop = start + length
    assert planes.rows_in(start, stop).tolist() == np.flatnonzero((pos <= stop) & (end >= start)).tolist()
    planes.close()


def test_more_than_32768_samples_list_haplotypes_as_uint32(tmp_path):
    n_samples = 40_000
    rng = np.random.default_rng(7)
    a1 = (rng.random((3, n_samples)) < np.array([[0.0001], [0.3], [0.0]])).astype(np.int8)
    a2 = a1[::-1].copy()
    a1[2, 39_999] = -1
    planes = _write(tmp_path / "big.lbplanes", a1, a2, np.full(3, 2, np.int8), np.arange(1, 4), [], np.zeros_like(
        a1, bool))
    assert hap_width(n_samples) == np.dtype("<u4") and planes.arrays["sparse"].dtype == np.dtype("<u4")
    assert planes.arrays["dense_row"].tolist() == [-1, 0, -1]  # 8 ALT haplotypes listed, ~24,000 a plane
    member = rng.random(n_samples) < 0.5
    member[39_999] = True
    ac, an = planes.counts(np.arange(3), member)
    assert ac.tolist() == ((a1 == 1).astype(int) + (a2 == 1))[:, member].sum(axis=1).tolist()
    assert an.tolist() == [2 * int(member.sum())] * 2 + [2 * int(member.sum()) - 1]
    planes.close()


def _load(vcf: Path, root: Path) -> tuple[VariantStore, BatchRef, list[str]]:
    summary = write_batch(vcf, root, dataset="d", batch=1, keep_info=None)
    return VariantStore(root), BatchRef("d", 1, tuple(summary.chroms)), summary.samples


@pytest.mark.parametrize("vcf", [*REAL_VCFS, "edge"], ids=lambda v: getattr(v, "name", v))
def test_planes_equal_the_sparse_rows_path_on_every_real_file(vcf, tmp_path):
    if vcf == "edge":
        vcf = tmp_path / "edge.vcf"
        vcf.write_text(EDGE_VCF)
    store, ref, samples = _load(vcf, tmp_path / "omics")
    rng = random.Random(3)
    for chrom in ref.chroms:
        index = store.chrom_index(ref, chrom)
        planes = store.planes(ref, chrom)
        assert planes is not None and planes.n_sites == len(index.rows_in(1, WHOLE))
        every = index.rows_in(1, WHOLE).pos
        for _ in range(5):
            start = rng.randint(int(every.min()) - 10, int(every.max()))
            region = (start, start + rng.choice([0, 100, 10_000, WHOLE - start]))
            rows = index.rows_in(*region)
            assert planes.rows_in(*region).tolist() == rows.rows.tolist()
            table = index.read_sites(rows, ["ref", "alt"])
            assert planes.alleles(rows.rows) == (table["ref"].to_pylist(), table["alt"].to_pylist())
            for size in (0, 1, len(samples) // 2, len(samples)):
                member = np.zeros(len(samples), bool)
                member[rng.sample(range(len(samples)), size)] = True
                ours = planes.counts(rows.rows, member)
                theirs = count_alleles(index, rows, member, size)
                assert ours[0].tolist() == theirs[0].tolist() and ours[1].tolist() == theirs[1].tolist()
            whole = planes.counts(rows.rows, None)
            theirs = count_alleles(index, rows, None, len(samples))
            assert whole[0].tolist() == theirs[0].tolist() and whole[1].tolist() == theirs[1].tolist()


def test_a_store_without_planes_counts_the_same(tmp_path):
    """Stores written before the planes keep working: the sparse genotype rows are counted instead."""
    chr22 = next(v for v in REAL_VCFS if "chr22" in v.name)
    store, ref, samples = _load(chr22, tmp_path / "omics")
    region = Region("chr22", 1, WHOLE)
    subset = samples[5:60]
    with_planes = (store.allele_counts([ref], region), store.allele_counts([ref], region, subset))
    shutil.rmtree(tmp_path / "omics" / "planes")
    older = VariantStore(tmp_path / "omics")
    assert older.planes(ref, "chr22") is None
    assert (older.allele_counts([ref], region), older.allele_counts([ref], region, subset)) == with_planes
    assert len(with_planes[1]) > 50 and any(c.ac for c in with_planes[1])


def test_import_catalogues_the_planes_and_the_direct_read_falls_back_without_them(db: Database, db_url: str,
                                                                                   tmp_path: Path):
    data = tmp_path / "data"
    chr22 = next(v for v in REAL_VCFS if "chr22" in v.name)
    service.import_vcf(db, data, chr22, dataset="kg", actor="tester")
    root = service.store_root(data)
    planes_file = layout.planes_file(root, "kg", 1, "chr22")
    assert planes_file.is_file() and not list(planes_file.parent.glob("*.sparse"))  # side files appended, gone
    with db.session() as session:
        rows = {f.relpath: f for f in session.query(OmicsFile)}
    catalogued = rows[planes_file.relative_to(root).as_posix()]
    assert catalogued.sha256 == file_sha256(planes_file) and catalogued.size_bytes == planes_file.stat().st_size
    samples = [row["vcf_sample"] for row in service.list_samples(db, "kg")][::3]
    conn = direct.connect({"LIFEBANK_DATABASE_URL": db_url, "LIFEBANK_DATA_DIR": str(data)})
    assert conn is not None
    try:
        expected = service.allele_counts(db, data, "chr22:1-60000000", samples=samples)
        assert direct_reads.allele_counts(conn, "chr22:1-60000000", samples=samples) == expected
        shutil.rmtree(root / "planes")
        assert direct_reads.allele_counts(conn, "chr22:1-60000000", samples=samples) == expected
    finally:
        conn.close()
    assert len(expected) > 50


def test_rebuild_planes_writes_the_file_the_import_writes_and_catalogues_it(db: Database, db_url: str,
                                                                           tmp_path: Path):
    """A store imported before the planes gets them from its own Parquet rows: byte for byte what the import
    writes, catalogued and ledgered; run again it leaves them alone; a catalogued file that went missing is
    restored only when it comes out with the catalogued checksum."""
    data = tmp_path / "data"
    edge = tmp_path / "edge.vcf"
    edge.write_text(EDGE_VCF)
    service.import_vcf(db, data, edge, dataset="edge", actor="tester")
    chr22 = next(v for v in REAL_VCFS if "chr22" in v.name)
    service.import_vcf(db, data, chr22, dataset="kg", actor="tester")
    root = service.store_root(data)
    originals = {p.relative_to(root).as_posix(): p.read_bytes() for p in (root / "planes").rglob("*.lbplanes")}
    assert len(originals) == 3  # kg chr22, and the edge file's two contigs
    shutil.rmtree(root / "planes")  # the store as an import before the planes left it
    with db.transaction() as session:
        session.execute(delete(OmicsFile).where(OmicsFile.relpath.like("planes/%")))
    assert service.allele_counts(db, data, "chr22:1-60000000")  # still answered, from the sparse rows

    env = {"LIFEBANK_DATABASE_URL": db_url, "LIFEBANK_DATA_DIR": str(data)}
    done = subprocess.run([sys.executable, "-m", "lifebank", "omics", "rebuild-planes", "--dataset", "kg",
                           "--format", "json"], env={**os.environ, **env}, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    (kg,) = json.loads(done.stdout)
    assert kg["status"] == "built" and kg["chrom"] == "chr22" and kg["sites"] > 50
    outcomes = {(o.dataset, o.chrom): o for o in rebuild_planes(db, data, actor="tester")}
    assert {k: o.status for k, o in outcomes.items()} == {("edge", c): "built" for c in ("1", "2")} | {
        ("kg", "chr22"): "present"}
    rebuilt = {p.relative_to(root).as_posix(): p.read_bytes() for p in (root / "planes").rglob("*") if p.is_file()}
    assert rebuilt == originals  # nothing else left beside them (no temporary or side files)
    with db.session() as session:
        shas = {f.relpath: f.sha256 for f in session.scalars(select(OmicsFile)
                                                             .where(OmicsFile.relpath.like("planes/%")))}
        events = session.scalars(select(LedgerEvent).where(LedgerEvent.action == "omics.planes.rebuild")).all()
    assert shas == {path: file_sha256(root / path) for path in originals} and len(events) == 3

    kg_path = root / kg["path"]
    kg_path.unlink()  # catalogued but gone: restored, and it must match the catalogue
    assert [o.status for o in rebuild_planes(db, data, actor="tester", dataset="kg")] == ["built"]
    assert kg_path.read_bytes() == originals[kg["path"]]
    kg_path.unlink()
    with db.transaction() as session:
        session.execute(OmicsFile.__table__.update().where(OmicsFile.relpath == kg["path"]).values(sha256="0" * 64))
    with pytest.raises(Conflict, match="differ from the catalogued file"):
        rebuild_planes(db, data, actor="tester", dataset="kg")
    assert not kg_path.exists() and not list(kg_path.parent.iterdir())
    with pytest.raises(NotFound):
        rebuild_planes(db, data, actor="tester", dataset="nope")
