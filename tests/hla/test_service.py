"""Registry use cases on SQLite and PostgreSQL: import (all-or-nothing), update, delete, search, reference data."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from lifebank.audit.models import LedgerEvent
from lifebank.errors import NotFound, RowsRejected, ValidationFailed
from lifebank.hla import service
from lifebank.hla.models import Donor
from shared_data import SHARED_DATA

ATLAS = SHARED_DATA / "hla" / "atlas-testdata"
HEADER = "DonorId,DonorType,A_1,A_2,B_1,B_2,C_1,C_2,DPB1_1,DPB1_2,DQB1_1,DQB1_2,DRB1_1,DRB1_2"
PATIENT = "A*01:01+A*02:01^B*08:01+B*07:02^C*07:01+C*07:02^DRB1*03:01+DRB1*15:01^DQB1*02:01+DQB1*06:02"


def csv_text(*rows: str, header: str = HEADER) -> str:
    return "\n".join([header, *rows]) + "\n"


GOOD = csv_text(
    "D1,adult,*01:01,*02:01,*08:01,*07:02,*07:01,*07:02,NULL,NULL,*02:01,*06:02,*03:01,*15:01",
    "D2,adult,*01:01,*03:01,*08:01,*07:02,NULL,NULL,NULL,NULL,NULL,NULL,*03:01,*15:01",
    "C1,cord,*01:XX,*02:01,*08:01,*07:02,*07:01,*07:02,NULL,NULL,*02:01,*06:02,*03:01,*15:01",
)


def ledger_actions(db) -> list[str]:
    with db.session() as session:
        return session.execute(select(LedgerEvent.action).order_by(LedgerEvent.seq)).scalars().all()


def test_import_then_search_ranks_and_explains(db):
    result = service.import_donors(db, GOOD, actor="tester")
    assert (result.rows, result.added, result.updated) == (3, 3, 0)
    assert ledger_actions(db)[-1] == "hla.donors.import"
    found = service.search(db, PATIENT, max_mismatches=1)
    assert found["total"] == 3
    assert [i["donor_id"] for i in found["items"]] == ["D1", "C1", "D2"]
    assert [i["mismatch_count"] for i in found["items"]] == [0, 0, 1]
    first = found["items"][0]
    assert first["match"] == "10/10" and set(first["loci"]) == {"A", "B", "C", "DPB1", "DQB1", "DRB1"}
    assert first["loci"]["A"]["positions"][0] == {"grade": "protein", "confidence": "exact", "antigen_match": True}
    assert found["items"][2]["loci"]["C"]["untyped"] is True
    cords = service.search(db, PATIENT, max_mismatches=0, donor_type="cord")
    assert [i["donor_id"] for i in cords["items"]] == ["C1"]
    eight = service.search(db, PATIENT, max_mismatches=0, loci="A,B,C,DRB1")
    assert eight["total"] == 2 and eight["items"][0]["match"] == "8/8"


def test_bad_rows_are_all_named_and_nothing_is_written(db):
    bad = csv_text(
        "D1,adult,*01:01,*02:01,*08:01,*07:02,NULL,NULL,NULL,NULL,NULL,NULL,*03:01,*15:01",
        "D2,adult,*02:100,*02:01,*08:01,*07:02,NULL,NULL,NULL,NULL,NULL,NULL,*03:01,*15:01",
        "D1,martian,*01:01,*02:01,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,*03:01,*15:01",
    )
    with pytest.raises(RowsRejected) as caught:
        service.import_donors(db, bad, actor="tester")
    errors = [e.as_dict() for e in caught.value.errors]
    assert errors == [
        {"line": 3, "column": "A_1", "reason": "'A*02:100': A*02:100 was deleted from IPD-IMGT/HLA 3.58.0"},
        {"line": 4, "column": "DonorId", "reason": "D1 repeats line 2"},
        {"line": 4, "column": "DonorType", "reason": "'martian' is not adult/cord (or 1/2)"},
        {"line": 4, "column": "B_1", "reason": "B must be typed (A and B at least)"},
    ]
    with db.session() as session:
        assert session.execute(select(func.count()).select_from(Donor)).scalar_one() == 0


def test_a_donor_typed_under_an_older_release_imports_under_the_current_names(db):
    # A registry's donors keep the names of the release they were typed under; IMGT renamed A*01:34N to
    # A*01:01:38L and DQB1*02:01:10 ("partial of newly named") to DQB1*02:02:15. The import follows both,
    # keeps the typing as sent and lists each rename; a patient typing with an old name is still refused.
    text = csv_text(
        "R1,adult,*01:34N,*02:01,*08:01,*07:02,NULL,NULL,NULL,NULL,*02:01:10,*06:02,*03:01,*15:01",
        "R2,adult,*01:01/01:34N,*02:01,*08:01,*07:02,NULL,NULL,NULL,NULL,NULL,NULL,*03:01,*15:01",
    )
    result = service.import_donors(db, text, actor="tester")
    assert result.added == 2
    assert [(n["line"], n["donor_id"], n["column"], n["typed"], n["current"]) for n in result.renamed] == [
        (2, "R1", "A_1", "A*01:34N", "A*01:01:38L"),
        (2, "R1", "DQB1_1", "DQB1*02:01:10", "DQB1*02:02:15"),
        (3, "R2", "A_1", "A*01:34N", "A*01:01:38L"),
    ]
    assert service.get_donor(db, "R1")["hla"]["A_1"] == "*01:34N"
    found = service.search(db, "A*01:01:38L+A*02:01^B*08:01+B*07:02^DRB1*03:01+DRB1*15:01", max_mismatches=0,
                           loci="A,B,DRB1")
    assert "R1" in [i["donor_id"] for i in found["items"]]
    with pytest.raises(ValidationFailed, match="it is now named A\\*01:01:38L"):
        service.search(db, "A*01:34N+A*02:01^B*08:01+B*07:02^DRB1*03:01+DRB1*15:01", max_mismatches=0)


def test_the_server_builds_the_search_index_when_it_starts(db):
    from lifebank.domains import warm_up

    service.import_donors(db, GOOD, actor="tester")
    service.reset(db)  # as a fresh server process: no index yet
    warm_up(db).join(timeout=120)
    ctx = service.context(db)
    assert ctx.index is not None and len(ctx.index) == 3


def test_gl_string_file_imports(db):
    text = "G1%" + PATIENT + "\nG2%A*01:01+A*02:01^B*08:01+B*07:02^DRB1*03:01+DRB1*15:01\n"
    assert service.import_donors(db, text, actor="tester").added == 2
    assert service.search(db, PATIENT, max_mismatches=0)["total"] == 2
    assert service.get_donor(db, "G2")["hla"]["C_1"] is None


def test_updates_and_deletes_reach_the_index_without_rebuild(db):
    service.import_donors(db, GOOD, actor="tester")
    assert service.search(db, PATIENT, max_mismatches=0)["total"] == 2  # builds the index
    index = service.context(db).index
    service.update_donor(db, "D2", {"A_2": "*02:01"}, actor="tester")
    assert service.search(db, PATIENT, max_mismatches=0)["total"] == 3
    service.delete_donor(db, "D1", actor="tester")
    found = service.search(db, PATIENT, max_mismatches=0)
    assert sorted(i["donor_id"] for i in found["items"]) == ["C1", "D2"]
    assert service.context(db).index is index  # caught up incrementally, not rebuilt
    service.import_donors(db, csv_text(
        "D3,adult,*01:01,*02:01,*08:01,*07:02,NULL,NULL,NULL,NULL,NULL,NULL,*03:01,*15:01"), actor="tester")
    assert service.search(db, PATIENT, max_mismatches=0)["total"] == 3
    assert ledger_actions(db)[-3:] == ["hla.donor.update", "hla.donor.delete", "hla.donors.import"]
    with pytest.raises(NotFound):
        service.delete_donor(db, "D1", actor="tester")
    with pytest.raises(RowsRejected, match="A_1"):
        service.update_donor(db, "D2", {"A_1": "*99:99"}, actor="tester")


def test_reimport_updates_known_donors(db):
    service.import_donors(db, GOOD, actor="tester")
    again = service.import_donors(db, csv_text(
        "D2,adult,*01:01,*02:01,*08:01,*07:02,NULL,NULL,NULL,NULL,NULL,NULL,*03:01,*15:01"), actor="tester")
    assert (again.added, again.updated) == (0, 1)
    assert service.get_donor(db, "D2")["revision"] == 2


def test_search_validation(db):
    for kwargs, message in [({"max_mismatches": 5}, "between 0 and 4"), ({"loci": "A,B,DPB1"}, "DPB1"),
                            ({"donor_type": "child"}, "adult or cord"), ({"loci": "A,B,C"}, "always matched")]:
        with pytest.raises(ValidationFailed, match=message):
            service.search(db, PATIENT, **kwargs)
    with pytest.raises(ValidationFailed, match="patient: 'A\\*99:99'"):
        service.search(db, "A*99:99+A*01:01^B*08:01^DRB1*03:01", max_mismatches=0)


def test_grade_use_case(db):
    out = service.grade(db, PATIENT, "A*01:01+A*02:01^B*08:01+B*07:02^DRB1*03:01+DRB1*15:01")
    assert (out["mismatch_count"], out["match"]) == (0, "10/10")


def test_atlas_donors_import_with_their_mac_dictionary(db):
    if not ATLAS.exists():
        pytest.skip("Atlas test data not on this machine")
    result = service.load_macs(db, ATLAS / "LargeMacDictionary.csv", actor="tester")
    assert result["codes"] == 12_527
    text = (ATLAS / "TestDonorsForUpdatesForSmokeTests.tsv").read_text()
    # Atlas's smoke-test donors (MACs, XX codes, serology, NULLs, typed under an older IMGT release): every one
    # imports; the names IMGT has renamed since are listed, DRB1*02:XX reads as DR2 (DRB1*15/16).
    imported = service.import_donors(db, text, actor="tester")
    assert imported.added == 20_000
    renamed = {(n["typed"], n["current"]) for n in imported.renamed}
    assert ("DQB1*02:01:10", "DQB1*02:02:15") in renamed and ("A*26:166Q", "A*26:166") in renamed
    assert len(imported.renamed) == 129
    found = service.search(db, PATIENT, max_mismatches=2, limit=5)
    assert found["total"] > 0 and len(found["items"]) == 5
    assert found["items"][0]["mismatch_count"] <= found["items"][-1]["mismatch_count"]
    with db.session() as session:
        assert session.execute(select(func.count()).select_from(Donor)).scalar_one() == 20_000
    assert service.index_status(db)["donors"] == 20_000
    # InitialDonors.csv uses 51 codes outside this 2020 subset of NMDP's MAC dictionary (the full list is not
    # available offline); those and only those are reported, each with its line and column.
    _, initial_errors = service.validate_donors(db, (ATLAS / "InitialDonors.csv").read_text())
    assert all("unknown multiple-allele code" in str(e.reason) for e in initial_errors)
    assert len({str(e.reason).split("code ")[1].split(" ")[0] for e in initial_errors}) == 51


def test_atlas_initial_donors_import_with_nmdps_full_mac_list(db):
    # Needs NMDP's whole MAC list, which is not available offline; it runs as soon as the file is dropped into
    # shared/data/hla/nmdp-mac/ (NMDP's numer.v3.txt layout).
    full = sorted((SHARED_DATA / "hla" / "nmdp-mac").glob("numer.v3*.txt"))
    if not full or not ATLAS.exists():
        pytest.skip("NMDP's full MAC list (shared/data/hla/nmdp-mac/numer.v3.txt) is not on this machine: "
                    "InitialDonors.csv uses 51 codes beyond Atlas's 2020 subset")
    service.load_macs(db, full[-1], actor="tester")
    imported = service.import_donors(db, (ATLAS / "InitialDonors.csv").read_text(), actor="tester")
    assert imported.added == 208
    assert service.search(db, PATIENT, max_mismatches=4, limit=1000)["total"] > 0


def test_a_new_mac_dictionary_re_resolves_the_index_without_a_rebuild(db, tmp_path):
    def load(expansions: str) -> None:
        path = tmp_path / "numer.v3.txt"
        path.write_text(expansions)
        service.load_macs(db, path, actor="tester")

    load("*\tAB\t01/02\n")
    donor = "M1,adult,*01:AB,*02:01,*08:01,*07:02,NULL,NULL,NULL,NULL,NULL,NULL,*03:01,*15:01"
    service.import_donors(db, csv_text(donor), actor="tester")
    patient = "A*01:01+A*02:01^B*08:01+B*07:02^DRB1*03:01+DRB1*15:01"
    assert service.search(db, patient, max_mismatches=0, loci="A,B,DRB1")["total"] == 1
    index = service.context(db).index
    load("*\tAB\t03/04\n")  # NMDP never redefines a code; a wrong dictionary being corrected does
    assert service.search(db, patient, max_mismatches=0, loci="A,B,DRB1")["total"] == 0
    found = service.search(db, patient, max_mismatches=1, loci="A,B,DRB1")
    assert found["items"][0]["loci"]["A"]["mismatch_count"] == 1
    load("*\tCD\t01/02\n")  # AB gone: the stored typing no longer parses, the locus counts as untyped
    found = service.search(db, patient, max_mismatches=0, loci="A,B,DRB1")
    assert found["total"] == 1 and found["items"][0]["loci"]["A"]["untyped"] is True
    assert service.context(db).index is index  # re-read the typing texts; no rebuild from the donor table


def test_a_bulk_import_makes_other_processes_rebuild_and_the_change_log_stays_bounded(db, db_url, monkeypatch):
    from lifebank.db.engine import Database
    from lifebank.hla.models import Change

    other = Database(db_url)  # a second process's handle: its own context and index
    try:
        service.import_donors(db, GOOD, actor="tester")
        assert service.search(other, PATIENT, max_mismatches=0)["total"] == 2
        monkeypatch.setattr(service, "BULK_CHANGES", 2)
        more = csv_text("B1,adult,*01:01,*02:01,*08:01,*07:02,NULL,NULL,NULL,NULL,NULL,NULL,*03:01,*15:01",
                        "B2,adult,*01:01,*02:01,*08:01,*07:02,NULL,NULL,NULL,NULL,NULL,NULL,*03:01,*15:01",
                        "B3,adult,*01:01,*02:01,*08:01,*07:02,NULL,NULL,NULL,NULL,NULL,NULL,*03:01,*15:01")
        service.import_donors(db, more, actor="tester")
        with db.session() as session:  # one RELOAD marker instead of three donor rows
            assert session.execute(select(Change.donor_key).order_by(Change.seq.desc())).scalars().first() \
                == service.RELOAD
        before = service.context(other).index
        assert service.search(other, PATIENT, max_mismatches=0)["total"] == 5
        assert service.context(other).index is not before  # rebuilt from the donor table
        # Pruning: the log keeps only the newest rows; a process that was further behind rebuilds.
        behind = service.context(other).index
        monkeypatch.setattr(service, "CHANGE_LOG_KEEP", 2)
        for revision in range(3):
            service.update_donor(db, "B1", {"A_2": ["*03:01", "*11:01", "*02:01"][revision]}, actor="tester")
        with db.session() as session:
            assert session.execute(select(func.count()).select_from(Change)
                                   .where(Change.donor_key != service.REBUILD)).scalar_one() == 2
        assert service.search(other, PATIENT, max_mismatches=0)["total"] == 5  # B1 is A*02:01 again
        assert service.context(other).index is not behind
        service.update_donor(db, "B2", {"A_2": "*03:01"}, actor="tester")  # one change, not behind: applied
        now = service.context(other).index
        assert service.search(other, PATIENT, max_mismatches=0)["total"] == 4
        assert service.context(other).index is now
    finally:
        other.dispose()


def test_nomenclature_release_loads_from_a_folder(db, tmp_path):
    import shutil

    from lifebank.hla.nomenclature import VENDORED_RELEASE

    copy = tmp_path / "imgt"
    shutil.copytree(VENDORED_RELEASE, copy)
    assert service.load_nomenclature(db, copy, actor="tester")["version"] == "3.58.0"
    assert service.context(db).nom.alleles
    with pytest.raises(ValidationFailed, match="missing"):
        service.load_nomenclature(db, tmp_path / "nowhere", actor="tester")


def test_a_mac_dictionary_loaded_by_another_process_reaches_this_index(db, db_url):
    from lifebank.db.engine import Database

    service.import_donors(db, GOOD, actor="tester")
    assert service.search(db, PATIENT, max_mismatches=0)["total"] == 2
    other = Database(db_url)  # a second process's handle: its own context and index
    try:
        import tempfile

        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "numer.v3.txt"
            path.write_text("*\tAB\t01/02\n")
            service.load_macs(other, path, actor="other")
        # this process sees the change log, reloads the dictionary, and can now use the code
        assert service.search(db, PATIENT.replace("A*01:01+", "A*01:AB+"), max_mismatches=0)["total"] == 2
        assert len(service.context(db).macs) == 1
    finally:
        other.dispose()
