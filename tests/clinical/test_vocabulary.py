"""The bring-your-own-vocabulary loader: Athena layout, wrong columns refused, ancestry for descendants."""

from __future__ import annotations

import shutil

import pytest
from sqlalchemy import func, select

from lifebank.clinical import ClinicalCriteria, participants_with_clinical
from lifebank.clinical.fhir_import import import_fhir_text
from lifebank.clinical.models import ClinConcept, ClinConceptAncestor
from lifebank.clinical.vocabulary import ancestry_from_is_a
from lifebank.clinical.vocabulary_load import load_vocabulary, vocabulary_summary
from lifebank.errors import RowsRejected
from shared_data import SHARED_DATA

from .conftest import FIXTURES
from .fhir_fixtures import condition, ndjson, observation, patient

ACTOR = "test"


def test_athena_folder_loads_and_derives_ancestry(db):
    result = load_vocabulary(db, FIXTURES / "athena", actor=ACTOR)
    assert result == {"concepts": 5, "relationships": 4, "ancestors": 0, "ancestors_derived": 8}
    assert vocabulary_summary(db) == {"LOINC": 1, "SNOMED": 4}
    with db.session() as session:
        below_neoplasm = set(session.scalars(select(ClinConceptAncestor.descendant_concept_id).where(
            ClinConceptAncestor.ancestor_concept_id == 900001)))
    assert below_neoplasm == {900001, 900002, 900003}


def test_ancestry_levels_follow_the_shortest_and_longest_path():
    rows = ancestry_from_is_a({1, 2, 3, 4}, [(2, 1), (3, 2), (3, 1), (4, 3)])
    levels = {(r["ancestor_concept_id"], r["descendant_concept_id"]): (r["min_levels"], r["max_levels"])
              for r in rows}
    assert levels[(1, 3)] == (1, 2) and levels[(1, 4)] == (2, 3) and levels[(4, 4)] == (0, 0)


def test_vocabulary_file_with_wrong_columns_is_refused_and_nothing_changes(db, tmp_path):
    load_vocabulary(db, FIXTURES / "athena", actor=ACTOR)
    bad = tmp_path / "athena"
    shutil.copytree(FIXTURES / "athena", bad)
    (bad / "CONCEPT_ANCESTOR.csv").write_text("ancestor\tdescendant\n1\t2\n")
    with pytest.raises(RowsRejected) as caught:
        load_vocabulary(db, bad, actor=ACTOR)
    first = caught.value.errors[0]
    assert (first.line, first.column) == (1, "ancestor_concept_id")
    assert "CONCEPT_ANCESTOR.csv" in caught.value.render()
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(ClinConcept)) == 5


def test_diagnosis_with_descendants_age_and_lab(db, bank_participants):
    load_vocabulary(db, FIXTURES / "athena", actor=ACTOR)
    import_fhir_text(db, "c.ndjson", ndjson(
        patient("a", "P0001"), patient("b", "P0002", gender="female", birthDate="1962"), patient("c", "P0003"),
        condition("c1", "a", code="254900004", onset="2010-01-01"),  # adenocarcinoma: a descendant
        condition("c2", "b", code="399068003", onset="2020-01-01"),
        condition("c3", "c", code="44054006"),
        observation("o1", "a", value=12.0), observation("o2", "b", value=2.0)), actor=ACTOR)
    exact = ClinicalCriteria(diagnosis="399068003", diagnosis_system="snomed")
    assert participants_with_clinical(db, exact) == {"P0002"}
    tree = ClinicalCriteria(diagnosis="399068003", diagnosis_system="snomed", descendants=True)
    assert participants_with_clinical(db, tree) == {"P0001", "P0002"}
    assert participants_with_clinical(db, ClinicalCriteria(diagnosis="399068003", descendants=True,
                                                           max_age=59)) == {"P0002"}
    assert participants_with_clinical(db, ClinicalCriteria(diagnosis="126906006", descendants=True, lab_code="2857-1",
                                                           lab_comparator=">", lab_value=4.0)) == {"P0001"}
    # among: only these candidates are checked (a cohort's carriers); every criterion still holds
    assert participants_with_clinical(db, tree, among={"P0002", "P0003", "P9999"}) == {"P0002"}
    assert participants_with_clinical(db, tree, among=set()) == set()
    assert participants_with_clinical(db, ClinicalCriteria(), among={"P0003", "P9999"}) == {"P0003"}
    assert participants_with_clinical(db, ClinicalCriteria(diagnosis="399068003", descendants=True, lab_code="2857-1",
                                                           lab_comparator="<", lab_value=4.0),
                                      among={"P0001", "P0002"}) == {"P0002"}


def test_unknown_codes_are_flagged_not_refused(db, bank_participants):
    load_vocabulary(db, FIXTURES / "athena", actor=ACTOR)
    result = import_fhir_text(db, "x.ndjson", ndjson(patient("a", "P0001"), condition("c1", "a", code="1234567"),
                                                     observation("o1", "a", code="1271AAAA")), actor=ACTOR)
    assert result["unknown_codes"]["count"] == 2
    assert {c["code"] for c in result["unknown_codes"]["codes"]} == {"1234567", "1271AAAA"}


def test_eunomia_vocabulary_subset_loads(db, backend):
    if backend != "sqlite":
        pytest.skip("266,588 relationship rows: loaded once, on SQLite, to keep the suite fast")
    result = load_vocabulary(db, SHARED_DATA / "clinical" / "eunomia_synthea27nj_omop54", actor=ACTOR)
    assert result["concepts"] == 2294 and result["ancestors_derived"] >= 2294
