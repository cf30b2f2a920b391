"""Every allele of IPD-IMGT/HLA 3.58.0: our G group, P group and serology against py-ard (NMDP's reference).

py-ard is built offline from the same release files (recipe in shared/data/hla/README.md). Two systematic,
documented differences are checked precisely rather than ignored:

* G groups whose official name (hla_nom_g.txt) starts with an allele IMGT has since deleted: py-ard renames the
  group after its first current member; LifeBank keeps IMGT's published name.
* Serology of null alleles: py-ard reports the antigen of the two-field name (A*01:22N -> A1); LifeBank reports
  none, because a null allele expresses no antigen (WMDA rel_dna_ser gives "0").
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from lifebank.hla.nomenclature import Nomenclature, split_allele
from shared_data import SHARED_DATA

SHARED = SHARED_DATA / "hla"


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"shared test data {path} is not on this machine")
    return path

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ard(tmp_path_factory: pytest.TempPathFactory):
    pyard = pytest.importorskip("pyard")
    release = need(SHARED / "imgthla-3.58.0")
    root = tmp_path_factory.mktemp("imgt")
    latest = root / "Latest"
    (latest / "wmda").mkdir(parents=True)
    (latest / "allelelist").mkdir()
    for name in ("release_version.txt", "Allelelist.txt"):
        shutil.copy(release / name, latest / name)
    shutil.copy(release / "Allelelist.txt", latest / "allelelist" / "Allelelist.3580.txt")
    for path in (release / "wmda").glob("*.txt"):
        shutil.copy(path, latest / "wmda" / path.name)
    data = tmp_path_factory.mktemp("pyard")
    old = os.environ.get("IMGT_HLA_URL")
    os.environ["IMGT_HLA_URL"] = f"file://{root}/"
    try:
        return pyard.init("Latest", data_dir=str(data), load_mac=False)
    finally:
        if old is None:
            os.environ.pop("IMGT_HLA_URL", None)
        else:
            os.environ["IMGT_HLA_URL"] = old


def test_release_has_all_41433_alleles(nom: Nomenclature):
    assert nom.version == "3.58.0"
    assert len(nom.alleles) == 41_433


def test_g_groups_agree_with_pyard(ard, nom: Nomenclature):
    renamed = {}
    for allele in sorted(nom.alleles):
        ours, theirs = nom.g_group_of(allele), ard.redux(allele, "G")
        if ours != theirs:
            renamed[allele] = (ours, theirs)
    # Every difference is a G group py-ard renames after its first listed member (whose name is not the
    # group's: the lead allele was deleted or renamed); the membership itself agrees.
    for allele, (ours, theirs) in renamed.items():
        first = split_allele(nom.g_members[ours][0])
        assert first is not None
        assert theirs.startswith(first.truncated(2)) and theirs.endswith("G") and theirs != ours, (allele, ours)
    assert len(renamed) == 39


def test_p_groups_agree_with_pyard(ard, nom: Nomenclature):
    for allele in sorted(nom.alleles):
        ours = nom.p_group_of(allele)
        # py-ard answers a null allele's P reduction with the allele itself; LifeBank says "no P group".
        assert (ours if ours is not None else allele) == ard.redux(allele, "P"), allele


def test_serology_agrees_with_pyard(ard, nom: Nomenclature):
    null_differences = 0
    for allele in sorted(nom.alleles):
        ours = nom.serology_of.get(allele)
        # For loci without serology py-ard echoes the allele name back.
        theirs = {s for s in ard.redux(allele, "S").split("/") if s and "*" not in s}
        parts = split_allele(allele)
        assert parts is not None
        if parts.suffix in {"N", "Q"} and ours is None and theirs:
            null_differences += 1  # documented: null (and questionable) alleles express no antigen for us
            continue
        if ours is None:
            assert not theirs, allele
        else:
            # py-ard lists the broad with the split (B*15:01 -> B15/B62); ours is the most specific antigen.
            assert ours in theirs, (allele, ours, theirs)
    assert null_differences < 400


def test_release_folder_loads_from_a_copy_and_caches(tmp_path: Path, nom: Nomenclature):
    from lifebank.hla.nomenclature import VENDORED_RELEASE, load_release

    copy = tmp_path / "release"
    shutil.copytree(VENDORED_RELEASE, copy)
    first = load_release(copy, cache_dir=tmp_path / "cache")
    again = load_release(copy, cache_dir=tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir())
    assert first.alleles == again.alleles == nom.alleles


def test_seven_field_rel_dna_ser_loads(tmp_path: Path):
    from lifebank.hla.nomenclature import VENDORED_RELEASE, parse_release

    copy = tmp_path / "release"
    shutil.copytree(VENDORED_RELEASE, copy)
    path = copy / "wmda" / "rel_dna_ser.txt"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(line if line.startswith("#") else line + ";" for line in lines) + "\n")
    assert parse_release(copy).serology_of["A*01:01:01:01"] == "A1"


def test_missing_files_are_named(tmp_path: Path):
    from lifebank.hla.nomenclature import parse_release

    with pytest.raises(FileNotFoundError, match="hla_nom_g.txt"):
        (tmp_path / "Allelelist.txt").write_text("AlleleID,Allele\n")
        parse_release(tmp_path)
