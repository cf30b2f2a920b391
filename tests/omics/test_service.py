"""Import, append, failure atomicity, queries, export and sample links through the service, on both databases."""

from __future__ import annotations

import hashlib
import subprocess
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from lifebank.audit.models import LedgerEvent
from lifebank.biobank import service as biobank
from lifebank.db.engine import Database
from lifebank.errors import Conflict, ValidationFailed
from lifebank.omics import service
from lifebank.omics.models import OmicsBatch, OmicsSample
from lifebank.omics.sample_map import SampleMapInvalid

from .conftest import REAL_VCFS, bcftools, bcftools_pipeline

CHR22 = next(v for v in REAL_VCFS if "chr22" in v.name)
ACTOR = "tester"


def _tree_digests(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _split_samples(tmp_path: Path) -> tuple[Path, Path, list[str]]:
    samples = bcftools("query", "-l", str(CHR22)).split()
    first, second = tmp_path / "b1.vcf.gz", tmp_path / "b2.vcf.gz"
    bcftools("view", "-Oz", "-o", str(first), "-s", ",".join(samples[:50]), str(CHR22))
    bcftools("view", "-Oz", "-o", str(second), "-s", ",".join(samples[50:]), str(CHR22))
    return first, second, samples


def test_appending_a_batch_leaves_the_first_batch_byte_identical_and_counts_span_batches(db, tmp_path):
    first, second, samples = _split_samples(tmp_path)
    data = tmp_path / "data"
    one = service.import_vcf(db, data, first, dataset="kg", actor=ACTOR)
    assert (one.batch, one.samples, one.records) == (1, 50, 100)
    before = _tree_digests(data / "omics")
    two = service.import_vcf(db, data, second, dataset="kg", actor=ACTOR)
    assert two.batch == 2
    after = _tree_digests(data / "omics")
    assert {k: v for k, v in after.items() if k in before} == before
    assert all("batch=2" in k for k in set(after) - set(before))
    # the catalogue's checksums are the files' checksums
    detail = service.dataset_detail(db, "kg")
    for batch in detail["batches"]:
        for f in batch["files"]:
            assert after[f["path"]] == f["sha256"]
    # AC/AN over both batches equal bcftools on the original 100-sample file
    ours = [f"{c.pos}\t{c.ref}\t{c.alt}\t{c.ac}\t{c.an}\t{c.af_text}"
            for c in service.allele_counts(db, data, "chr22:1-20000000", dataset="kg")]
    expected = bcftools_pipeline(f"bcftools norm -m- {CHR22} 2>/dev/null | bcftools +fill-tags -- -t AC,AN,AF "
                                 "2>/dev/null | bcftools query -f '%POS\\t%REF\\t%ALT\\t%AC\\t%AN\\t%AF\\n'")
    assert ours == expected.splitlines()
    subset = samples[40:60]
    ours = [f"{c.pos}\t{c.ac}\t{c.an}" for c in
            service.allele_counts(db, data, "chr22:1-20000000", dataset="kg", samples=subset)]
    expected = bcftools_pipeline(f"bcftools norm -m- {CHR22} 2>/dev/null | bcftools view -s {','.join(subset)} - "
                                 "| bcftools +fill-tags -- -t AC,AN 2>/dev/null "
                                 "| bcftools query -f '%POS\\t%AC\\t%AN\\n'")
    assert ours == expected.splitlines()


def test_truncated_file_is_refused_naming_the_record_and_nothing_is_written(db, tmp_path):
    truncated = tmp_path / "cut.vcf.gz"
    truncated.write_bytes(CHR22.read_bytes()[:-3000])
    data = tmp_path / "data"
    with db.session() as session:
        events_before = session.scalar(select(func.count()).select_from(LedgerEvent))
    with pytest.raises(ValidationFailed) as caught:
        service.import_vcf(db, data, truncated, dataset="kg", actor=ACTOR)
    assert "cut.vcf.gz: record " in caught.value.detail and "truncated or malformed" in caught.value.detail
    assert ", after chr22:" in caught.value.detail
    assert [p for p in (data / "omics").rglob("*") if p.is_file()] == []
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(OmicsBatch)) == 0
        assert session.scalar(select(func.count()).select_from(LedgerEvent)) == events_before


def test_malformed_line_is_refused_with_its_line_number(db, tmp_path):
    text = subprocess.run(["bcftools", "view", str(CHR22)], capture_output=True, text=True, check=True).stdout
    lines = text.splitlines()
    header = sum(1 for line in lines if line.startswith("#"))
    fields = lines[header + 4].split("\t")
    fields[1] = "X1"
    lines[header + 4] = "\t".join(fields)
    bad = tmp_path / "bad.vcf"
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValidationFailed) as caught:
        service.import_vcf(db, tmp_path / "data", bad, dataset="kg", actor=ACTOR)
    assert f"record 5 (line {header + 5}), after chr22:" in caught.value.detail


def test_same_file_twice_is_a_conflict_and_one_ledger_event_per_import(db, tmp_path):
    data = tmp_path / "data"
    service.import_vcf(db, data, CHR22, dataset="kg", actor=ACTOR)
    with pytest.raises(Conflict):
        service.import_vcf(db, data, CHR22, dataset="kg", actor=ACTOR)
    with db.session() as session:
        actions = list(session.scalars(select(LedgerEvent.action).where(LedgerEvent.action.like("omics.%"))))
    assert actions == ["omics.dataset.create", "omics.import"]


def test_export_is_read_back_by_bcftools_with_the_same_genotypes(db, tmp_path):
    data = tmp_path / "data"
    service.import_vcf(db, data, CHR22, dataset="kg", actor=ACTOR)
    samples = bcftools("query", "-l", str(CHR22)).split()
    subset = samples[::7]
    out = tmp_path / "export.vcf"
    out.write_text(service.export_vcf(db, data, "chr22:10510000-10513000", dataset="kg", samples=subset))
    ours = bcftools("query", "-f", "%CHROM\t%POS\t%REF\t%ALT[\t%GT]\n", str(out))
    expected = bcftools_pipeline(f"bcftools view -r chr22:10510000-10513000 {CHR22} 2>/dev/null | "
                                 f"bcftools norm -m- - 2>/dev/null | bcftools view -s {','.join(subset)} - | "
                                 "bcftools query -f '%CHROM\\t%POS\\t%REF\\t%ALT[\\t%GT]\\n'")
    assert ours == expected
    assert ours.count("\n") > 10


def test_rsid_and_gene_queries(db, tmp_path):
    vcf = tmp_path / "brca2.vcf"
    vcf.write_text("##fileformat=VCFv4.2\n##contig=<ID=chr13>\n"
                   '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
                   "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\tS2\n"
                   "chr13\t32300000\trs100\tA\tG\t.\tPASS\t.\tGT\t0/1\t0/0\n"
                   "chr13\t32316000\trs80357713\tC\tT\t.\tPASS\t.\tGT\t0/1\t0/0\n"
                   "chr13\t32390000\t.\tG\tA,C\t.\tPASS\t.\tGT\t0/0\t1/2\n")
    data = tmp_path / "data"
    service.import_vcf(db, data, vcf, dataset="wgs", actor=ACTOR)
    by_id = service.variants_by_id(db, data, "rs80357713")
    assert [(r["chrom"], r["pos"], r["alt"]) for r in by_id] == [("chr13", 32316000, "T")]
    regions, rows = service.variants_in_gene(db, data, "brca2")
    assert [str(r) for r in regions] == ["chr13:32315508-32400268"]  # named as the dataset names its contigs
    assert [(r["pos"], r["alt"]) for r in rows] == [(32316000, "T"), (32390000, "A"), (32390000, "C")]


def test_sample_map_links_samples_and_reports_unmapped_ones(db, tmp_path):
    biobank.register_participant(db, "P1", sex="F", birth_year=1970, site="SH", actor=ACTOR)
    biobank.register_participant(db, "P2", sex="M", birth_year=1971, site="SH", actor=ACTOR)
    biobank.record_consent(db, "P2", duo_codes="DUO:0000042", consent_date=date(2024, 1, 2), actor=ACTOR)
    specimen = biobank.register_specimen(db, None, participant="P2", type="DNA", quantity=10.0, actor=ACTOR)
    samples = bcftools("query", "-l", str(CHR22)).split()
    mapping = ("vcf_sample,participant,specimen_barcode\n"
               f"{samples[0]},P1,\n{samples[1]},,{specimen.barcode}\nNOT_IN_FILE,P1,\n")
    result = service.import_vcf(db, tmp_path / "data", CHR22, dataset="kg", actor=ACTOR, sample_map=mapping)
    assert result.mapped_samples == 2
    assert result.unmapped_samples == samples[2:]
    assert result.map_rows_not_in_file == ["NOT_IN_FILE"]
    rows = service.list_samples(db, "kg")
    assert len(rows) == 100
    assert rows[0] == {"batch": 1, "vcf_sample": samples[0], "participant": "P1", "specimen_barcode": None}
    assert rows[1] == {"batch": 1, "vcf_sample": samples[1], "participant": "P2",
                       "specimen_barcode": specimen.barcode}
    assert rows[2]["participant"] is None


def test_sample_map_errors_list_every_bad_row_and_nothing_is_imported(db, tmp_path):
    biobank.register_participant(db, "P1", sex="F", birth_year=1970, site="SH", actor=ACTOR)
    mapping = "vcf_sample,participant,specimen_barcode\nA,P1,\nB,NOPE,\nA,P1,\nC,,\n"
    with pytest.raises(SampleMapInvalid) as caught:
        service.import_vcf(db, tmp_path / "data", CHR22, dataset="kg", actor=ACTOR, sample_map=mapping)
    assert [(e.line, e.column) for e in caught.value.errors] == [(4, "vcf_sample"), (5, "participant")]
    mapping = "vcf_sample,participant,specimen_barcode\nA,P1,\nB,NOPE,\nC,,XX\n"
    with pytest.raises(SampleMapInvalid) as caught:
        service.import_vcf(db, tmp_path / "data", CHR22, dataset="kg", actor=ACTOR, sample_map=mapping)
    assert [(e.line, e.column) for e in caught.value.errors] == [(3, "participant"), (4, "specimen_barcode")]
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(OmicsSample)) == 0


def test_genome_build_is_fixed_per_dataset(db: Database, tmp_path):
    first, second, _ = _split_samples(tmp_path)
    service.import_vcf(db, tmp_path / "data", first, dataset="kg", actor=ACTOR, genome_build="GRCh38")
    with pytest.raises(Conflict, match="GRCh38, not GRCh37"):
        service.import_vcf(db, tmp_path / "data", second, dataset="kg", actor=ACTOR, genome_build="GRCh37")
