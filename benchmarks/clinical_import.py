"""Clinical import, FHIR search and a clinical+biobank+genotype cohort query at scale.

Plain script, one `name: value unit` per line. Generates `--resources` FHIR R4 resources shaped like the shared
Synthea data (per patient: 1 Patient, 3 Encounters, 1 Condition, 4 Observations with a value, 1 Procedure; new
ids; `--resources / 10` patients, each a biobank participant) as Bulk Data NDJSON files, then on each backend:

- `import`: `lifebank.clinical.fhir_import.import_fhir_path` on the folder (fhir.resources R4B validation of
  every resource, required bindings, reference checks, bulk insert), resources/s;
- `peer`: the same rows read with a bare `json.loads` per line and written with one `executemany` into the same
  `clin_record` table of a fresh database (`INSERT INTO clin_record (...) VALUES (...)`, same columns, same
  indexes; patients looked up in a dict) — the floor of any importer; we report our rate as a share of it;
- `search`: `GET /fhir/r4/Observation?subject=…&code=…` through the ASGI app with a bearer token, p50/p95;
- `cohort`: the cohort builder's preview of the issue's query: a diagnosis with its descendants (a loaded
  Athena-layout vocabulary) + a lab range + available DNA + carriers in a region of the 1000 Genomes demo VCF
  (100 samples linked to the first 100 participants: the genotype part is at that scale, not 100,000), p50/p95
  (20 runs); `cohort_with_consent` adds a DUO consent code; `cohort_part_*` times each part alone;
- `peak_memory`: the process's maximum resident set.

Every figure is printed with the load average; import, peer, search and cohort also per CPU-second of this
process and its validation workers (the database server's CPU is not counted).

    .venv/bin/python benchmarks/clinical_import.py --resources 1000000 [--postgres postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from lifebank.db import migrate
from lifebank.db.engine import Database

ROOT = Path(__file__).resolve().parents[1]
ATHENA = ROOT / "tests" / "clinical" / "fixtures" / "athena"
CONDITIONS = ("399068003", "254900004", "44054006", "126906006", "38341003", "195662009")
LABS = ("2857-1", "2339-0", "718-7", "4548-4")


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (the validation workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def load() -> str:
    return f"load {os.getloadavg()[0]:.1f}"


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[int(0.95 * (len(ordered) - 1))] * 1000


def generate(folder: Path, patients: int) -> int:
    """The NDJSON files; returns the number of resources written."""
    total = 0
    files = {
        name: (folder / f"{name}.000.ndjson").open("w")
        for name in ("Patient", "Encounter", "Condition", "Observation", "Procedure")
    }
    for i in range(patients):
        pid = f"bp-{i:07d}"
        ref = {"reference": f"Patient/{pid}"}
        files["Patient"].write(
            json.dumps(
                {
                    "resourceType": "Patient",
                    "id": pid,
                    "gender": "female" if i % 2 else "male",
                    "birthDate": f"{1940 + i % 50}-0{1 + i % 9}-1{i % 10}",
                    "name": [{"family": "Synthetic", "given": ["Person"]}],
                    "identifier": [{"system": "urn:lifebank:participant", "value": f"P{i + 1:06d}"}],
                }
            )
            + "\n"
        )
        for e in range(3):
            files["Encounter"].write(
                json.dumps(
                    {
                        "resourceType": "Encounter",
                        "id": f"{pid}-e{e}",
                        "status": "finished",
                        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
                        "type": [
                            {
                                "coding": [
                                    {
                                        "system": "http://snomed.info/sct",
                                        "code": "185349003",
                                        "display": "Encounter for check up (procedure)",
                                    }
                                ]
                            }
                        ],
                        "subject": ref,
                        "period": {
                            "start": f"201{e}-03-0{1 + e}T09:00:00+08:00",
                            "end": f"201{e}-03-0{1 + e}T09:30:00+08:00",
                        },
                    }
                )
                + "\n"
            )
        files["Condition"].write(
            json.dumps(
                {
                    "resourceType": "Condition",
                    "id": f"{pid}-c",
                    "clinicalStatus": {
                        "coding": [
                            {"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}
                        ]
                    },
                    "verificationStatus": {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                                "code": "confirmed",
                            }
                        ]
                    },
                    "category": [
                        {
                            "coding": [
                                {
                                    "system": "http://terminology.hl7.org/CodeSystem/condition-category",
                                    "code": "encounter-diagnosis",
                                }
                            ]
                        }
                    ],
                    "code": {"coding": [{"system": "http://snomed.info/sct", "code": CONDITIONS[i % len(CONDITIONS)]}]},
                    "subject": ref,
                    "encounter": {"reference": f"Encounter/{pid}-e0"},
                    "onsetDateTime": "2010-03-01T09:00:00+08:00",
                    "recordedDate": "2010-03-01T09:00:00+08:00",
                }
            )
            + "\n"
        )
        for o in range(4):
            files["Observation"].write(
                json.dumps(
                    {
                        "resourceType": "Observation",
                        "id": f"{pid}-o{o}",
                        "status": "final",
                        "category": [
                            {
                                "coding": [
                                    {
                                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                        "code": "laboratory",
                                    }
                                ]
                            }
                        ],
                        "code": {"coding": [{"system": "http://loinc.org", "code": LABS[o], "display": "Lab"}]},
                        "subject": ref,
                        "encounter": {"reference": f"Encounter/{pid}-e{o % 3}"},
                        "effectiveDateTime": f"201{o}-03-01T09:00:00+08:00",
                        "valueQuantity": {
                            "value": round((i * 7 + o) % 200 / 10, 1),
                            "unit": "ng/mL",
                            "system": "http://unitsofmeasure.org",
                            "code": "ng/mL",
                        },
                    }
                )
                + "\n"
            )
        files["Procedure"].write(
            json.dumps(
                {
                    "resourceType": "Procedure",
                    "id": f"{pid}-p",
                    "status": "completed",
                    "code": {"coding": [{"system": "http://snomed.info/sct", "code": "430193006"}]},
                    "subject": ref,
                    "encounter": {"reference": f"Encounter/{pid}-e1"},
                    "performedPeriod": {"start": "2011-03-02T09:00:00+08:00", "end": "2011-03-02T09:20:00+08:00"},
                }
            )
            + "\n"
        )
        total += 10
    for handle in files.values():
        handle.close()
    return total


def seed_biobank(db: Database, patients: int) -> None:
    from lifebank.biobank import imports

    people = "participant,sex,birth_year,site,consent_codes,consent_date\n" + "".join(
        f"P{i + 1:06d},{'MF'[i % 2]},{1940 + i % 50},SH,DUO:0000042,2024-01-02\n" for i in range(patients)
    )
    imports.import_participants(db, people.encode(), actor="bench")
    tubes = "barcode,participant,type,quantity,unit,collected_at,parent_barcode,sprec,location\n" + "".join(
        f"D{i:08d},P{i + 1:06d},DNA,10,ug,2024-03-01T08:00:00Z,,,\n" for i in range(0, patients, 2)
    )
    imports.import_specimens(db, tubes.encode(), actor="bench")


PEER_COLUMNS = (
    "patient_id",
    "kind",
    "origin",
    "source_type",
    "source_id",
    "system",
    "code",
    "display",
    "start",
    "value_num",
    "unit",
    "updated_at",
)
PEER_SQL = f"INSERT INTO clin_record ({', '.join(PEER_COLUMNS)}) VALUES ({', '.join(':' + c for c in PEER_COLUMNS)})"


def peer(url: str, folder: Path) -> tuple[int, float]:
    """Bare json.loads + executemany of the same rows into the same table (fresh database)."""
    db = Database(url)
    migrate.upgrade(db)
    sql = text(PEER_SQL)
    start = time.perf_counter()
    count = 0
    with db.transaction() as session:
        patients: dict[str, int] = {}
        rows = []
        for n, line in enumerate((folder / "Patient.000.ndjson").open(), start=1):
            patients[json.loads(line)["id"]] = n
        session.execute(
            text(
                "INSERT INTO clin_patient (id, origin, source_id, participant_code, updated_at) "
                "VALUES (:id, 'fhir', :sid, :sid, '2026-01-01 00:00:00')"
            ),
            [{"id": n, "sid": sid} for sid, n in patients.items()],
        )
        count += len(patients)
        for name in ("Encounter", "Condition", "Observation", "Procedure"):
            for line in (folder / f"{name}.000.ndjson").open():
                r = json.loads(line)
                coding = (r.get("code") or (r.get("type") or [{}])[0]).get("coding", [{}])[0]
                rows.append(
                    {
                        "patient_id": patients[r["subject"]["reference"][8:]],
                        "kind": name.lower(),
                        "origin": "fhir",
                        "source_type": name,
                        "source_id": r["id"],
                        "system": coding.get("system", ""),
                        "code": coding.get("code", ""),
                        "display": coding.get("display", ""),
                        "start": r.get("onsetDateTime") or r.get("effectiveDateTime"),
                        "value_num": (r.get("valueQuantity") or {}).get("value"),
                        "unit": (r.get("valueQuantity") or {}).get("code"),
                        "updated_at": "2026-01-01 00:00:00",
                    }
                )
                if len(rows) >= 50_000:
                    session.execute(sql, rows)
                    count += len(rows)
                    rows = []
        if rows:  # (1,000,000 resources leave none: 900,000 rows are 18 batches of 50,000)
            session.execute(sql, rows)
            count += len(rows)
    elapsed = time.perf_counter() - start
    db.dispose()
    return count, elapsed


def run(label: str, url: str, peer_url: str, folder: Path, resources: int, patients: int, data_dir: Path) -> None:
    from lifebank.clinical.fhir_import import import_fhir_path
    from lifebank.clinical.vocabulary_load import load_vocabulary

    db = Database(url)
    migrate.upgrade(db)
    seed_biobank(db, patients)
    load_vocabulary(db, ATHENA, actor="bench")
    from lifebank.clinical.fhir_read import validation_workers

    print(f"{label}_validation_processes_for_large_files: {validation_workers()} ({load()}; chosen once per folder)")
    cpu = cpu_seconds()
    start = time.perf_counter()
    import_fhir_path(db, folder, actor="bench")
    elapsed = time.perf_counter() - start
    import_cpu = cpu_seconds() - cpu
    print(
        f"{label}_import: {resources / elapsed:,.0f} resources/s ({resources:,} resources in {elapsed:.1f} s; {load()})"
    )
    print(f"{label}_import_peak_memory_so_far: {rss_mib():,.0f} MiB")
    cpu = cpu_seconds()
    count, peer_elapsed = peer(peer_url, folder)
    peer_cpu = cpu_seconds() - cpu
    print(f"{label}_peer_json_loads_executemany: {count / peer_elapsed:,.0f} rows/s ({peer_elapsed:.1f} s; {load()})")
    print(
        f"{label}_peer_command: json.loads per line; session.execute(text({PEER_SQL!r}), rows) per 50,000 rows, "
        "one transaction"
    )
    print(f"{label}_import_share_of_peer: {(resources / elapsed) / (count / peer_elapsed) * 100:.1f} %")
    # On a shared machine wall time measures the neighbours too: the same work per CPU-second of this process
    # and its validation workers (the database server's own CPU is not counted, so PostgreSQL's is a floor).
    print(f"{label}_import_per_cpu_second: {resources / import_cpu:,.0f} resources/s ({import_cpu:.1f} CPU s)")
    print(f"{label}_peer_per_cpu_second: {count / peer_cpu:,.0f} rows/s ({peer_cpu:.1f} CPU s)")
    print(f"{label}_import_share_of_peer_cpu: {(resources / import_cpu) / (count / peer_cpu) * 100:.1f} %")
    queries(label, db, url, patients, data_dir)


def queries(label: str, db: Database, url: str, patients: int, data_dir: Path) -> None:
    """FHIR search and cohort figures on an imported database (also `--queries-only` on a kept one)."""
    from fastapi.testclient import TestClient

    from lifebank.auth import service as auth
    from lifebank.config import Settings
    from lifebank.errors import Conflict
    from lifebank.omics import cohorts
    from lifebank.omics.demo import load_demo as omics_demo
    from lifebank.web.app import create_app

    try:
        auth.create_user(db, "bench", "Correct-horse-battery-9", ["admin"])
    except Conflict:  # a kept database (--queries-only) has it already
        pass
    token = auth.create_token(db, "bench", "bench").token
    settings = Settings(data_dir=data_dir, database_url=url, secret_key="bench-secret-key-0123456789")
    with TestClient(create_app(settings, db)) as client:
        headers = {"Authorization": f"Bearer {token}"}
        samples, cpu = [], cpu_seconds()
        for n in range(200):
            pid = f"bp-{(n * 7919) % patients:07d}"
            begin = time.perf_counter()
            answer = client.get(f"/fhir/r4/Observation?subject={pid}&code=http://loinc.org|2857-1", headers=headers)
            samples.append(time.perf_counter() - begin)
            assert answer.status_code == 200 and answer.json()["total"] == 1, answer.text
        cpu = (cpu_seconds() - cpu) / len(samples) * 1000
    p50, p95 = percentiles(samples)
    print(f"{label}_fhir_search_p50: {p50:.1f} ms ({load()})")
    print(f"{label}_fhir_search_p95: {p95:.1f} ms (CPU {cpu:.1f} ms a query in this process)")
    omics_demo(db, lambda *a, **k: _NoBar(), data_dir)
    # The query: a diagnosis with its descendants + a lab range + available DNA + carriers (a region of the
    # demo VCF: no gene of the NCBI table lies in its chr22 stretch; a gene criterion is read the same way).
    asked = {
        "diagnosis": "126906006",
        "diagnosis_system": "snomed",
        "diagnosis_descendants": "yes",
        "lab_code": "2857-1",
        "lab_comparator": ">=",
        "lab_value": "5",
        "specimen_type": "DNA",
        "dataset": "1kg-chr22",
        "region": "chr22:10510000-10520000",
    }
    for name, query in (("cohort", asked), ("cohort_with_consent", {**asked, "consent_code": "DUO:0000042"})):
        criteria = cohorts.CohortCriteria.from_dict(query)
        samples, cpu = [], cpu_seconds()
        for _ in range(20):
            begin = time.perf_counter()
            members = cohorts.preview_cohort(db, data_dir, criteria)
            samples.append(time.perf_counter() - begin)
        cpu = (cpu_seconds() - cpu) / len(samples) * 1000
        p50, p95 = percentiles(samples)
        print(f"{label}_{name}_members: {len(members)} ({patients:,} participants)")
        print(f"{label}_{name}_p50: {p50:.0f} ms ({load()})")
        print(f"{label}_{name}_p95: {p95:.0f} ms (CPU {cpu:.0f} ms a query)")
    cohort_parts(label, db, data_dir, cohorts.CohortCriteria.from_dict(asked))
    clinical_only = cohorts.CohortCriteria.from_dict({k: v for k, v in asked.items() if k not in {"dataset", "region"}})
    begin = time.perf_counter()
    broad = len(cohorts.preview_cohort(db, data_dir, clinical_only))
    print(f"{label}_cohort_without_genotype: {broad:,} members in {(time.perf_counter() - begin) * 1000:.0f} ms")
    db.dispose()


def cohort_parts(label: str, db: Database, data_dir: Path, criteria: object) -> None:
    """Where a cohort query's time goes: each part alone, median of 5 (the carriers warm, as after one query)."""
    from lifebank.clinical import participants_with_clinical
    from lifebank.omics import biobank_link, cohorts

    carriers = cohorts._carriers(db, data_dir, criteria)
    candidates = {p for s, p in _sample_owners(db) if s in carriers and p}
    parts = {
        "carriers_cached": lambda: cohorts._carriers(db, data_dir, criteria),
        "clinical_among_carriers": lambda: participants_with_clinical(db, criteria.clinical(), among=candidates),
        "clinical_all_participants": lambda: participants_with_clinical(db, criteria.clinical()),
        "biobank_specimens_all_participants": lambda: biobank_link.participants_with_specimens(
            db, specimen_type="DNA", status="available"
        ),
        "biobank_consent_all_participants": lambda: biobank_link.participants_matching(db, consent_code="DUO:0000042"),
    }
    for name, call in parts.items():
        times = []
        for _ in range(5):
            begin = time.perf_counter()
            call()
            times.append(time.perf_counter() - begin)
        print(f"{label}_cohort_part_{name}: {statistics.median(times) * 1000:.0f} ms")


def _sample_owners(db: Database) -> list[tuple[str, str | None]]:
    from sqlalchemy import select

    from lifebank.omics.models import OmicsSample

    with db.session() as session:
        return [tuple(r) for r in session.execute(select(OmicsSample.vcf_sample, OmicsSample.participant_code))]


def validator_cost(folder: Path) -> None:
    """The limit: fhir.resources R4B validation alone, µs per resource of CPU in a tight loop (json.loads done
    before), without and with the element memo, on the generated resources and on the shared Synthea Bulk set."""
    from lifebank.clinical import fhir_validate

    shared = ROOT.parent / "shared" / "data" / "clinical" / "fhir_r4_bulk_ndjson_10pt"
    sets = {
        "generated": [
            json.loads(line)
            for name in ("Patient", "Encounter", "Condition", "Observation", "Procedure")
            for line in (folder / f"{name}.000.ndjson").open().readlines()[:2000]
        ]
    }
    if shared.is_dir():
        sets["shared_synthea"] = [
            json.loads(line)
            for path in sorted(shared.glob("*.ndjson"))
            for line in path.read_text().splitlines()
            if line.strip()
        ]
    for name, docs in sets.items():
        for memo in (False, True):
            fhir_validate.set_memo(memo)
            begin = time.process_time()
            for doc in docs:
                fhir_validate.validate(doc["resourceType"], doc)
            cost = (time.process_time() - begin) / len(docs) * 1e6
            print(
                f"validator_{name}_{'memo' if memo else 'plain'}: {cost:.0f} µs CPU a resource "
                f"({len(docs):,} resources, {1e6 / cost:,.0f} a CPU-second; {load()})"
            )
    fhir_validate.set_memo(True)


class _NoBar:
    def __enter__(self):
        return lambda _n: None

    def __exit__(self, *exc):
        return False


def _pg_database(base: str, prefix: str = "lb_bench_") -> tuple[str, str]:
    name = f"{prefix}{uuid.uuid4().hex[:8]}"
    admin = create_engine(make_url(base).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return name, make_url(base).set(database=name).render_as_string(hide_password=False)


def _pg_drop(base: str, name: str) -> None:
    admin = create_engine(make_url(base).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resources", type=int, default=1_000_000)
    parser.add_argument("--postgres", default=None, help="a PostgreSQL server URL to run the same figures on")
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL figures only")
    parser.add_argument("--pg-prefix", default="lb_bench_", help="name prefix of the scratch PostgreSQL databases")
    parser.add_argument(
        "--queries-only",
        default=None,
        metavar="URL",
        help="only the search and cohort figures, on a database a run imported (kept)",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="with --queries-only: the kept run's data folder (its omics demo files)",
    )
    parser.add_argument(
        "--validator-only",
        action="store_true",
        help="only the fhir.resources validation cost per resource (the import's limit)",
    )
    parser.add_argument(
        "--as-idle",
        action="store_true",
        help="the import's idle-core rule reads a load of 0 (this process's own data generation just before the "
        "import lifts the 1-minute load average to ~1, which a user's fresh import process does not see)",
    )
    args = parser.parse_args()
    if args.as_idle:
        import functools

        from lifebank.clinical import fhir_read

        fhir_read.validation_workers = functools.partial(fhir_read.validation_workers, load=0.0)
        print("validation processes: chosen as on an idle machine (--as-idle)")
    patients = args.resources // 10
    if args.queries_only:
        with tempfile.TemporaryDirectory() as tmp:
            print(f"load_average: {os.getloadavg()[0]:.2f}")
            kept = Database(args.queries_only)
            migrate.upgrade(kept)  # a database kept from an earlier run: the current code's schema
            queries("kept", kept, args.queries_only, patients, args.data_dir or Path(tmp) / "data")
        print(f"peak_memory: {rss_mib():,.0f} MiB")
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "ndjson"
        folder.mkdir()
        resources = generate(folder, patients)
        print(f"resources: {resources:,} ({patients:,} patients)")
        print(
            f"machine: {os.cpu_count()} cores, "
            f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.1f} GiB memory"
        )
        print(f"load_average: {os.getloadavg()[0]:.2f}")
        if args.validator_only:
            validator_cost(folder)
            return
        if not args.no_sqlite:
            run(
                "sqlite",
                f"sqlite:///{tmp}/bench.db",
                f"sqlite:///{tmp}/peer.db",
                folder,
                resources,
                patients,
                Path(tmp) / "data",
            )
        if args.postgres:
            names = []
            try:
                name, url = _pg_database(args.postgres, args.pg_prefix)
                names.append(name)
                peer_name, peer_url = _pg_database(args.postgres, args.pg_prefix)
                names.append(peer_name)
                run("postgresql", url, peer_url, folder, resources, patients, Path(tmp) / "pgdata")
            finally:
                for name in names:
                    _pg_drop(args.postgres, name)
    print(f"peak_memory: {rss_mib():,.0f} MiB")
    print(f"load_average_end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
