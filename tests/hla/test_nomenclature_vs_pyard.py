"""Every allele of IPD-IMGT/HLA 3.58.0: our G group, P group and serology against py-ard (NMDP's reference).

py-ard is built offline from the same release files (recipe in shared/data/hla/README.md); every allele must
give exactly py-ard's answer.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from lifebank.hla.nomenclature import Nomenclature
from lifebank.hla.typing import TypingParser
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
    differ = [a for a in sorted(nom.alleles) if nom.g_group_of(a) != ard.redux(a, "G")]
    assert differ == []


def test_g_groups_named_after_a_deleted_lead_allele_keep_their_published_name_as_an_alias(nom: Nomenclature):
    # hla_nom_g.txt still calls this group C*02:10:01G, but lists C*02:02:37 first; py-ard and LifeBank name it
    # after that member, and the published name is still understood as a typing.
    assert nom.g_group_of("C*02:10:01:01") == "C*02:02:37G"
    assert nom.g_aliases["C*02:10:01G"] == "C*02:02:37G"
    assert len(nom.g_aliases) == 3
    parser = TypingParser(nom)
    assert parser.position("C*02:10:01G").alleles == parser.position("C*02:02:37G").alleles
    assert "C*02:10:01:01" in parser.position("C*02:10:01G").alleles


def test_p_groups_agree_with_pyard(ard, nom: Nomenclature):
    for allele in sorted(nom.alleles):
        ours = nom.p_group_of(allele)
        # py-ard answers a null allele's P reduction with the allele itself; LifeBank says "no P group".
        assert (ours if ours is not None else allele) == ard.redux(allele, "P"), allele


def test_serology_agrees_with_pyard(ard, nom: Nomenclature):
    differ = []
    for allele in sorted(nom.alleles):
        ours = nom.serology_equivalents.get(allele, frozenset())
        # For loci without serology py-ard echoes the allele name back.
        theirs = {s for s in ard.redux(allele, "S").split("/") if s and "*" not in s}
        if ours != theirs:
            differ.append((allele, sorted(ours), sorted(theirs)))
    assert differ == []


def test_a_null_allele_has_serological_equivalents_but_expresses_no_antigen(nom: Nomenclature):
    # A*01:22N is identical to A*01:01 over the ARD, so its equivalent is A1 (as py-ard says); it is still null:
    # matching takes the antigen it expresses, which is none (rel_dna_ser gives 0).
    assert nom.serology_equivalents["A*01:22N"] == {"A1"}
    assert "A*01:22N" not in nom.serology_of
    assert "A*01:22N" not in nom.serology_for_alleles("A1")
    # A split reports its broad too.
    assert nom.serology_equivalents["A*24:02:01:01"] == {"A9", "A24"}
    assert nom.lgx_of("A*24:02:01:01") == "A*24:02"


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
