"""LifeBank's variant store against bcftools on an msprime-simulated cohort (issue 5's benchmark).

Simulates `--samples` diploid genomes over a chr22-sized sequence with about `--sites` segregating sites,
writes them as a bgzipped, indexed VCF, then measures on that same file, each as a ratio to bcftools:

- ingest time (LifeBank import into Parquet + catalogue)  vs `bcftools convert -Ob`   (target speed >= 0.5x)
- storage size (Parquet files)                             vs the BCF                  (target <= 1.0x)
- p50 of 100 random 100 kb region queries                  vs `bcftools view -H -r`    (target <= 1.0x)
- AC/AN/AF over a random 1,000-sample subset of a 1 Mb region
      vs `bcftools view -s ... -r ... | bcftools +fill-tags -- -t AC,AN,AF`          (target >= 5x faster)
- peak memory (max RSS) of the ingest                      vs bcftools convert's

Each measured program runs as its own child process so its peak RSS is its own (os.wait4).
Usage: python benchmarks/omics_vs_bcftools.py [--samples 2504] [--sites 1000000] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

CHR22_LENGTH = 50_818_468
ROOT = Path(__file__).resolve().parent.parent


def run_child(args: list[str], *, stdout: int | None = subprocess.DEVNULL, shell: bool = False) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one child process (or shell pipeline: the largest member)."""
    start = time.perf_counter()
    proc = subprocess.Popen(args, stdout=stdout, stderr=subprocess.DEVNULL, shell=shell)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{args} failed with {proc.returncode}")
    return elapsed, usage.ru_maxrss


def simulate(vcf: Path, samples: int, sites: int, length: int, seed: int) -> int:
    import msprime

    ts = msprime.sim_ancestry(samples=samples, ploidy=2, sequence_length=length, recombination_rate=1e-8,
                              population_size=10_000, random_seed=seed)
    branch = ts.segregating_sites(mode="branch") * length
    ts = msprime.sim_mutations(ts, rate=sites / branch, random_seed=seed, discrete_genome=True)
    names = [f"SIM{i:05d}" for i in range(samples)]
    bgzip = subprocess.Popen(["bgzip", "-c", "-@", "2"], stdin=subprocess.PIPE, stdout=vcf.open("wb"))
    import io

    with io.TextIOWrapper(bgzip.stdin, encoding="ascii") as text:  # type: ignore[arg-type]
        ts.write_vcf(text, contig_id="chr22", individual_names=names,
                     position_transform=lambda p: np.asarray(p, dtype=np.int64) + 1)  # VCF is 1-based
    bgzip.wait()
    subprocess.run(["bcftools", "index", "-f", str(vcf)], check=True)
    return ts.num_sites


def ingest_child(vcf: str, data_dir: str) -> None:
    """Runs in its own process: a real import (SQLite catalogue + Parquet), so its RSS is measurable."""
    from lifebank.db.engine import Database
    from lifebank.db.migrate import upgrade
    from lifebank.omics import service

    Path(data_dir).mkdir(parents=True, exist_ok=True)
    db = Database(f"sqlite:///{data_dir}/lifebank.db")
    upgrade(db)
    result = service.import_vcf(db, Path(data_dir), Path(vcf), dataset="sim", actor="bench")
    print(json.dumps(result.as_dict() | {"unmapped_samples": len(result.unmapped_samples)}), file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=2504)
    parser.add_argument("--sites", type=int, default=1_000_000, help="target number of segregating sites")
    parser.add_argument("--length", type=int, default=CHR22_LENGTH)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--subset", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=22)
    parser.add_argument("--repeats", type=int, default=5, help="runs of the subset AF comparison (median)")
    parser.add_argument("--workdir", type=Path, default=None, help="keep files here (default: a temp folder)")
    parser.add_argument("--ingest-child", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--simulate-child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.ingest_child:
        ingest_child(*args.ingest_child)
        return

    if args.simulate_child:
        vcf, samples, sites, length, seed = args.simulate_child
        print(simulate(Path(vcf), int(samples), int(sites), int(length), int(seed)))
        return

    work = args.workdir or Path(tempfile.mkdtemp(prefix="omics-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    vcf = work / "sim.vcf.gz"
    params = json.dumps([args.samples, args.sites, args.length, args.seed])
    params_file = work / "params.json"
    if vcf.exists() and params_file.exists() and params_file.read_text() == params:
        n_sites = int(subprocess.run(["bcftools", "index", "-n", str(vcf)], capture_output=True, text=True,
                                     check=True).stdout)
        print(f"reusing {vcf}: {n_sites} records x {args.samples} diploid samples")
    else:
        # Simulated in a child process: the parent stays small, so the peak RSS it measures in later children
        # (Linux counts the RSS a child inherits at fork) is not inflated by the tree sequence.
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, __file__, "--simulate-child", str(vcf), str(args.samples),
                              str(args.sites), str(args.length), str(args.seed)], capture_output=True, text=True,
                             check=True).stdout
        n_sites = int(out.split()[-1])
        params_file.write_text(params)
        print(f"simulated: {n_sites} sites x {args.samples} diploid samples in {time.perf_counter() - t0:.0f} s "
              f"(VCF.gz {vcf.stat().st_size / 2**20:.1f} MiB)")

    bcf = work / "sim.bcf"
    bcf_time, bcf_rss = run_child(["bcftools", "convert", "-Ob", "-o", str(bcf), str(vcf)])
    subprocess.run(["bcftools", "index", "-f", str(bcf)], check=True)
    data_dir = work / "data"
    shutil.rmtree(data_dir, ignore_errors=True)
    ours_time, ours_rss = run_child([sys.executable, __file__, "--ingest-child", str(vcf), str(data_dir)])
    print(f"ingest_seconds: {ours_time:.1f} s (bcftools convert -Ob: {bcf_time:.1f} s; "
          f"speed ratio {bcf_time / ours_time:.2f}x, target >= 0.5x)")
    store_bytes = sum(p.stat().st_size for p in (data_dir / "omics").rglob("*.parquet"))
    print(f"storage_mib: {store_bytes / 2**20:.1f} MiB (BCF: {bcf.stat().st_size / 2**20:.1f} MiB; "
          f"ratio {store_bytes / bcf.stat().st_size:.2f}x, target <= 1.0x)")
    print(f"ingest_peak_rss_mib: {ours_rss / 1024:.0f} MiB (bcftools convert: {bcf_rss / 1024:.0f} MiB; "
          f"ratio {ours_rss / bcf_rss:.1f}x; both include the benchmark's own "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB inherited at fork)")

    sys.path.insert(0, str(ROOT / "src"))
    from lifebank.db.engine import Database
    from lifebank.omics import service
    from lifebank.omics.regions import Region

    db = Database(f"sqlite:///{data_dir}/lifebank.db")
    rng = random.Random(args.seed)
    window = min(100_000, args.length - 1)
    regions = [Region("chr22", s, s + window - 1) for s in
               (rng.randint(1, args.length - window) for _ in range(args.queries))]
    service.variants_in_region(db, data_dir, regions[0])  # warm the DuckDB connection once
    ours, theirs, found = [], [], 0
    for region in regions:
        start = time.perf_counter()
        _, rows = service.variants_in_region(db, data_dir, region)
        ours.append(time.perf_counter() - start)
        found += len(rows)
        elapsed, _ = run_child(["bcftools", "view", "-H", "-r", str(region), str(bcf)])
        theirs.append(elapsed)
    p50_ours, p50_theirs = statistics.median(ours), statistics.median(theirs)
    print(f"region_100kb_p50_ms: {p50_ours * 1000:.1f} ms (bcftools view -H -r: {p50_theirs * 1000:.1f} ms; "
          f"ratio {p50_ours / p50_theirs:.2f}x, target <= 1.0x; {found / len(regions):.0f} sites per query)")

    names = [f"SIM{i:05d}" for i in range(args.samples)]
    subset = rng.sample(names, min(args.subset, args.samples))
    mb = min(1_000_000, args.length - 1)
    start_pos = rng.randint(1, args.length - mb)
    region = Region("chr22", start_pos, start_pos + mb - 1)
    samples_file = work / "subset.txt"
    samples_file.write_text("\n".join(subset) + "\n")
    pipeline = (f"bcftools view -r {region} -S {samples_file} {bcf} -Ou | "
                "bcftools +fill-tags -Ou -- -t AC,AN,AF > /dev/null")
    ours_runs, tsv_runs, theirs_runs = [], [], []
    for _ in range(args.repeats):  # alternate the two tools; report medians (the machine is shared)
        start = time.perf_counter()
        counts = service.allele_counts(db, data_dir, region, samples=subset)
        ours_runs.append(time.perf_counter() - start)
        counts.to_tsv()  # the text a CLI user gets: the query plus printing AF as htslib does
        tsv_runs.append(time.perf_counter() - start)
        theirs_runs.append(run_child([pipeline], shell=True)[0])
    ours_af, theirs_af = statistics.median(ours_runs), statistics.median(theirs_runs)
    ours_tsv = statistics.median(tsv_runs)
    print(f"subset_af_1mb_ms: {ours_af * 1000:.0f} ms (bcftools view -s | +fill-tags: {theirs_af * 1000:.0f} ms; "
          f"{theirs_af / ours_af:.1f}x faster, target >= 5x; median of {args.repeats}, first run "
          f"{ours_runs[0] * 1000:.0f} vs {theirs_runs[0] * 1000:.0f} ms; {len(counts)} sites, {len(subset)} samples)")
    print(f"subset_af_1mb_tsv_ms: {ours_tsv * 1000:.0f} ms including TSV text (bcftools: {theirs_af * 1000:.0f} ms; "
          f"{theirs_af / ours_tsv:.1f}x faster)")
    if args.workdir is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
