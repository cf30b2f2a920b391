"""The cross-domain cohort: consent, sex, site, specimen availability and a genotype condition together."""

from __future__ import annotations

from datetime import date

import pytest

from lifebank.biobank import service as biobank
from lifebank.errors import Conflict, ValidationFailed
from lifebank.omics import service
from lifebank.omics.service import CohortCriteria

from .conftest import EDGE_VCF

ACTOR = "tester"


@pytest.fixture
def linked(db, tmp_path):
    """Six participants linked to the edge VCF's s1..s6; P1, P2, P4 hold available DNA >= 5 µg."""
    vcf = tmp_path / "edge.vcf"
    vcf.write_text(EDGE_VCF)
    for i in range(1, 7):
        code = f"P{i}"
        biobank.register_participant(db, code, sex="F" if i % 2 else "M", birth_year=1960 + i,
                                     site="SH" if i <= 4 else "BJ", actor=ACTOR)
        biobank.record_consent(db, code, duo_codes="DUO:0000042" if i != 3 else "DUO:0000006",
                               consent_date=date(2024, 1, 2), actor=ACTOR)
    for code, quantity in (("P1", 10.0), ("P2", 5.0), ("P4", 20.0), ("P5", 1.0)):
        biobank.register_specimen(db, None, participant=code, type="DNA", quantity=quantity, actor=ACTOR)
    mapping = "vcf_sample,participant,specimen_barcode\n" + "".join(f"s{i},P{i},\n" for i in range(1, 7))
    service.import_vcf(db, tmp_path / "data", vcf, dataset="edge", actor=ACTOR, sample_map=mapping)
    return tmp_path / "data"


def test_participant_specimen_and_genotype_filters_combine(db, linked):
    # carriers of 1:10 CT>C: s1 (0/1), s2 (1|2), s4 (./1) -> P1, P2, P4
    carriers = CohortCriteria(variant="1:10:CT:C")
    assert [m.participant for m in service.preview_cohort(db, linked, carriers)] == ["P1", "P2", "P4"]
    dna = CohortCriteria(variant="1:10:CT:C", specimen_type="DNA", min_quantity=6)
    assert [m.participant for m in service.preview_cohort(db, linked, dna)] == ["P1", "P4"]
    women_sh = CohortCriteria(consent_code="DUO:0000042", sex="F", site="SH")
    assert [(m.participant, m.vcf_samples) for m in service.preview_cohort(db, linked, women_sh)] == [("P1", ("s1",))]
    # any non-reference allele in a region, only sites with AF below 0.3: 1:20 A>G has AF 3/6, 1:30 G>T AF 3/12
    rare = CohortCriteria(region="1:15-35", max_af=0.3)
    assert [m.participant for m in service.preview_cohort(db, linked, rare)] == ["P4", "P5"]


def test_saved_cohort_is_the_sample_subset_of_an_af_query(db, linked):
    _, members = service.save_cohort(db, linked, "dna carriers", CohortCriteria(variant="1:10", specimen_type="DNA"),
                                     actor=ACTOR)
    assert [m.participant for m in members] == ["P1", "P2", "P4", "P5"]
    assert service.cohort_samples(db, "dna carriers") == ["s1", "s2", "s4", "s5"]
    by_cohort = service.allele_counts(db, linked, "1:1-100", cohort="dna carriers")
    by_samples = service.allele_counts(db, linked, "1:1-100", samples=["s1", "s2", "s4", "s5"])
    assert by_cohort == by_samples
    assert service.get_cohort(db, "dna carriers")["size"] == 4
    with pytest.raises(Conflict):
        service.save_cohort(db, linked, "dna carriers", CohortCriteria(sex="F"), actor=ACTOR)
    with pytest.raises(ValidationFailed, match="at least one criterion"):
        service.preview_cohort(db, linked, CohortCriteria())
