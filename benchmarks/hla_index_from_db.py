"""HLA search index built from the donor table, as a server builds it when it starts.

Plain script, one `name: value unit` per line. `benchmarks/hla_search.py` measures the index on donors coded
straight from memory; a running registry builds it from `hla_donor` rows instead (after every restart, and after
a MAC dictionary or nomenclature release is loaded). This script writes `--donors` synthetic donors (the demo's
generator: CAU haplotype frequencies at a mixed resolution) into a fresh SQLite database through the service's
bulk writer, then times `warm_up` (what `lifebank serve` runs in the background) in a cold context, the first
search after it, and the first search after a MAC dictionary is loaded (the index re-reads its distinct typing
texts instead of rebuilding from the table).

    .venv/bin/python benchmarks/hla_index_from_db.py --donors 1000000
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from lifebank.db import migrate
from lifebank.db.engine import Database
from lifebank.hla import service
from lifebank.hla.demo import _records

PATIENT = "A*01:01+A*02:01^B*08:01+B*07:02^C*07:01+C*07:02^DRB1*03:01+DRB1*15:01^DQB1*02:01+DQB1*06:02"
CHUNK = 250_000


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--donors", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        db = Database(f"sqlite:///{Path(folder) / 'registry.db'}")
        migrate.upgrade(db)
        rng = np.random.default_rng(args.seed)
        start = time.perf_counter()
        for first in range(0, args.donors, CHUNK):
            n = min(CHUNK, args.donors - first)
            records = _records(n, f"B{first // CHUNK:03d}-", "adult", rng)
            service.write_donors(db, records, actor="benchmark", digest=f"bench-{first}")
        written = time.perf_counter() - start
        print(f"donors: {args.donors} donors")
        print(f"write: {written:.1f} s ({args.donors / written:,.0f} donors/s, generation included)")
        service.reset(db)
        before = rss_mib()
        start = time.perf_counter()
        service.warm_up(db)
        built = time.perf_counter() - start
        print(f"index_from_database: {built:.1f} s ({args.donors / built:,.0f} donors/s)")
        print(f"index_memory: {service.context(db).index.memory_bytes() / 2**20:.0f} MiB")  # type: ignore[union-attr]
        print(f"peak_rss_growth_during_build: {rss_mib() - before:.0f} MiB")
        start = time.perf_counter()
        found = service.search(db, PATIENT, max_mismatches=1)
        print(f"first_search_after_warm_up: {(time.perf_counter() - start) * 1000:.1f} ms "
              f"({found['total']} donors within 1 mismatch)")
        macs = Path(folder) / "numer.v3.txt"
        macs.write_text("*\tAB\t01/02\n*\tCD\t01/03\n")
        service.load_macs(db, macs, actor="benchmark")
        start = time.perf_counter()
        found = service.search(db, PATIENT, max_mismatches=1)
        print(f"first_search_after_mac_load: {(time.perf_counter() - start) * 1000:.1f} ms "
              f"(typings re-resolved in place; {found['total']} donors within 1 mismatch)")
        db.dispose()


if __name__ == "__main__":
    main()
