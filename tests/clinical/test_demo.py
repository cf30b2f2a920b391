"""The clinical demo: links the vendored Synthea and Eunomia patients to the first demo participants, once."""

from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy import func, select

from lifebank.biobank import service as bank
from lifebank.clinical import queries
from lifebank.clinical.demo import load_demo
from lifebank.clinical.models import ClinPatient, ClinRecord


@contextmanager
def _quiet(*_args, **_kwargs):
    yield lambda _n: None


def test_demo_links_to_existing_participants_and_is_idempotent(db):
    codes = [f"DEMO{i:02d}" for i in range(10)]
    for code in codes:
        bank.register_participant(db, code, sex="U", birth_year=1970, site="Demo", actor="test")
    load_demo(db, _quiet)
    with db.session() as session:
        linked = set(session.scalars(select(ClinPatient.participant_code)))
        records = session.scalar(select(func.count()).select_from(ClinRecord))
    assert linked == set(codes[:8])
    assert any(r["kind"] == "condition" for r in queries.clinical_timeline(db, codes[0]))
    load_demo(db, _quiet)
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(ClinRecord)) == records
    assert bank.list_participant_codes(db, 20) == codes
