"""Demo data of the variant store: the real 1000 Genomes chr22 extract, linked to the first 100 demo participants.

Idempotent (skips when the dataset exists) and deterministic (the mapping is sample order × participant code
order). The VCF is vendored in `data/1000genomes/` so the product never reads the shared data folder.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

from sqlalchemy import select

from lifebank.config import get_settings
from lifebank.db.engine import Database
from lifebank.omics import biobank_link, cohorts, service
from lifebank.omics.ingest import open_vcf
from lifebank.omics.models import OmicsDataset

DEMO_DATASET = "1kg-chr22"
DEMO_VCF = Path(__file__).parent / "data" / "1000genomes" / "1kg_2020_chr22_100x100.vcf.gz"
DEMO_COHORT = "GRU carriers chr22:10.51M"
ACTOR = "demo"

ProgressFactory = Callable[..., AbstractContextManager[Callable[[int], None]]]


def _sample_map(db: Database) -> str | None:
    if not biobank_link.available():
        return None
    samples = list(open_vcf(DEMO_VCF).samples)
    codes = biobank_link.list_participant_codes(db, len(samples))
    if not codes:
        return None
    rows = [f"{sample},{code}," for sample, code in zip(samples, codes, strict=False)]
    return "vcf_sample,participant,specimen_barcode\n" + "\n".join(rows) + "\n"


def load_demo(db: Database, progress_bar: ProgressFactory, data_dir: Path | None = None) -> None:
    with db.session() as session:
        if session.scalar(select(OmicsDataset.id).where(OmicsDataset.name == DEMO_DATASET)) is not None:
            return
    data_dir = data_dir or get_settings().data_dir
    with progress_bar("omics: 1000 Genomes chr22", 100, unit="records") as advance:
        service.import_vcf(db, data_dir, DEMO_VCF, dataset=DEMO_DATASET, actor=ACTOR, genome_build="GRCh38",
                           sample_map=_sample_map(db), on_progress=advance)
    if biobank_link.available():
        criteria = cohorts.CohortCriteria(consent_code="DUO:0000042", dataset=DEMO_DATASET,
                                          region="chr22:10510000-10515000", max_af=0.2)
        cohorts.save_cohort(db, data_dir, DEMO_COHORT, criteria, actor=ACTOR)
