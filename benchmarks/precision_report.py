"""Precision reports: end-to-end time for PCGR's T001-COAD (3,313 variants + CNA + fusions, JSON + PDF), and the
interpretation of a synthetic 1,000,000-variant tumour (whole-genome scale) with its peak memory.

Targets (issue 13): T001-COAD <= 5 s on 2 cores; 1 M variants <= 60 s and <= 2 GiB peak. PCGR itself needs
minutes per tumour and is not installable offline, so the peer in the same run is the floor of the same I/O:
`bcftools view -H FILE | wc -l` (reading and decompressing the same VCF), printed beside our figure.

    .venv/bin/python benchmarks/precision_report.py
"""

from __future__ import annotations

import gzip
import os
import random
import resource
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from lifebank.precision import kb_store
from lifebank.precision.interpret import TumourInputs, interpret
from lifebank.precision.pdf import report_pdf
from lifebank.precision.run import Options, tumour_inputs
from lifebank.precision.vcf_input import read_vcf

EXAMPLES = kb_store.VENDORED / "pcgr-examples"
N = int(os.environ.get("PRECISION_BENCH_VARIANTS", "1000000"))


def peer(path: Path) -> float:
    if shutil.which("bcftools") is None:
        return float("nan")
    start = time.perf_counter()
    subprocess.run(f"bcftools view -H {path} | wc -l", shell=True, check=True, capture_output=True)
    return time.perf_counter() - start


def synthetic(path: Path, n: int) -> None:
    rng = random.Random(13)
    kb = kb_store.knowledge_base(None)
    known = list(kb.by_allele)
    chroms = [str(c) for c in range(1, 23)]
    with gzip.open(path, "wt", compresslevel=1) as out:
        out.write("##fileformat=VCFv4.2\n##reference=GRCh38\n"
                  "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tTUMOR\n")
        rows = []
        for i in range(n):
            if i % 5000 == 0:
                chrom, pos, ref, alt = known[(i // 5000) % len(known)]
            else:
                chrom, pos = rng.choice(chroms), rng.randint(1_000_000, 45_000_000)
                ref, alt = "ACGT"[i % 4], "CGTA"[i % 4]
            key = int(chrom) if chrom.isdigit() else 99
            rows.append((key, pos, f"{chrom}\t{pos}\t.\t{ref}\t{alt}\t.\tPASS\t.\tGT\t0/1\n"))
        rows.sort()
        out.writelines(r[2] for r in rows)


def main() -> None:
    load = os.getloadavg()[0]
    kb_store.knowledge_base(None)  # built once per process, as in a running server
    files = {"vcf": (EXAMPLES / "T001-COAD.grch38.vcf.gz").read_bytes(),
             "cna": (EXAMPLES / "T001-COAD.grch38.cna.tsv").read_bytes(),
             "fusions": (EXAMPLES / "T001-COAD.grch38.fusions.tsv").read_bytes()}
    start, cpu = time.perf_counter(), time.process_time()
    content = interpret(tumour_inputs(files, Options(tumour_type="COAD")), kb_store.knowledge_base(None))
    import json

    json.dumps(content)
    report_pdf({"report": "PR-BENCH", "version": 1, "status": "draft", "content": content}, lambda s: s)
    ours, cpu = time.perf_counter() - start, time.process_time() - cpu
    floor = peer(EXAMPLES / "T001-COAD.grch38.vcf.gz")
    print(f"load_average_1min: {load:.2f}")
    print(f"t001_coad_report_json_pdf: {ours:.2f} s (target 5 s)")
    print(f"t001_coad_report_cpu: {cpu:.2f} s")
    print(f"t001_coad_bcftools_view_peer: {floor:.3f} s (ratio {ours / floor:.1f}x)")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "synthetic.vcf.gz"
        synthetic(path, N)
        start, cpu = time.perf_counter(), time.process_time()
        inputs = read_vcf(path)
        result = interpret(TumourInputs("LUAD", inputs), kb_store.knowledge_base(None))
        ours, cpu = time.perf_counter() - start, time.process_time() - cpu
        floor = peer(path)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
    print(f"synthetic_{N}_variants_interpretation: {ours:.1f} s (target 60 s; {len(result['variants'])} variants, "
          f"{result['summary']['I']} tier I)")
    print(f"synthetic_{N}_variants_cpu: {cpu:.1f} s (one core; the wall time above includes waiting on a busy machine)")
    print(f"synthetic_bcftools_view_peer: {floor:.2f} s (ratio {ours / floor:.1f}x)")
    print(f"peak_memory: {peak:.2f} GiB (target 2 GiB)")


if __name__ == "__main__":
    main()
