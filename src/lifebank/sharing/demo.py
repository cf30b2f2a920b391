"""Demo sharing: the 1000 Genomes demo dataset answers the public Beacon, the whole bank answers logged-in
users (counts), and the demo `partner` holds a release of the demo dataset with one CSV export waiting under
"My exports". Idempotent (nothing happens once a Beacon dataset is configured) and deterministic; seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

from sqlalchemy import select

from lifebank.config import get_settings
from lifebank.db.engine import Database
from lifebank.errors import LifeBankError
from lifebank.sharing import beacon, exports
from lifebank.sharing.models import BeaconDataset

ACTOR = "demo"
DEMO_DATASET = "1kg-chr22"
ProgressFactory = Callable[..., AbstractContextManager[Callable[[int], None]]]


def load_demo(db: Database, progress_bar: ProgressFactory, data_dir: Path | None = None) -> None:
    with db.session() as session:
        if session.scalar(select(BeaconDataset.id).limit(1)) is not None:
            return
    levels = beacon.levels(db)
    with progress_bar("sharing: Beacon and a partner export", 3, unit="steps") as advance:
        beacon.set_level(db, "biobank", "REGISTERED", actor=ACTOR,
                         description="Every participant and specimen of the demo bank")
        advance(1)
        if DEMO_DATASET not in levels:
            return
        beacon.set_level(db, DEMO_DATASET, "PUBLIC", actor=ACTOR,
                         description="1000 Genomes chr22 extract linked to the first 100 demo participants")
        advance(1)
        try:
            grant = beacon.grant_records(db, DEMO_DATASET, "partner", purposes="HMB", actor=ACTOR,
                                         reason="demo release")
            source = exports.from_release(db, grant)
            exports.export(db, data_dir or get_settings().data_dir, source, "csv", actor=ACTOR)
        except LifeBankError:  # no demo partner, or consents that exclude the use: the Beacon part stands
            return
        advance(1)
