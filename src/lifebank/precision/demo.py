"""Demo: PCGR's two example tumours (T001-BRCA, T001-COAD) as reports; the BRCA one signed by the clinician.

Idempotent (nothing happens when reports exist) and deterministic; takes about a second. The reports are
linked to the first two demo participants when the biobank demo is there.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

from sqlalchemy import func, select

from lifebank import biobank
from lifebank.config import Settings
from lifebank.db.engine import Database
from lifebank.precision import kb_store, service
from lifebank.precision.models import ReportVersion
from lifebank.precision.run import Options

ProgressFactory = Callable[[str, int | None, str], AbstractContextManager[Callable[[int], None]]]
TUMOURS = (("T001-BRCA", "BRCA"), ("T001-COAD", "COAD"))


def load_demo(db: Database, progress_bar: ProgressFactory) -> None:
    with db.session() as session:
        if session.scalar(select(func.count()).select_from(ReportVersion)):
            return
    from lifebank.demo import DEMO_PASSWORD

    participants = biobank.list_participant_codes(db, len(TUMOURS))
    folder = kb_store.VENDORED / "pcgr-examples"
    with progress_bar("Tumour reports", len(TUMOURS), "reports") as advance:
        for i, (name, code) in enumerate(TUMOURS):
            files = {kind: (folder / f"{name}.grch38.{suffix}").read_bytes()
                     for kind, suffix in (("vcf", "vcf.gz"), ("cna", "cna.tsv"), ("fusions", "fusions.tsv"))}
            done = service.create_report(db, None, files, Options(tumour_type=code), actor="demo",
                                         participant=participants[i] if i < len(participants) else None,
                                         label=name)
            if code == "BRCA":
                service.sign_report(db, Settings(), done["report"], username="clinician", password=DEMO_PASSWORD,
                                    meaning="approval")
            advance(1)
