"""`make demo`'s omics part: the real 1000 Genomes extract, linked to the first 100 demo participants."""

from __future__ import annotations

from contextlib import contextmanager

from lifebank.biobank import demo as biobank_demo
from lifebank.biobank import list_participant_codes
from lifebank.omics import demo, service


@contextmanager
def _quiet_progress(description: str, total: int | None, unit: str = "rows"):
    yield lambda n: None


def test_demo_links_the_first_100_participants_and_is_idempotent(db, tmp_path):
    biobank_demo.load_demo(db, _quiet_progress)
    demo.load_demo(db, _quiet_progress, data_dir=tmp_path)
    demo.load_demo(db, _quiet_progress, data_dir=tmp_path)
    [dataset] = service.list_datasets(db)
    assert (dataset["name"], dataset["batches"], dataset["samples"], dataset["sites"]) == ("1kg-chr22", 1, 100, 104)
    rows = service.list_samples(db, "1kg-chr22")
    assert [r["participant"] for r in rows] == list_participant_codes(db, 100)
    cohort = service.get_cohort(db, demo.DEMO_COHORT)
    assert cohort["size"] == len(cohort["members"]) > 0
    assert all(m["participant"] for m in cohort["members"])
