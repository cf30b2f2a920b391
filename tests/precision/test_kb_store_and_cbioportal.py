"""The knowledge-base store (load a release folder, all or nothing) and cBioPortal study inputs (study_es_0)."""

from __future__ import annotations

import shutil

import pytest

from lifebank.errors import RowsRejected, ValidationFailed
from lifebank.precision import kb_releases, kb_store
from lifebank.precision.cna_input import parse_segments
from lifebank.precision.fusion_input import parse_fusions
from lifebank.precision.interpret import TumourInputs, interpret
from lifebank.precision.maf_input import parse_maf
from shared_data import SHARED_DATA

from .conftest import FIXTURES

STUDY = SHARED_DATA / "omics" / "cbioportal" / "study_es_0"


def test_a_moalmanac_release_replaces_the_vendored_file_and_a_bad_release_changes_nothing(db, tmp_path):
    release = tmp_path / "moa"
    release.mkdir()
    shutil.copy(kb_store.VENDORED / "moalmanac" / "molecular-oncology-almanac.legacy.json.gz", release)
    shutil.copy(kb_store.VENDORED / "moalmanac" / "LICENSE.moalmanac-db.GPL-2.0.txt", release)
    data = tmp_path / "data"
    loaded = kb_releases.load(db, data, release, actor="curator")
    assert [(s["source"], s["version"]) for s in loaded] == [("moalmanac", "2025-12-26")]
    files = kb_releases.current_files(db, data)
    assert files["moalmanac"].origin == "loaded" and files["hotspots"].origin == "vendored"
    assert files["moalmanac"].loaded_by == "curator"
    assert (files["moalmanac"].path.parent / "LICENSE.moalmanac-db.GPL-2.0.txt").is_file()
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "nightly-ClinicalEvidenceSummaries.tsv").write_text("disease\ttherapies\n")
    with pytest.raises(RowsRejected):
        kb_releases.load(db, data, bad, actor="curator")
    assert "civic" not in kb_releases.current_files(db, data)
    with pytest.raises(ValidationFailed, match="holds no knowledge-base release file"):
        kb_releases.load(db, data, tmp_path, actor="curator")
    assert kb_releases.current_files(db, data)["moalmanac"].version == "2025-12-26"


def test_loaded_civic_evidence_reaches_the_knowledge_base(db, tmp_path):
    release = tmp_path / "civic"
    release.mkdir()
    shutil.copy(FIXTURES / "01-Nov-2026-ClinicalEvidenceSummaries.tsv", release)
    kb_releases.load(db, tmp_path / "data", release, actor="curator")
    kb = kb_releases.knowledge_base(db, tmp_path / "data")
    civic = next(s for s in kb.sources if s.name == "CIViC")
    assert civic.version == "01-Nov-2026" and len(civic.evidence) == 3
    assert any(e.source == "CIViC" for e in kb.by_protein[("BRAF", "p.V600E")])


@pytest.mark.skipif(not STUDY.is_dir(), reason="cBioPortal study_es_0 is a test fixture of ../shared only "
                    "(AGPL-3.0, not redistributed); the MAF/SEG/SV readers are covered by test_inputs.py")
def test_cbioportal_study_es_0_maf_seg_and_structural_variants(kb):
    lines = (STUDY / "data_mutations_extended.maf").read_text().splitlines()
    with pytest.raises(ValidationFailed, match="name one with --sample"):
        parse_maf(lines)
    sample = "TCGA-A1-A0SB-01"
    variants = parse_maf(lines, sample=sample)
    assert variants.genome == "GRCh37" and variants.variants
    assert all(v.protein_change is None or v.protein_change.startswith("p.") for v in variants.variants)
    seg = [line for line in (STUDY / "data_cna_hg19.seg").read_text().splitlines()]
    segments = parse_segments(seg, sample="TCGA-A2-A04P-01")
    assert len(segments) == 9 and parse_segments(seg, sample="TCGA-OTHER-01") == []
    every = parse_fusions((STUDY / "data_structural_variants.txt").read_text().splitlines())
    assert ("TTN", "") in {(f.gene5, f.gene3) for f in every}  # a one-sided event is kept with its gene
    fusions = parse_fusions((STUDY / "data_structural_variants.txt").read_text().splitlines(), sample="TCGA-A2-A04P-01")
    assert ("KIAA1549", "BRAF") in {(f.gene5, f.gene3) for f in fusions}
    content = interpret(TumourInputs("BRCA", variants, segments, fusions), kb)
    assert len(content["variants"]) == len(variants.variants)
    kiaa = next(f for f in content["fusions"] if f["fusion"] == "KIAA1549::BRAF")
    assert kiaa["tier"] in ("I", "II") and kiaa["therapies"]
