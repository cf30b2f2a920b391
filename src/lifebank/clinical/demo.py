"""Demo clinical data: two Synthea HIV patients (FHIR Bundles) and six Eunomia persons (OMOP CSVs), each linked
to one of the first demo participants, who already hold specimens in the freezers and genotypes in the
1000 Genomes demo set: the cohort builder can then combine a diagnosis with genotypes and freezer stock.

Idempotent (skips when clinical records exist) and deterministic (patients in file order × participant codes
in code order). The files are vendored in `data/` with their licences; links are made in memory (the FHIR
Patient gets a `urn:lifebank:participant` identifier, the OMOP person_source_value becomes the code).
"""

from __future__ import annotations

import csv
import json
import shutil
import tempfile
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

from sqlalchemy import select

from lifebank import biobank
from lifebank.clinical import fhir_import, omop_import
from lifebank.clinical.codes import PARTICIPANT_SYSTEM
from lifebank.clinical.models import ClinRecord
from lifebank.db.engine import Database

DATA = Path(__file__).parent / "data"
BUNDLES = sorted((DATA / "synthea_hiv").glob("*.json"))
EUNOMIA = DATA / "eunomia_synthea27nj"
ACTOR = "demo"
ProgressFactory = Callable[..., AbstractContextManager[Callable[[int], None]]]


def _linked_bundle(path: Path, code: str | None) -> str:
    bundle = json.loads(path.read_text(encoding="utf-8"))
    if code:
        for entry in bundle["entry"]:
            if entry["resource"]["resourceType"] == "Patient":
                entry["resource"].setdefault("identifier", []).append({"system": PARTICIPANT_SYSTEM, "value": code})
    return json.dumps(bundle)


def _linked_omop(folder: Path, codes: list[str]) -> None:
    shutil.copytree(EUNOMIA, folder, dirs_exist_ok=True)
    with (EUNOMIA / "PERSON.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    column = rows[0].index("person_source_value")
    for row, code in zip(rows[1:], codes, strict=False):
        row[column] = code
    with (folder / "PERSON.csv").open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)


def load_demo(db: Database, progress_bar: ProgressFactory) -> None:
    with db.session() as session:
        if session.scalar(select(ClinRecord.id).limit(1)) is not None:
            return
    codes = biobank.list_participant_codes(db, len(BUNDLES) + 6)
    with progress_bar("clinical: Synthea FHIR and Eunomia OMOP", len(BUNDLES) + 1, unit="files") as advance:
        for index, path in enumerate(BUNDLES):
            code = codes[index] if index < len(codes) else None
            fhir_import.import_fhir_text(db, path.name, _linked_bundle(path, code), actor=ACTOR,
                                         create_participants=True)
            advance(1)
        with tempfile.TemporaryDirectory(prefix="lifebank-demo-omop-") as folder:
            _linked_omop(Path(folder), codes[len(BUNDLES):])
            omop_import.import_omop_folder(db, Path(folder), actor=ACTOR, create_participants=True)
        advance(1)
