"""A small live bank for the Beacon tests: 100 participants with consent and specimens, the vendored 1000 Genomes
chr22 extract (100 samples × 100 records) linked to them as omics dataset `kg`, and helper callers."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import RUN_ID, _create_pg_database, _drop_pg_database
from lifebank.biobank import imports
from lifebank.config import Settings
from lifebank.db.engine import Database
from lifebank.omics import cohorts
from lifebank.omics import service as omics
from lifebank.omics.ingest import open_vcf

VCF = Path(__file__).parents[2] / "src" / "lifebank" / "omics" / "data" / "1000genomes" / \
    "1kg_2020_chr22_100x100.vcf.gz"
PEOPLE = 100


def sex_of(i: int) -> str:
    return "F" if i % 3 else "M"  # 66 F, 34 M


def consent_of(i: int) -> str:
    return "GRU" if i % 2 == 0 else "HMB;NCU"


def load_bank(db: Database, data_dir: Path) -> None:
    rows = "".join(f"P{i:04d},{sex_of(i)},{1950 + i % 45},{'Shanghai' if i % 4 else 'Hangzhou'},{consent_of(i)},"
                   f"2024-01-15\n" for i in range(PEOPLE))
    imports.import_participants(db, ("participant,sex,birth_year,site,consent_codes,consent_date\n" + rows).encode(),
                                actor="test")
    tubes = "".join(f"BLD{i:04d},P{i:04d},BLD,9,mL,2024-03-01T08:00:00Z,,,\n" for i in range(PEOPLE))
    tubes += "".join(f"PL{i:04d},,PL1,0.5,mL,2024-03-01T08:00:00Z,BLD{i:04d},,\n" for i in range(0, PEOPLE, 4))
    imports.import_specimens(db, ("barcode,participant,type,quantity,unit,collected_at,parent_barcode,sprec,"
                                  "location\n" + tubes).encode(), actor="test")
    samples = list(open_vcf(VCF).samples)
    sample_map = "vcf_sample,participant,specimen_barcode\n" + "".join(
        f"{s},P{i:04d},BLD{i:04d}\n" for i, s in enumerate(samples))
    omics.import_vcf(db, data_dir, VCF, dataset="kg", actor="test", sample_map=sample_map)
    cohorts.save_cohort(db, data_dir, "GRU women", cohorts.CohortCriteria(consent_code="DUO:0000042", sex="F",
                                                                          dataset="kg"), actor="test")


@dataclass
class Bank:
    db: Database
    settings: Settings


@pytest.fixture(scope="session")
def sqlite_bank_template(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The bank built once per run on SQLite: (database file, data folder), copied for each test."""
    folder = tmp_path_factory.mktemp("bank-sqlite")
    target = folder / "bank.db"
    shutil.copyfile(sqlite_template, target)
    db = Database(f"sqlite:///{target}")
    load_bank(db, folder / "data")
    db.dispose()
    return target, folder / "data"


@pytest.fixture(scope="session")
def postgres_bank_template(postgres_template: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[
        tuple[str, Path]]:
    """The bank built once per run on PostgreSQL: (template database name, data folder)."""
    folder = tmp_path_factory.mktemp("bank-pg")
    name = f"lbtpl_bank_{RUN_ID}"
    db = Database(_create_pg_database(name, template=postgres_template))
    load_bank(db, folder / "data")
    db.dispose()
    yield name, folder / "data"
    _drop_pg_database(name)


@pytest.fixture
def db_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Every sharing test starts from the bank (a copy of the per-run template, database and omics store):
    building it once per backend keeps the folder fast."""
    if backend == "sqlite":
        source, data = request.getfixturevalue("sqlite_bank_template")
        shutil.copytree(data, tmp_path / "data")
        shutil.copyfile(source, tmp_path / "lifebank.db")
        yield f"sqlite:///{tmp_path / 'lifebank.db'}"
        return
    template, data = request.getfixturevalue("postgres_bank_template")
    shutil.copytree(data, tmp_path / "data")
    name = f"lbt_{RUN_ID}_{uuid.uuid4().hex[:8]}"
    yield _create_pg_database(name, template=template)
    _drop_pg_database(name)


@pytest.fixture
def bank(db: Database, settings: Settings) -> Bank:
    """The bank of `load_bank` (already there: `db_url` copies it)."""
    return Bank(db, settings)
