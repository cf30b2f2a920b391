"""Crash consistency: every bulk write path, killed with SIGKILL at random moments, leaves the bank exactly as
before or exactly as after — database rows, ledger and data files (Parquet store) alike.

For each write path the script builds a starting bank once (an SQLite database and its data folder), runs the
command once to completion on a copy (the "after" state), then, on fresh copies, starts the same command and
kills it (SIGKILL: no cleanup handler runs) at a moment drawn uniformly over that command's running time. It then
compares the killed copy with both states: every table's row count, the ledger (verified, and its length) and
the data folder's files (path and SHA-256; an import's `.staging` work area is left out, as no reader opens it,
and so are a knowledge-base load's orphans: its staging work and release folders no committed row names).
Finally the same command is run again on the killed copy and must complete and reach "after", with no orphan
left: a crash never blocks the next attempt, and the next attempt sweeps what the crash left.

    .venv/bin/python benchmarks/crash_consistency.py [--runs 20] [--paths biobank-import,donor-import,...]

Paths: biobank-import (`lifebank import specimens`), donor-import (`lifebank hla import donors`), vcf-ingest
(`lifebank omics import`), restore (`lifebank restore`), clinical-import (`lifebank clinical import`, a FHIR
transaction Bundle), kb-load (`lifebank precision kb load`, a MOAlmanac release). Each prints
`path: runs, before, after, broken`.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


@dataclass
class WritePath:
    name: str
    prepare: Callable[[Path, Path], None]  # (bank folder, inputs folder): build the starting bank
    command: Callable[[Path], list[str]]  # inputs folder -> lifebank arguments
    restore_target: bool = False  # the command writes into an empty bank (restore)


def lifebank(bank: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    (bank / "data").mkdir(parents=True, exist_ok=True)
    done = subprocess.run([sys.executable, "-m", "lifebank", *args], env=_env(bank), capture_output=True, text=True,
                          timeout=900)
    if check and done.returncode != 0:
        raise RuntimeError(f"lifebank {' '.join(args)} failed: {done.stderr.strip()[-1500:]}")
    return done


def _env(bank: Path) -> dict[str, str]:
    return {**os.environ, "LIFEBANK_DATA_DIR": str(bank / "data"), "LIFEBANK_SECRET_KEY": "s" * 40,
            "LIFEBANK_DATABASE_URL": f"sqlite:///{bank / 'data' / 'lifebank.db'}"}


# --- the starting banks and inputs --------------------------------------------------------------------

def _participants(count: int) -> str:
    return "participant,sex,birth_year,site,consent_codes,consent_date\n" + "".join(
        f"P{i:06d},{'FM'[i % 2]},{1950 + i % 50},SH,DUO:0000042,2024-01-02\n" for i in range(1, count + 1))


def prepare_biobank(bank: Path, inputs: Path, specimens: int = 150_000) -> None:
    lifebank(bank, "db", "upgrade")
    (inputs / "participants.csv").write_text(_participants(5000))
    lifebank(bank, "import", "participants", str(inputs / "participants.csv"))
    (inputs / "specimens.csv").write_text(
        "barcode,participant,type,quantity,unit,collected_at,parent_barcode,sprec,location\n" + "".join(
            f"K{i:08d},P{1 + i % 5000:06d},SER,1.0,mL,2024-03-01T08:00:00Z,,,\n" for i in range(specimens)))


def prepare_donors(bank: Path, inputs: Path, donors: int = 60_000) -> None:
    from lifebank.hla.synthetic import load_frequencies

    lifebank(bank, "db", "upgrade")
    freqs = load_frequencies()
    rng = np.random.default_rng(11)
    pairs = rng.choice(len(freqs.frequencies), size=(donors, 2), p=freqs.frequencies)
    loci = ("A", "B", "C", "DQB1", "DRB1")
    rows = ["DonorId,DonorType,A_1,A_2,B_1,B_2,C_1,C_2,DPB1_1,DPB1_2,DQB1_1,DQB1_2,DRB1_1,DRB1_2"]
    for i, (h1, h2) in enumerate(pairs):
        typed = [freqs.alleles[locus][freqs.haplotypes[locus][h]] for locus in loci for h in (h1, h2)]
        rows.append(",".join([f"CRASH{i:07d}", "A", *typed[:6], "", "", *typed[6:]]))  # DPB1 untyped
    (inputs / "donors.csv").write_text("\n".join(rows) + "\n")


def prepare_vcf(bank: Path, inputs: Path, sites: int = 60_000, samples: int = 200) -> None:
    """A synthetic multi-sample VCF big enough that the import takes seconds (the shared files take < 1 s)."""
    lifebank(bank, "db", "upgrade")
    rng = np.random.default_rng(5)
    header = ["##fileformat=VCFv4.2", "##contig=<ID=22,length=50818468>",
              '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
              "#" + "\t".join(["CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT",
                               *[f"S{i:04d}" for i in range(samples)]])]
    calls = np.array(["0/0", "0/1", "1/1", "./."])
    with gzip.open(inputs / "cohort.vcf.gz", "wt", compresslevel=1) as out:
        out.write("\n".join(header) + "\n")
        for site in range(sites):
            gt = calls[rng.choice(4, size=samples, p=[0.9, 0.07, 0.02, 0.01])]
            out.write(f"22\t{16_000_000 + site * 37}\t.\tA\tG\t50\tPASS\t.\tGT\t" + "\t".join(gt) + "\n")


def prepare_restore(bank: Path, inputs: Path) -> None:
    """A backup of a bank with specimens and an omics batch; the starting state is an empty folder."""
    source = inputs / "source"
    prepare_biobank(source, inputs, specimens=40_000)
    lifebank(source, "import", "specimens", str(inputs / "specimens.csv"))
    shutil.copy(SHARED / "omics" / "vcf" / "1kg_2020_chr22_100x100.vcf.gz", inputs / "small.vcf.gz")
    lifebank(source, "omics", "import", str(inputs / "small.vcf.gz"), "--dataset", "kg")
    lifebank(source, "backup", str(inputs / "bank.tar.gz"))
    (bank / "data").mkdir(parents=True)


def prepare_clinical(bank: Path, inputs: Path) -> None:
    """A Synthea transaction Bundle (one file: the import is all-or-nothing per file), patients created."""
    lifebank(bank, "db", "upgrade")
    bundles = sorted((ROOT / "src" / "lifebank" / "clinical" / "data" / "synthea_hiv").glob("*.json"))
    shutil.copy(max(bundles, key=lambda p: p.stat().st_size), inputs / "bundle.json")


def prepare_kb(bank: Path, inputs: Path) -> None:
    """A MOAlmanac release folder (the vendored one) to load over the built-in knowledge base."""
    lifebank(bank, "db", "upgrade")
    shutil.copytree(ROOT / "src" / "lifebank" / "precision" / "data" / "moalmanac", inputs / "moalmanac")


PATHS = {
    "biobank-import": WritePath("biobank-import", prepare_biobank,
                                lambda i: ["import", "specimens", str(i / "specimens.csv")]),
    "donor-import": WritePath("donor-import", prepare_donors,
                              lambda i: ["hla", "import", "donors", str(i / "donors.csv")]),
    "vcf-ingest": WritePath("vcf-ingest", prepare_vcf,
                            lambda i: ["omics", "import", str(i / "cohort.vcf.gz"), "--dataset", "crash"]),
    "restore": WritePath("restore", prepare_restore, lambda i: ["restore", str(i / "bank.tar.gz")],
                         restore_target=True),
    "clinical-import": WritePath("clinical-import", prepare_clinical,
                                 lambda i: ["clinical", "import", str(i / "bundle.json"), "--create-participants"]),
    "kb-load": WritePath("kb-load", prepare_kb, lambda i: ["precision", "kb", "load", str(i / "moalmanac")]),
}


# --- states -------------------------------------------------------------------------------------------

def state(bank: Path) -> dict[str, object]:
    """What a reader of the bank sees: table row counts, the ledger, the data folder's files. Files no reader
    can open are listed apart as orphans, not compared: a knowledge-base load's staging work and a release
    folder no committed `precision_kb_release` row names (what a load killed before its commit leaves; the
    next load sweeps them)."""
    data = bank / "data"
    db = data / "lifebank.db"
    tables: dict[str, int] = {}
    ledger: dict[str, object] = {"events": 0, "ok": True}
    releases: set[str] = set()
    if db.exists():
        with sqlite3.connect(db) as conn:
            names = [r[0] for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
            tables = {n: conn.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}
            if "precision_kb_release" in names:
                releases = {r[0] for r in conn.execute("SELECT folder FROM precision_kb_release")}
        verify = lifebank(bank, "audit", "verify", "--format", "json", check=False)
        ledger = {"events": json.loads(verify.stdout)["checked"] if verify.stdout.startswith("{") else None,
                  "ok": verify.returncode == 0}
        if ledger["events"] is None:
            ledger["error"] = verify.stderr.strip()[-300:]
    files: dict[str, str] = {}
    orphans: list[str] = []
    if data.exists():
        for path in sorted(data.rglob("*")):
            rel = path.relative_to(data).as_posix()
            if path.is_file() and not rel.startswith(("lifebank.db", "omics/.staging")) and rel != ".write-test":
                parts = rel.split("/")
                if rel.startswith("precision/kb/.staging/") or (
                        rel.startswith("precision/kb/releases/") and parts[3] not in releases):
                    orphans.append(rel)
                    continue
                files[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return {"tables": tables, "ledger": ledger, "files": files, "orphans": orphans}


def _same(a: dict[str, object], b: dict[str, object]) -> bool:
    """Equal states; file contents compared by name and hash, except Parquet files written by the command
    itself, whose bytes carry write-time metadata: for those the set of names must match."""
    if a["tables"] != b["tables"] or a["ledger"] != b["ledger"]:
        return False
    files_a, files_b = a["files"], b["files"]
    assert isinstance(files_a, dict) and isinstance(files_b, dict)
    return set(files_a) == set(files_b) and all(
        files_a[k] == files_b[k] for k in files_a if not k.endswith(".parquet"))


def run_path(path: WritePath, runs: int, workdir: Path, rng: random.Random) -> dict[str, object]:
    base, inputs = workdir / f"{path.name}-base", workdir / f"{path.name}-inputs"
    base.mkdir()
    inputs.mkdir()
    path.prepare(base, inputs)
    before = state(base)
    full = workdir / f"{path.name}-full"
    shutil.copytree(base, full)
    started = time.perf_counter()
    lifebank(full, *path.command(inputs))
    duration = time.perf_counter() - started
    after = state(full)
    outcome = {"before": 0, "after": 0, "broken": 0, "left_orphans": 0}
    problems: list[str] = []
    for run in range(runs):
        copy = workdir / f"{path.name}-run{run}"
        shutil.copytree(base, copy)
        # Half the kills anywhere in the run, half in its last third, where the writing (and the commit) is.
        moment = rng.uniform(0.05, duration) if run % 2 == 0 else rng.uniform(0.67 * duration, 1.02 * duration)
        process = subprocess.Popen([sys.executable, "-m", "lifebank", *path.command(inputs)], env=_env(copy),
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(moment)
        process.send_signal(signal.SIGKILL)
        process.wait()
        seen = state(copy)
        kind = "before" if _same(seen, before) else "after" if _same(seen, after) else "broken"
        outcome[kind] += 1
        outcome["left_orphans"] += bool(seen["orphans"])
        if kind == "broken":
            problems.append(f"run {run} killed at {moment:.2f}s: {json.dumps(_difference(seen, before, after))}")
        else:
            again = lifebank(copy, *path.command(inputs), check=False) if kind == "before" else None
            finished = state(copy) if again is not None else None
            if finished is not None and (again.returncode != 0 or not _same(finished, after)  # type: ignore[union-attr]
                                         or finished["orphans"]):
                outcome["broken"] += 1
                problems.append(f"run {run}: re-running after the kill did not reach the after state "
                                f"({(again.stderr or '').strip()[-300:]}; orphans {finished['orphans']})")
        shutil.rmtree(copy, ignore_errors=True)
    return {"runs": runs, **outcome, "command_seconds": round(duration, 2), "problems": problems}


def _difference(seen: dict[str, object], before: dict[str, object], after: dict[str, object]) -> dict[str, object]:
    tables = {k: (before["tables"].get(k), v, after["tables"].get(k))  # type: ignore[union-attr]
              for k, v in seen["tables"].items()  # type: ignore[union-attr]
              if v not in (before["tables"].get(k), after["tables"].get(k))}  # type: ignore[union-attr]
    return {"tables (before, seen, after)": tables, "ledger": seen["ledger"],
            "files": len(seen["files"]), "files_before": len(before["files"]),  # type: ignore[arg-type]
            "files_after": len(after["files"])}  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--paths", default=",".join(PATHS))
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}")
    broken = 0
    with tempfile.TemporaryDirectory(prefix="lifebank-crash-") as tmp:
        for name in args.paths.split(","):
            report = run_path(PATHS[name], args.runs, Path(tmp), rng)
            broken += int(report["broken"])  # type: ignore[arg-type]
            print(f"{name}: {report['runs']} runs, {report['before']} before, {report['after']} after, "
                  f"{report['broken']} broken (command {report['command_seconds']} s uninterrupted; "
                  f"{report['left_orphans']} runs left files no reader opens, swept by the re-run)")
            for problem in report["problems"]:  # type: ignore[union-attr]
                print(f"  {problem}")
    print(f"broken: {broken}")
    sys.exit(1 if broken else 0)


if __name__ == "__main__":
    main()
