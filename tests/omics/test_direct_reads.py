"""`omics query --region` and `omics af` without the ORM give exactly the service's answers and errors.

`lifebank.omics.direct_reads` reads the catalogue with plain SQL over the driver (issue 10: one-shot cost) and
the Parquet files through the same `VariantStore`. Here both paths answer the same questions over a real
bank on SQLite and PostgreSQL: two datasets, one of them with two batches whose samples differ, so the
batch lists, the subset checks and the merging across batches are all compared; then the real commands run
in fresh processes and must take the direct path and print the service's output.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lifebank.cli import direct
from lifebank.db.engine import Database
from lifebank.errors import LifeBankError
from lifebank.omics import direct_reads, service

from .conftest import EDGE_VCF, REAL_VCFS

CHR22 = next(v for v in REAL_VCFS if "chr22" in v.name)
ACTOR = "tester"


@pytest.fixture
def store(db: Database, db_url: str, tmp_path: Path) -> dict[str, str]:
    """A bank with datasets `kg` (the chr22 file) and `edge` (two batches, samples s1-s6 then t1-t6)."""
    data = tmp_path / "data"
    data.mkdir()
    service.import_vcf(db, data, CHR22, dataset="kg", actor=ACTOR)
    first, second = tmp_path / "edge1.vcf", tmp_path / "edge2.vcf"
    first.write_text(EDGE_VCF)
    header, _, body = EDGE_VCF.partition("FORMAT\t")
    second.write_text(header + "FORMAT\t" + body.replace("s", "t", 6).replace("50\tPASS", "51\tPASS", 1))
    service.import_vcf(db, data, first, dataset="edge", actor=ACTOR)
    service.import_vcf(db, data, second, dataset="edge", actor=ACTOR)
    return {"LIFEBANK_DATABASE_URL": db_url, "LIFEBANK_DATA_DIR": str(data)}


def outcome(run: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return run(*args, **kwargs)
    except LifeBankError as exc:
        return type(exc).__name__, exc.detail


def counts_view(counts: Any) -> Any:
    if isinstance(counts, tuple):
        return counts  # an error
    return counts.as_rows(), [None if math.isnan(v) else v for v in counts.af_values.tolist()]


def service_sites(db: Database, data: Path, region: str, *, dataset: str | None) -> list[dict[str, object]]:
    return service.variants_in_region(db, data, region, dataset=dataset)[1]


REGIONS = ["chr22:10510000-10512000", "22:10510000-10520000", "chr22:1-100", "1:1-1000", "1:15-25", "2:1-10",
           "chrM:1-100", "chr22:5-1", "nonsense"]
DATASETS = [None, "kg", "edge", "missing"]


def test_region_sites_and_allele_counts_equal_the_service(db: Database, store: dict[str, str]) -> None:
    data = Path(store["LIFEBANK_DATA_DIR"])
    kg_samples = [row["vcf_sample"] for row in service.list_samples(db, "kg")]
    subsets: list[list[str] | None] = [None, kg_samples[10:40], ["s2", "t5", "s6"], ["t1"], ["s1", "NOBODY"],
                                       [f"X{i}" for i in range(12)]]
    conn = direct.connect(store)
    assert conn is not None
    try:
        seen_rows = 0
        for region in REGIONS:
            for dataset in DATASETS:
                expected = outcome(service_sites, db, data, region, dataset=dataset)
                got = outcome(direct_reads.variants_in_region, conn, region, dataset=dataset)
                assert got == expected, (region, dataset)
                seen_rows += len(got) if isinstance(got, list) else 0
                for samples in subsets:
                    expected_counts = counts_view(outcome(service.allele_counts, db, data, region, dataset=dataset,
                                                          samples=samples))
                    got_counts = counts_view(outcome(direct_reads.allele_counts, conn, region, dataset=dataset,
                                                     samples=samples))
                    assert got_counts == expected_counts, (region, dataset, samples)
        assert seen_rows > 20
    finally:
        conn.close()
    merged = service.allele_counts(db, data, "1:1-1000", dataset="edge")  # both batches' samples counted
    first = service.allele_counts(db, data, "1:1-1000", dataset="edge", samples=[f"s{i}" for i in range(1, 7)])
    assert [c.an for c in merged] == [2 * c.an for c in first] and len(merged) > 3


PROBE = """
import json, sys
from lifebank.cli.main import main
sys.argv = ["lifebank", *sys.argv[1:]]
try:
    main()
finally:
    print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def probe(args: list[str], env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    proc = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **env, "COLUMNS": "200"})
    return proc, set(json.loads(proc.stderr.strip().splitlines()[-1]))


def test_the_commands_take_the_direct_path_and_print_the_service_output(db: Database, store: dict[str, str],
                                                                        tmp_path: Path) -> None:
    data = Path(store["LIFEBANK_DATA_DIR"])
    subset = tmp_path / "subset.txt"
    subset.write_text("s2\nt5\n")
    af, modules = probe(["omics", "af", "--region", "1:1-1000", "--dataset", "edge", "--samples", str(subset)],
                        store)
    assert af.returncode == 0, af.stderr[-2000:]
    counts = service.allele_counts(db, data, "1:1-1000", dataset="edge", samples=["s2", "t5"])
    assert af.stdout == "CHROM\tPOS\tREF\tALT\tAC\tAN\tAF\n" + "".join(
        "\t".join(str(row[c]) for c in ("CHROM", "POS", "REF", "ALT", "AC", "AN", "AF")) + "\n"
        for row in counts.as_rows())
    query, modules_query = probe(["omics", "query", "--region", "chr22:10510000-10512000", "--format", "json"],
                                 store)
    assert query.returncode == 0, query.stderr[-2000:]
    assert json.loads(query.stdout) == service.variants_in_region(db, data, "chr22:10510000-10512000")[1]
    for heavy in ("sqlalchemy", "pydantic_settings", "duckdb", "lifebank.omics.service", "lifebank.omics.models",
                  "pyarrow.compute", "pyarrow.dataset", "numpy.ma"):  # ~0.1 s of imports a one-shot read needs not
        assert heavy not in modules and heavy not in modules_query, heavy
    assert "pyarrow" not in modules  # `omics af` counts from the allele planes: NumPy over mmap
    unknown, _ = probe(["omics", "af", "--region", "1:1-1000", "--dataset", "nope"], store)
    assert unknown.returncode == 1 and unknown.stderr.splitlines()[0] == "error: no omics dataset 'nope'"
