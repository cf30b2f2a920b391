"""The variant browser and the cohort builder in a real browser, over a live server with real data."""

from __future__ import annotations

from datetime import date

import pytest

from lifebank.biobank import service as biobank
from lifebank.omics import service

from .conftest import REAL_VCFS, bcftools, bcftools_pipeline

pytestmark = pytest.mark.browser
CHR22 = next(v for v in REAL_VCFS if "chr22" in v.name)
REGION = "chr22:10510000-10512000"


def _load(live_server, *, link: bool) -> list[str]:
    samples = bcftools("query", "-l", str(CHR22)).split()
    mapping = None
    if link:
        rows = []
        for i, sample in enumerate(samples[:10]):
            code = f"P{i:03d}"
            biobank.register_participant(live_server.db, code, sex="F" if i % 2 else "M", birth_year=1980,
                                         site="SH", actor="t")
            biobank.record_consent(live_server.db, code, duo_codes="DUO:0000042", consent_date=date(2024, 1, 1),
                                   actor="t")
            rows.append(f"{sample},{code},")
        mapping = "vcf_sample,participant,specimen_barcode\n" + "\n".join(rows) + "\n"
    service.import_vcf(live_server.db, live_server.settings.data_dir, CHR22, dataset="kg", actor="t",
                       sample_map=mapping)
    return samples


def test_variant_browser_lists_region_with_af_plot(live_server, page, click_nav):
    _load(live_server, link=False)
    live_server.create_user("researcher", "rita")
    live_server.login(page, "rita")
    click_nav(page, "Variants")
    page.fill("#region", REGION)
    page.click("#variant-search button[type=submit]")
    page.wait_for_selector("#variants")
    expected = bcftools_pipeline(
        f"bcftools view -r {REGION} {CHR22} 2>/dev/null | bcftools norm -m- - 2>/dev/null | "
        "bcftools +fill-tags -- -t AC,AN,AF 2>/dev/null | bcftools query -f '%POS\\t%ALT\\t%AC\\t%AN\\t%AF\\n'"
    ).splitlines()
    rows = page.locator("#variants tbody tr")
    assert rows.count() == len(expected)
    first = rows.first.locator("td").all_inner_texts()
    pos, alt, ac, an, af = expected[0].split("\t")
    assert first[1] == f"chr22:{pos}" and first[4] == alt and first[6:] == [ac, an, af]
    assert page.locator("svg.af-plot line.site").count() == len(expected)
    assert page.locator("#variant-count").inner_text().startswith(f"{len(expected)} variants in {REGION}")


def test_cohort_builder_previews_saves_and_reuses_a_cohort(live_server, page, click_nav):
    samples = _load(live_server, link=True)
    live_server.create_user("researcher", "carl")
    live_server.login(page, "carl")
    click_nav(page, "Cohorts")
    page.fill("#consent_code", "DUO:0000042")
    page.select_option("#sex", "F")
    page.click("#preview-button")
    page.wait_for_selector("#cohort-size")
    assert page.locator("#cohort-size").inner_text() == "5 members"
    page.fill("#name", "consented women")
    page.click("#cohort-form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/omics/cohorts/consented%20women")
    assert page.locator("#cohort-size").inner_text() == "5 members"
    # a researcher outside an approved request reads counts, never the members' participant codes (issue 11)
    assert page.locator("#members").count() == 0
    assert page.locator("#members-hidden").inner_text().startswith("5 members are not listed")
    # reuse it as the AF subset in the browser
    page.goto(f"{live_server.url}/omics/variants?region={REGION}&cohort=consented%20women")
    women = [samples[i] for i in range(1, 10, 2)]
    expected = bcftools_pipeline(
        f"bcftools view -r {REGION} {CHR22} 2>/dev/null | bcftools norm -m- - 2>/dev/null | "
        f"bcftools view -s {','.join(women)} - | bcftools +fill-tags -- -t AC,AN 2>/dev/null | "
        "bcftools query -f '%AC\\t%AN\\n'").splitlines()
    cells = page.locator("#variants tbody tr").evaluate_all(
        "rows => rows.map(r => r.children[6].innerText + '\\t' + r.children[7].innerText)")
    assert cells == expected


def test_cohort_preview_error_is_shown_inline(live_server, page):
    _load(live_server, link=True)
    live_server.create_user("researcher", "pia")
    live_server.login(page, "pia")
    page.goto(f"{live_server.url}/omics/cohorts")
    page.fill("#variant", "chr22:abc")  # not CHR:POS: the service answers with an error
    page.click("#preview-button")
    error = page.locator("#preview #preview-error")
    error.wait_for()
    assert error.inner_text() == "variant 'chr22:abc' is not CHR:POS or CHR:POS:REF:ALT"
    page.fill("#variant", "")
    page.select_option("#sex", "F")
    page.click("#preview-button")
    page.wait_for_selector("#cohort-size")
    assert page.locator("#cohort-size").inner_text() == "5 members"
    assert page.locator("#preview-error").count() == 0


def test_cohort_delete_with_confirmation(live_server, page):
    _load(live_server, link=True)
    live_server.create_user("researcher", "dan")
    live_server.login(page, "dan")
    page.goto(f"{live_server.url}/omics/cohorts")
    page.select_option("#sex", "M")
    page.fill("#name", "men")
    page.click("#cohort-form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/omics/cohorts/men")
    assert not page.locator("#confirm-delete").is_visible()  # behind the "Delete this cohort…" disclosure
    page.click("#delete-cohort summary")
    page.click("#confirm-delete")
    page.wait_for_url(f"{live_server.url}/omics/cohorts?deleted=men")
    assert page.locator("#cohort-deleted").inner_text() == "Cohort men deleted."
    assert page.locator("#cohorts tbody tr.none").count() == 1
    from sqlalchemy import select

    from lifebank.audit.models import LedgerEvent

    with live_server.db.session() as session:
        actions = session.scalars(select(LedgerEvent.action).where(LedgerEvent.entity_id == "men")).all()
    assert actions == ["omics.cohort.create", "omics.cohort.delete"]


def test_gene_outside_the_datasets_contigs_is_explained(live_server, page):
    _load(live_server, link=False)
    live_server.create_user("researcher", "gus", locale="zh_Hans")
    live_server.login(page, "gus")
    page.goto(f"{live_server.url}/omics/variants")
    page.fill("#gene", "BRCA2")
    page.click("#variant-search button[type=submit]")
    error = page.locator("#variant-error")
    error.wait_for()
    assert error.inner_text().startswith("基因 BRCA2 位于 chr13，所有数据集都没有这个重叠群（它们的重叠群：chr22）")
    assert page.locator("#variant-count").count() == 0
