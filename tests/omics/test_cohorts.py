"""The cross-domain cohort: consent, sex, site, specimen availability and a genotype condition together."""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import select

from lifebank.audit.models import LedgerEvent
from lifebank.biobank import service as biobank
from lifebank.errors import Conflict, NotFound, ValidationFailed
from lifebank.omics import cohorts, service
from lifebank.omics.cohorts import CohortCriteria

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


def test_unknown_specimen_type_or_status_is_refused_naming_field_and_choices(db, linked):
    with pytest.raises(ValidationFailed) as caught:
        CohortCriteria.from_dict({"specimen_type": "BANANA"})
    assert caught.value.detail.startswith("Specimen type (specimen_type): 'BANANA' is not a known value; "
                                          "choose one of BLD, SER,")
    assert "DNA" in caught.value.detail
    assert "样本类型" in caught.value.render("zh_Hans")
    with pytest.raises(ValidationFailed, match=r"specimen_status.*'lost'.*available, reserved"):
        CohortCriteria.from_dict({"specimen_status": "lost"})
    with pytest.raises(ValidationFailed, match="unknown criterion colour"):
        CohortCriteria.from_dict({"colour": "red"})
    assert CohortCriteria.from_dict({"specimen_type": "dna", "sex": "f"}) == CohortCriteria(specimen_type="DNA",
                                                                                            sex="F")


def test_a_cohort_nobody_meets_is_refused_unless_confirmed(db, linked):
    nobody = CohortCriteria(specimen_type="RNA")
    assert service.preview_cohort(db, linked, nobody) == []
    with pytest.raises(ValidationFailed, match="the cohort would have no members"):
        cohorts.save_cohort(db, linked, "nobody", nobody, actor=ACTOR)
    with pytest.raises(NotFound):
        cohorts.get_cohort(db, "nobody")
    _, members = cohorts.save_cohort(db, linked, "nobody", nobody, actor=ACTOR, allow_empty=True)
    assert members == [] and cohorts.get_cohort(db, "nobody")["size"] == 0


def test_deleting_a_cohort_removes_it_and_is_ledgered(db, linked):
    cohorts.save_cohort(db, linked, "women", CohortCriteria(sex="F"), actor=ACTOR)
    gone = cohorts.delete_cohort(db, "women", actor="deleter")
    assert gone["size"] == 3 and gone["criteria"] == {"sex": "F"}
    with pytest.raises(NotFound):
        cohorts.get_cohort(db, "women")
    with pytest.raises(NotFound):
        cohorts.delete_cohort(db, "women", actor="deleter")
    with db.session() as session:
        event = session.scalars(select(LedgerEvent).where(LedgerEvent.action == "omics.cohort.delete")).one()
    assert (event.actor, event.entity_id) == ("deleter", "women")
    # the name is free again
    cohorts.save_cohort(db, linked, "women", CohortCriteria(sex="F"), actor=ACTOR)


def _csrf(client, headers) -> str:
    page = client.get("/omics/cohorts", headers=headers)
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text)[1]


def test_preview_answers_200_with_the_error_so_htmx_shows_it(client, users, db, linked):
    headers = {**users.headers("researcher"), "Accept-Language": "zh-CN"}
    token = _csrf(client, headers)
    answer = client.post("/omics/cohorts/preview", data={"csrf_token": token, "specimen_type": "BANANA"},
                         headers=headers)
    assert answer.status_code == 200
    assert 'id="preview-error"' in answer.text and "BANANA" in answer.text and "样本类型" in answer.text
    fine = client.post("/omics/cohorts/preview", data={"csrf_token": token, "sex": "F"}, headers=headers)
    assert 'id="cohort-size">3 名成员<' in fine.text


def test_builder_offers_known_values_and_save_page_asks_before_saving_empty(client, users, db, linked):
    headers = users.headers("researcher")
    page = client.get("/omics/cohorts", headers=headers).text
    assert '<select id="specimen_type" name="specimen_type">' in page and '<option value="DNA">' in page
    assert '<option value="in_use">in_use · Checked out</option>' in page
    token = _csrf(client, headers)
    refused = client.post("/omics/cohorts", data={"csrf_token": token, "name": "none", "specimen_type": "RNA"},
                          headers=headers)
    assert refused.status_code == 422
    assert "the cohort would have no members" in refused.text and 'name="allow_empty"' in refused.text
    saved = client.post("/omics/cohorts", data={"csrf_token": token, "name": "none", "specimen_type": "RNA",
                                                "allow_empty": "yes"}, headers=headers, follow_redirects=False)
    assert saved.status_code == 303
    cohort = client.get("/omics/cohorts/none", headers=headers).text
    assert "<dt>Specimen type</dt><dd>RNA</dd>" in cohort
    assert "<th>Participant</th>" in cohort and 'class="none"' in cohort


def test_cohort_page_labels_criteria_exports_members_and_deletes(client, users, db, linked):
    cohorts.save_cohort(db, linked, "dna", CohortCriteria(specimen_type="DNA", max_af=0.5, variant="1:10"),
                        actor=ACTOR)
    headers = users.headers("researcher")
    page = client.get("/omics/cohorts/dna", headers=headers).text
    assert "<dt>Only variants with allele frequency below</dt><dd>0.5</dd>" in page
    assert "max_af" not in page
    chinese = client.get("/omics/cohorts/dna", headers={**headers, "Accept-Language": "zh-CN"}).text
    assert "<dd>DNA</dd>" in chinese and "仅计入等位基因频率低于此值的变异" in chinese
    exported = client.get("/omics/cohorts/dna/export", params={"format": "csv"},
                          headers=users.headers("biobank_manager"))
    lines = exported.content.decode("utf-8-sig").splitlines()
    assert lines == ["Participant,VCF samples", "P1,s1", "P2,s2", "P4,s4", "P5,s5"]
    # A researcher outside an approved access request reads counts, never participant codes (issue 11).
    counted = client.get("/omics/cohorts/dna/export", params={"format": "csv"}, headers=headers)
    assert counted.content.decode("utf-8-sig").splitlines() == ["Participant,VCF samples"]
    token = _csrf(client, headers)
    deleted = client.post("/omics/cohorts/dna/delete", data={"csrf_token": token}, headers=headers,
                          follow_redirects=True)
    assert "Cohort dna deleted." in deleted.text
    assert client.get("/omics/cohorts/dna", headers=headers).status_code == 404
    clinician = users.headers("clinician")
    assert client.post("/omics/cohorts/dna/delete", data={"csrf_token": token}, headers=clinician).status_code == 403


def _clinical_ndjson() -> str:
    """P1: adenocarcinoma of prostate (a descendant of 'malignant tumour of prostate') and PSA 12; P2: the
    tumour itself, PSA 2; P4: the tumour, PSA 8; P5: diabetes."""
    import json

    lines = []
    for code, diagnosis, psa in (("P1", "254900004", 12.0), ("P2", "399068003", 2.0), ("P4", "399068003", 8.0),
                                 ("P5", "44054006", 9.0)):
        lines.append({"resourceType": "Patient", "id": f"pat-{code}", "gender": "male", "birthDate": "1950",
                      "identifier": [{"system": "urn:lifebank:participant", "value": code}]})
        lines.append({"resourceType": "Condition", "id": f"c-{code}", "subject": {"reference": f"Patient/pat-{code}"},
                      "code": {"coding": [{"system": "http://snomed.info/sct", "code": diagnosis}]},
                      "onsetDateTime": "2015-01-01"})
        lines.append({"resourceType": "Observation", "id": f"o-{code}", "status": "final",
                      "subject": {"reference": f"Patient/pat-{code}"},
                      "code": {"coding": [{"system": "http://loinc.org", "code": "2857-1"}]},
                      "effectiveDateTime": "2015-01-01", "valueQuantity": {"value": psa, "unit": "ng/mL"}})
    return "".join(json.dumps(r) + "\n" for r in lines)


def test_clinical_criteria_combine_with_consent_specimens_and_genotype(db, linked):
    from pathlib import Path

    from lifebank.clinical.fhir_import import import_fhir_text
    from lifebank.clinical.vocabulary_load import load_vocabulary

    athena = Path(__file__).parents[1] / "clinical" / "fixtures" / "athena"
    load_vocabulary(db, athena, actor=ACTOR)
    import_fhir_text(db, "clinical.ndjson", _clinical_ndjson(), actor=ACTOR)
    tumour = {"diagnosis": "399068003", "diagnosis_system": "snomed"}
    assert [m.participant for m in service.preview_cohort(db, linked, CohortCriteria(**tumour))] == ["P2", "P4"]
    tree = CohortCriteria.from_dict({**tumour, "diagnosis_descendants": "yes"})
    assert [m.participant for m in service.preview_cohort(db, linked, tree)] == ["P1", "P2", "P4"]
    everything = CohortCriteria.from_dict({**tumour, "diagnosis_descendants": "yes", "lab_code": "2857-1",
                                           "lab_comparator": ">", "lab_value": "4", "specimen_type": "DNA",
                                           "consent_code": "DUO:0000042", "variant": "1:10:CT:C",
                                           "max_age_at_diagnosis": "70"})
    members = service.preview_cohort(db, linked, everything)
    assert [(m.participant, m.vcf_samples) for m in members] == [("P1", ("s1",)), ("P4", ("s4",))]
    too_young = CohortCriteria.from_dict({**tumour, "max_age_at_diagnosis": "60"})
    assert service.preview_cohort(db, linked, too_young) == []
    medication = CohortCriteria(medication="310798")
    assert service.preview_cohort(db, linked, medication) == []
    with pytest.raises(ValidationFailed):
        service.preview_cohort(db, linked, CohortCriteria.from_dict({"lab_value": "4"}))
    with pytest.raises(ValidationFailed):
        CohortCriteria.from_dict({"diagnosis": "1", "min_age_at_diagnosis": "old"})


@pytest.mark.parametrize(("region", "options"), [
    ("1:1-1000", {}), ("1:10-10", {"position": 10}), ("1:10-10", {"position": 10, "ref": "CT", "alt": "C"}),
    ("1:10-10", {"position": 10, "ref": "CT", "alt": "G"}), ("1:15-35", {"max_af": 0.3}), ("1:11-11", {}),
    ("2:1-1000", {}), ("2:1-4", {}), ("1:1-1000", {"max_af": 0.01}), ("chr1:1-1000", {})])
def test_cohort_carriers_are_the_stores_carriers(db, linked, region, options):
    """`omics.carriers` (site index, one NumPy reduction, cached) answers what the store's row listing does,
    on the edge VCF: multi-allelic sites, half calls (./1), haploid calls, a deletion spanning a boundary."""
    from lifebank.omics import carriers
    from lifebank.omics.regions import parse_region

    store = service.variant_store(linked)
    refs = service.batch_refs(db, "edge")
    reg = parse_region(region)
    expected = store.carriers(refs, reg, **options)
    assert carriers.carriers(store, refs, reg, **options) == expected
    assert carriers.carriers(store, refs, reg, **options) == expected  # the cached answer
    if region == "1:1-1000" and not options:
        assert expected == {"s1", "s2", "s3", "s4", "s5", "s6"}


def test_cohort_carriers_cache_sees_a_new_batch(db, linked, tmp_path, monkeypatch):
    """A cached answer is keyed by the committed batch list: a second batch's carriers are found at once; long
    regions are read in windows (a site overlapping two windows counts once)."""
    from lifebank.omics import carriers
    from lifebank.omics.regions import parse_region

    monkeypatch.setattr(carriers, "WINDOW_BP", 7)
    store = service.variant_store(linked)
    region = parse_region("1:1-1000")
    before = carriers.carriers(store, service.batch_refs(db, "edge"), region)
    assert before == store.carriers(service.batch_refs(db, "edge"), region)
    second = tmp_path / "second.vcf"
    second.write_text("##fileformat=VCFv4.2\n##contig=<ID=1,length=1000>\n"
                      "##FORMAT=<ID=GT,Number=1,Type=String,Description=\"Genotype\">\n"
                      "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tn1\tn2\n"
                      "1\t500\t.\tA\tG\t.\tPASS\t.\tGT\t0/1\t0/0\n")
    service.import_vcf(db, linked, second, dataset="edge", actor=ACTOR)
    after = carriers.carriers(store, service.batch_refs(db, "edge"), region)
    assert after == before | {"n1"}
    assert after == store.carriers(service.batch_refs(db, "edge"), region)
