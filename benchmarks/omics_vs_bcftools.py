"""LifeBank's variant store against bcftools on an msprime-simulated cohort, each peer doing the same work.

Simulates `--samples` diploid genomes over a chr22-sized sequence with about `--sites` segregating sites,
writes them as a bgzipped, indexed VCF, then measures on that same data (every peer's command line is printed):

- ingest: LifeBank import (Parquet + catalogue; row-group statistics are its index) vs
  `bcftools convert --threads 2 -Ob` + `bcftools index --threads 2` (index time included on both sides);
  old peer: single-threaded `bcftools convert -Ob` without the index                      (target speed >= 0.5x)
- region query, sites only: p50 of random 100 kb windows, `service.variants_in_region` (total + rows) in a warm
  process vs `bcftools view -H -G -r` (a fresh process each time: bcftools has no warm mode)  (target <= 1.0x)
- region query with genotypes: `VariantStore.genotype_matrix` (every sample's GT as arrays) vs
  `bcftools view -H -r` (every GT as text)                                                  (target <= 1.0x)
- subset AF: AC/AN/AF over a random 1,000-sample subset of a 1 Mb region, `service.allele_counts` vs the fastest
  bcftools pipeline giving the same AC/AN (checked site by site); old peer `view -S | +fill-tags`  (target >= 5x)
- one-shot CLI: a fresh `lifebank omics query` / `lifebank omics af` process vs the fresh bcftools command
  (target <= 1.5x), beside `lifebank --help` and a bare `python -c pass`

The load average is printed at the start and the end (the machine is shared; rerun when it was high).
Usage: python benchmarks/omics_vs_bcftools.py [--samples 2504] [--sites 1000000] [--workdir DIR] [--reuse-store]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shlex
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
LIFEBANK = str(Path(sys.executable).with_name("lifebank"))
TABLE: list[tuple[str, str, str, str, str, str]] = []


CPU: dict[int, float] = {}  # pid -> CPU seconds (user + system, with its waited-for children) of a finished child


def run_child(args: list[str] | str, *, shell: bool = False, env: dict[str, str] | None = None) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one child process (or shell pipeline: the largest member)."""
    start = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, shell=shell, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{args} failed with {os.waitstatus_to_exitcode(status)}")
    CPU[0] = usage.ru_utime + usage.ru_stime
    return elapsed, usage.ru_maxrss


def output(command: str) -> str:
    return subprocess.run(command, shell=True, capture_output=True, text=True, check=True).stdout


def load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def record(figure: str, ours: str, peer: str, command: str, ratio: str, target: str) -> None:
    TABLE.append((figure, ours, peer, command, ratio, target))


def simulate(vcf: Path, samples: int, sites: int, length: int, seed: int) -> int:
    import io

    import msprime

    ts = msprime.sim_ancestry(samples=samples, ploidy=2, sequence_length=length, recombination_rate=1e-8,
                              population_size=10_000, random_seed=seed)
    branch = ts.segregating_sites(mode="branch") * length
    ts = msprime.sim_mutations(ts, rate=sites / branch, random_seed=seed, discrete_genome=True)
    names = [f"SIM{i:05d}" for i in range(samples)]
    bgzip = subprocess.Popen(["bgzip", "-c", "-@", "2"], stdin=subprocess.PIPE, stdout=vcf.open("wb"))
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


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f} ms" if seconds < 1 else f"{seconds:,.2f} s"


def ingest(vcf: Path, bcf: Path, data_dir: Path) -> None:
    print(f"ingest: load average before {load()}")
    old_bcf = bcf.with_name("old.bcf")
    old_cmd = ["bcftools", "convert", "-Ob", "-o", str(old_bcf), str(vcf)]
    old_time, old_rss = run_child(old_cmd)
    old_cpu = CPU[0]
    old_bcf.unlink()
    fair_cmd = f"bcftools convert --threads 2 -Ob -o {bcf} {vcf} && bcftools index --threads 2 -f {bcf}"
    fair_time, fair_rss = run_child(fair_cmd, shell=True)
    fair_cpu = CPU[0]
    shutil.rmtree(data_dir, ignore_errors=True)
    ours_time, ours_rss = run_child([sys.executable, __file__, "--ingest-child", str(vcf), str(data_dir)])
    ours_cpu = CPU[0]
    print(f"ingest: LifeBank {ours_time:.1f} s wall, {ours_cpu:.1f} s CPU (peak RSS {ours_rss / 1024:.0f} MiB); "
          f"load average after {load()}")
    print(f"  fair peer: {fair_cmd}\n    {fair_time:.1f} s wall, {fair_cpu:.1f} s CPU (peak RSS "
          f"{fair_rss / 1024:.0f} MiB): speed {fair_time / ours_time:.2f}x wall, {fair_cpu / ours_cpu:.2f}x CPU; "
          "two threads each side, index built on both sides")
    print(f"  old peer:  {shlex.join(old_cmd)}\n    {old_time:.1f} s wall, {old_cpu:.1f} s CPU: speed "
          f"{old_time / ours_time:.2f}x; one thread, no index")
    record("ingest (fair), wall", f"{ours_time:.1f} s", f"{fair_time:.1f} s",
           fair_cmd.replace(str(bcf.parent) + "/", ""), f"{fair_time / ours_time:.2f}× speed", "≥ 0.5×")
    record("ingest (fair), CPU user+sys", f"{ours_cpu:.1f} s", f"{fair_cpu:.1f} s", "(as above)",
           f"{fair_cpu / ours_cpu:.2f}× speed", "—")
    record("ingest (old peer)", f"{ours_time:.1f} s", f"{old_time:.1f} s", "bcftools convert -Ob",
           f"{old_time / ours_time:.2f}× speed", "—")
    omics = data_dir / "omics"
    parquet = sum(p.stat().st_size for p in omics.rglob("*.parquet"))
    planes = sum(p.stat().st_size for p in omics.rglob("*.lbplanes"))
    size = bcf.stat().st_size
    print(f"storage: {parquet / 2**20:.1f} MiB of Parquet + {planes / 2**20:.1f} MiB of allele planes (BCF "
          f"{size / 2**20:.1f} MiB; Parquet {parquet / size:.2f}x, with the planes {(parquet + planes) / size:.2f}x)")
    record("storage, Parquet", f"{parquet / 2**20:.1f} MiB", f"{size / 2**20:.1f} MiB", "the BCF",
           f"{parquet / size:.2f}×", "≤ 1.0×")
    record("storage, Parquet + allele planes", f"{(parquet + planes) / 2**20:.1f} MiB", f"{size / 2**20:.1f} MiB",
           "the BCF", f"{(parquet + planes) / size:.2f}×", "—")
    record("ingest peak RSS", f"{ours_rss / 1024:.0f} MiB", f"{fair_rss / 1024:.0f} MiB", "(fair peer)",
           f"{ours_rss / fair_rss:.1f}×", "—")

def planes_cost_child(vcf: str, records: str) -> None:
    """Runs in its own process: CPU of importing the first `records` records with and without the allele planes
    (the planes' writer replaced by one that does nothing), alternating, three times each."""
    sys.path.insert(0, str(ROOT / "src"))
    from lifebank.omics import ingest as ingest_module

    class NoPlanes:
        def __init__(self, path: Path, n_samples: int) -> None:
            path.touch()  # the import fsyncs and checksums every file it lists

        def site_alleles(self, codes: object) -> tuple[int, None, None]:
            return 0, None, None

        def add_chunk(self, *args: object) -> None:
            pass

        def close(self) -> None:
            pass

        def discard(self) -> None:
            pass

    work = Path(tempfile.mkdtemp(prefix="planes-cost-"))
    part = work / "part.vcf.gz"
    subprocess.run(f"bcftools view {vcf} 2>/dev/null | head -n {int(records) + 200} | "
                   f"bcftools view -Oz -o {part} 2>/dev/null", shell=True, check=False)
    real = ingest_module.PlaneWriter
    inside = [0.0]

    class Timed(real):  # type: ignore[misc,valid-type]
        """The real writer, its own CPU (on whichever thread runs it) summed: the planes' direct cost."""

        def site_alleles(self, codes: np.ndarray) -> object:
            start = time.thread_time()
            try:
                return super().site_alleles(codes)
            finally:
                inside[0] += time.thread_time() - start

        def add_chunk(self, *args: object) -> None:
            start = time.thread_time()
            super().add_chunk(*args)
            inside[0] += time.thread_time() - start

        def close(self) -> None:
            start = time.thread_time()
            super().close()
            inside[0] += time.thread_time() - start

    cpu: dict[str, list[float]] = {"with": [], "without": [], "timed": []}
    for _ in range(3):
        for name, writer in (("with", real), ("without", NoPlanes), ("timed", Timed)):
            ingest_module.PlaneWriter = writer  # type: ignore[assignment,misc]
            root = work / name
            shutil.rmtree(root, ignore_errors=True)
            start = time.process_time()
            summary = ingest_module.write_batch(part, root, dataset="d", batch=1, keep_info=None)
            cpu[name].append(time.process_time() - start)
    ingest_module.PlaneWriter = real  # type: ignore[misc]
    print(json.dumps({"records": summary.records, "with": statistics.median(cpu["with"]),
                      "without": statistics.median(cpu["without"]), "inside": inside[0] / 3,
                      "timed": statistics.median(cpu["timed"])}))
    shutil.rmtree(work, ignore_errors=True)


def planes_cost(vcf: Path, records: int) -> None:
    out = json.loads(subprocess.run([sys.executable, __file__, "--planes-cost-child", str(vcf), str(records)],
                                    capture_output=True, text=True, check=True).stdout.splitlines()[-1])
    share = out["with"] / out["without"] - 1
    direct = out["inside"] / out["timed"]
    print(f"ingest cost of the allele planes: the first {out['records']:,} records, process CPU median of 3 "
          f"(alternating): {out['with']:.2f} s with, {out['without']:.2f} s without (+{share * 100:.1f} %); "
          f"CPU inside the planes' code {out['inside']:.2f} s of {out['timed']:.2f} s ({direct * 100:.1f} %); "
          f"load {load()}")
    record(f"ingest CPU of the allele planes ({out['records']:,} records, with / without)",
           f"{out['with']:.2f} / {out['without']:.2f} s", "—", "—", f"+{share * 100:.1f} %", "—")
    record("CPU inside the planes' code (site encoding, chunks, file) / whole import", f"{out['inside']:.2f} / "
           f"{out['timed']:.2f} s", "—", "—", f"{direct * 100:.1f} %", "—")


def timed(fn):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


def queries(args: argparse.Namespace, work: Path, bcf: Path, data_dir: Path) -> None:
    sys.path.insert(0, str(ROOT / "src"))
    from lifebank.db.engine import Database
    from lifebank.omics import service
    from lifebank.omics.regions import Region

    db = Database(f"sqlite:///{data_dir}/lifebank.db")
    from lifebank.db.migrate import upgrade

    upgrade(db)  # a reused store's catalogue, to the schema of the code under test (its files are unchanged)
    store = service.variant_store(data_dir)
    rng = random.Random(args.seed)
    window = min(100_000, args.length - 1)
    regions = [Region("chr22", s, s + window - 1) for s in
               (rng.randint(1, args.length - window) for _ in range(args.queries))]
    t_index, kept = timed(lambda: store.warm(service.batch_refs(db)))
    print(f"\nwarm process: the site index (positions, and the sites' text columns: {kept / 2**20:.1f} MiB) "
          f"loaded once in {ms(t_index)}, not in the figures below; genotypes are decoded by every query")

    # --- region queries: sites only, and with every genotype -------------------------------------------
    ours_sites, ours_gt, peer_sites, peer_gt, found = [], [], [], [], 0
    for region in regions:
        elapsed, (total, _rows) = timed(lambda: service.variants_in_region(db, data_dir, region))  # noqa: B023
        ours_sites.append(elapsed)
        found += total
        elapsed, matrix = timed(lambda: store.genotype_matrix(service.batch_refs(db), region))  # noqa: B023
        ours_gt.append(elapsed)
        peer_sites.append(run_child(["bcftools", "view", "-H", "-G", "-r", str(region), str(bcf)])[0])
        peer_gt.append(run_child(["bcftools", "view", "-H", "-r", str(region), str(bcf)])[0])
    for region in regions[:3]:  # same sites as bcftools (checked after the timing, which stays uncached)
        _, rows = service.variants_in_region(db, data_dir, region)
        theirs = [line.split("\t") for line in output(  # LifeBank's sites are biallelic: split as norm -m- does
            f"bcftools view -G -r {region} {bcf} | bcftools norm -m- | bcftools query -f '%POS\\t%REF\\t%ALT\\n'"
        ).splitlines()]
        if [(r["pos"], r["ref"], r["alt"]) for r in rows] != [(int(t[0]), t[1], t[2]) for t in theirs]:
            raise SystemExit(f"sites of {region} differ from bcftools view -r")
    small = Region("chr22", regions[0].start, regions[0].start + 9_999)
    matrix = store.genotype_matrix(service.batch_refs(db), small)
    mine = ["\t".join([str(p), r, a, *matrix.gt_texts(i)]) for i, (p, r, a) in
            enumerate(zip(matrix.pos.tolist(), matrix.ref, matrix.alt, strict=True))]
    if mine != output(f"bcftools view -r {small} {bcf} | bcftools norm -m- | "
                      f"bcftools query -f '%POS\\t%REF\\t%ALT[\\t%GT]\\n'").splitlines():
        raise SystemExit(f"genotypes of {small} differ from bcftools")
    p_ours, p_sites, p_gt = median_ms(ours_sites), median_ms(peer_sites), median_ms(peer_gt)
    p_ours_gt = median_ms(ours_gt)
    print(f"region query, p50 of {len(regions)} random 100 kb windows ({found / len(regions):.0f} sites each; "
          f"sites equal to bcftools', and every GT of {small})")
    print(f"  sites only: LifeBank {p_ours:.1f} ms (service.variants_in_region: total + rows, warm process)")
    print(f"    fair peer: bcftools view -H -G -r REGION sim.bcf: {p_sites:.1f} ms, a fresh process "
          f"(sites only, no genotypes): ratio {p_ours / p_sites:.2f}x time, target <= 1.0x")
    print(f"    old peer:  bcftools view -H -r REGION sim.bcf: {p_gt:.1f} ms (prints all "
          f"{args.samples:,} GTs of every site): ratio {p_ours / p_gt:.2f}x")
    print(f"  with genotypes: LifeBank {p_ours_gt:.1f} ms (VariantStore.genotype_matrix: every sample's GT as "
          f"int8 arrays, warm process)")
    print(f"    fair peer: bcftools view -H -r REGION sim.bcf: {p_gt:.1f} ms (every GT as VCF text): ratio "
          f"{p_ours_gt / p_gt:.2f}x time, target <= 1.0x")
    record("region 100 kb, sites only, p50 (warm)", f"{p_ours:.1f} ms", f"{p_sites:.1f} ms",
           "`bcftools view -H -G -r R sim.bcf`", f"{p_ours / p_sites:.2f}× time", "≤ 1.0×")
    record("region 100 kb, sites only vs old peer", f"{p_ours:.1f} ms", f"{p_gt:.1f} ms",
           "`bcftools view -H -r R sim.bcf` (old)", f"{p_ours / p_gt:.2f}× time", "—")
    record("region 100 kb, with genotypes, p50 (warm)", f"{p_ours_gt:.1f} ms", f"{p_gt:.1f} ms",
           "`bcftools view -H -r R sim.bcf`", f"{p_ours_gt / p_gt:.2f}× time", "≤ 1.0×")

    # --- subset AF -------------------------------------------------------------------------------------
    subset = rng.sample([f"SIM{i:05d}" for i in range(args.samples)], min(args.subset, args.samples))
    mb = min(1_000_000, args.length - 1)
    start_pos = rng.randint(1, args.length - mb)
    region = Region("chr22", start_pos, start_pos + mb - 1)
    samples_file = work / "subset.txt"
    samples_file.write_text("\n".join(subset) + "\n")
    query = "bcftools query -f '%POS\\t%REF\\t%ALT\\t%AC\\t%AN\\n'"
    pipelines = {
        "fair": f"bcftools view -S {samples_file} -G -r {region} -Ou {bcf} | {query}",
        "view -S -G, VCF text": f"bcftools view -S {samples_file} -G -r {region} {bcf} | {query}",
        "view -S | +fill-tags": f"bcftools view -S {samples_file} -r {region} -Ou {bcf} | "
                                f"bcftools +fill-tags -Ou -- -t AC,AN | {query}",
    }
    old = (f"bcftools view -r {region} -S {samples_file} {bcf} -Ou | "
           "bcftools +fill-tags -Ou -- -t AC,AN,AF > /dev/null")
    counts = service.allele_counts(db, data_dir, region, samples=subset)
    mine = [f"{p}\t{r}\t{a}\t{c}\t{n}" for p, r, a, c, n in
            zip(counts.pos.tolist(), counts.ref, counts.alt, counts.ac.tolist(), counts.an.tolist(), strict=True)]
    for name, command in pipelines.items():  # a multi-allelic record's AC lists one count per ALT: split it
        split = [f"{pos}\t{ref}\t{alt}\t{ac}\t{an}" for pos, ref, alts, acs, an in
                 (line.split("\t") for line in output(command).splitlines())
                 for alt, ac in zip(alts.split(","), acs.split(","), strict=True)]
        if split != mine:
            raise SystemExit(f"{name}: AC/AN differ from LifeBank's")
    from lifebank.omics.queries import VariantStore

    refs = service.batch_refs(db)
    # today's counting for stores without allele planes (the sparse genotype rows), as the planes' baseline
    sparse_store = VariantStore(service.store_root(data_dir), use_planes=False)
    if sparse_store.allele_counts(refs, region, subset) != counts:
        raise SystemExit("the allele planes' AC/AN differ from the sparse genotype rows' counts")
    runs: dict[str, list[float]] = {"ours": [], "tsv": [], "old": [], "decode": [], "sparse": [], "planes": [],
                                    **{name: [] for name in pipelines}}
    index = store.chrom_index(refs[0], "chr22")  # the old floor: decoding the region's sparse genotype rows
    found_sites = index.rows_in(region.start, region.end).site
    planes = store.planes(refs[0], "chr22")
    member = np.zeros(args.samples, bool)
    sample_number = store.sample_index(refs[0])
    member[[sample_number[s] for s in subset]] = True

    def decode() -> None:
        index.map_genotype_groups(int(found_sites.min()), int(found_sites.max()), ("site", "sample", "a1", "a2"),
                                  len)

    def plane_count() -> None:  # the planes' part: region rows and the popcounts, no REF/ALT text
        assert planes is not None
        planes.counts(planes.rows_in(region.start, region.end), member)

    for _ in range(args.repeats):  # interleaved; medians (the machine is shared)
        elapsed, counts = timed(lambda: service.allele_counts(db, data_dir, region, samples=subset))
        runs["ours"].append(elapsed)
        runs["tsv"].append(elapsed + timed(counts.to_tsv)[0])
        for name, command in pipelines.items():
            runs[name].append(run_child(command, shell=True)[0])
        runs["old"].append(run_child(old, shell=True)[0])
        runs["decode"].append(timed(decode)[0])
        runs["sparse"].append(timed(lambda: sparse_store.allele_counts(refs, region, subset))[0])
        runs["planes"].append(timed(plane_count)[0])
    af = {name: median_ms(values) for name, values in runs.items()}
    short = {k: v.replace(str(work) + "/", "").replace(str(region), "R") for k, v in pipelines.items()}
    print(f"subset AF: {len(subset):,} random samples over {region} ({len(counts):,} sites), median of "
          f"{args.repeats}; AC/AN of every pipeline below checked equal to LifeBank's, site by site")
    print(f"  LifeBank service.allele_counts: {af['ours']:.1f} ms; with the TSV text: {af['tsv']:.1f} ms; of which "
          f"the allele planes' rows and popcounts: {af['planes']:.1f} ms")
    print(f"  the same counts from the sparse genotype rows (a store without planes): {af['sparse']:.0f} ms, of "
          f"which decoding the rows (site, sample, a1, a2) alone: {af['decode']:.0f} ms")
    for name in pipelines:
        print(f"  {'fair peer' if name == 'fair' else 'also tried'}: {short[name]}\n    {af[name]:.0f} ms: "
              f"{af[name] / af['tsv']:.1f}x LifeBank's time (with text)")
    print(f"  old peer: {old.replace(str(work) + '/', '')}\n    {af['old']:.0f} ms: {af['old'] / af['tsv']:.1f}x")
    record("subset AF, 1,000 samples × 1 Mb, median (warm, with TSV text)", f"{af['tsv']:.0f} ms",
           f"{af['fair']:.0f} ms", f"`{short['fair']}`", f"{af['fair'] / af['tsv']:.1f}× faster", "≥ 5×")
    record("subset AF vs old peer", f"{af['tsv']:.0f} ms", f"{af['old']:.0f} ms",
           "`bcftools view -S s.txt -r R -Ou | bcftools +fill-tags -- -t AC,AN,AF` (old)",
           f"{af['old'] / af['tsv']:.1f}× faster", "—")
    record("subset AF from the sparse genotype rows (store without planes), no text", f"{af['sparse']:.0f} ms",
           f"{af['fair']:.0f} ms", "the fair pipeline", f"{af['fair'] / af['sparse']:.1f}× faster", "—")
    record("of which: planes rows + popcounts / decoding the sparse rows", f"{af['planes']:.1f} / "
           f"{af['decode']:.0f} ms", "—", "—", "—", "—")

    # --- one-shot CLI: a fresh process each, as a user at a shell pays --------------------------------
    env = os.environ | {"LIFEBANK_DATA_DIR": str(data_dir)}
    small_region = regions[0]
    contenders = {
        "omics query": [LIFEBANK, "omics", "query", "--region", str(small_region), "--dataset", "sim",
                        "--format", "tsv"],
        "bcftools view -G": ["bcftools", "view", "-H", "-G", "-r", str(small_region), str(bcf)],
        "omics af": [LIFEBANK, "omics", "af", "--region", str(region), "--samples", str(samples_file),
                     "--dataset", "sim", "--format", "tsv"],
        "af pipeline": pipelines["fair"],
        "lifebank --help": [LIFEBANK, "--help"],
        "python -c pass": [sys.executable, "-c", "pass"],
        "import duckdb, pyarrow.parquet, numpy": [sys.executable, "-c", "import duckdb, pyarrow.parquet, numpy"],
    }
    shot: dict[str, list[float]] = {name: [] for name in contenders}
    cpu: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(args.repeats):
        for name, command in contenders.items():
            shot[name].append(run_child(command, shell=isinstance(command, str), env=env)[0])
            cpu[name].append(CPU[0])
    one = {name: median_ms(values) for name, values in shot.items()}
    one_cpu = {name: median_ms(values) for name, values in cpu.items()}
    print(f"one-shot CLI, fresh processes, median of {args.repeats} (wall; CPU user+sys of the process and its "
          "children, which moves less with the machine's load):")
    for name, command in contenders.items():
        shown = command if isinstance(command, str) else shlex.join(command)
        print(f"  {one[name]:7.0f} ms (CPU {one_cpu[name]:5.0f} ms)  "
              f"{shown.replace(str(work) + '/', '').replace(LIFEBANK, 'lifebank')}")
    print(f"  CPU ratios: omics query / bcftools view -H -G -r: "
          f"{one_cpu['omics query'] / one_cpu['bcftools view -G']:.1f}x; omics af / fair pipeline: "
          f"{one_cpu['omics af'] / one_cpu['af pipeline']:.2f}x")
    print(f"  omics query / bcftools view -H -G -r: {one['omics query'] / one['bcftools view -G']:.1f}x; "
          f"omics af / fair pipeline: {one['omics af'] / one['af pipeline']:.2f}x (target <= 1.5x)")
    record("one-shot `lifebank omics query --region R` (100 kb)", f"{one['omics query']:.0f} ms",
           f"{one['bcftools view -G']:.0f} ms", "`bcftools view -H -G -r R sim.bcf`",
           f"{one['omics query'] / one['bcftools view -G']:.1f}× time", "≤ 1.5×")
    record("one-shot `lifebank omics af --samples s.txt` (1 Mb)", f"{one['omics af']:.0f} ms",
           f"{one['af pipeline']:.0f} ms", "the fair AF pipeline above",
           f"{one['omics af'] / one['af pipeline']:.2f}× time", "≤ 1.5×")
    record("the same two, CPU (user+sys) instead of wall", f"{one_cpu['omics query']:.0f} / "
           f"{one_cpu['omics af']:.0f} ms", f"{one_cpu['bcftools view -G']:.0f} / {one_cpu['af pipeline']:.0f} ms",
           "(as above)", f"{one_cpu['omics query'] / one_cpu['bcftools view -G']:.1f}× / "
           f"{one_cpu['omics af'] / one_cpu['af pipeline']:.2f}×", "—")
    record("one-shot `lifebank --help`", f"{one['lifebank --help']:.0f} ms", "—", "—", "—", "≤ 300 ms")
    record("floor: `python -c pass` / importing duckdb, pyarrow, numpy", f"{one['python -c pass']:.0f} / "
           f"{one['import duckdb, pyarrow.parquet, numpy']:.0f} ms", "—", "—", "—", "—")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=2504)
    parser.add_argument("--sites", type=int, default=1_000_000, help="target number of segregating sites")
    parser.add_argument("--length", type=int, default=CHR22_LENGTH)
    parser.add_argument("--queries", type=int, default=100, help="random 100 kb region queries")
    parser.add_argument("--subset", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=22)
    parser.add_argument("--repeats", type=int, default=7, help="runs of the subset AF and one-shot comparisons")
    parser.add_argument("--workdir", type=Path, default=None, help="keep files here (default: a temp folder)")
    parser.add_argument("--reuse-store", action="store_true", help="skip the ingest when the workdir has a store")
    parser.add_argument("--ingest-child", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--simulate-child", nargs=5, help=argparse.SUPPRESS)
    parser.add_argument("--planes-cost-child", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--planes-cost-records", type=int, default=20_000,
                        help="records of the A/B that measures the ingest cost of the allele planes (0: skip)")
    args = parser.parse_args()
    if args.ingest_child:
        ingest_child(*args.ingest_child)
        return
    if args.planes_cost_child:
        planes_cost_child(*args.planes_cost_child)
        return
    if args.simulate_child:
        vcf, samples, sites, length, seed = args.simulate_child
        print(simulate(Path(vcf), int(samples), int(sites), int(length), int(seed)))
        return
    print(f"load average at start (1/5/15 min): {load()}; {os.cpu_count()} cores")
    work = args.workdir or Path(tempfile.mkdtemp(prefix="omics-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    vcf, bcf, data_dir = work / "sim.vcf.gz", work / "sim.bcf", work / "data"
    params = json.dumps([args.samples, args.sites, args.length, args.seed])
    params_file = work / "params.json"
    if vcf.exists() and params_file.exists() and params_file.read_text() == params:
        n_sites = int(output(f"bcftools index -n {vcf}"))
        print(f"reusing {vcf}: {n_sites} records x {args.samples} diploid samples")
    else:
        # in a child process: the parent stays small, so children's peak RSS is not inflated by the tree sequence
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, __file__, "--simulate-child", str(vcf), str(args.samples),
                              str(args.sites), str(args.length), str(args.seed)], capture_output=True, text=True,
                             check=True).stdout
        n_sites = int(out.split()[-1])
        params_file.write_text(params)
        (data_dir / "lifebank.db").unlink(missing_ok=True)
        print(f"simulated: {n_sites} sites x {args.samples} diploid samples in {time.perf_counter() - t0:.0f} s "
              f"(VCF.gz {vcf.stat().st_size / 2**20:.1f} MiB)")
    if not (args.reuse_store and (data_dir / "lifebank.db").exists() and bcf.exists()):
        ingest(vcf, bcf, data_dir)
    if args.planes_cost_records:
        planes_cost(vcf, args.planes_cost_records)

    queries(args, work, bcf, data_dir)
    print(f"\nload average at end (1/5/15 min): {load()}")
    print("\n| figure | LifeBank | peer | peer command | ratio | target |\n|---|---|---|---|---|---|")
    for row in TABLE:
        print("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |")
    if args.workdir is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
