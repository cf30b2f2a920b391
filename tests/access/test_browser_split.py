"""In a real browser: a researcher's request form carries the SPREC and freeze-thaw criteria; the manager splits
a tube at the scan step (typed like a scanner: barcode + Enter) and sees the child aliquot's label."""

from __future__ import annotations

import time

import pytest

from lifebank.access import service

from .access_fixtures import build_bank
from .test_splitting import _in_fulfilment

pytestmark = pytest.mark.browser


def test_criteria_in_the_form_and_a_split_at_the_scan_step(live_server, page):
    page.set_default_timeout(40000)
    bank = build_bank(live_server.db)
    url = live_server.url
    live_server.login(page, "alice")
    page.goto(f"{url}/access/requests/new")
    page.fill("#f-title", "Serum proteomics")
    page.check("input[name=purposes][value='DUO:0000006']")
    page.check("input[name=types][value=SER]")
    page.fill("#f-sprec", "ser-sst")
    page.fill("#f-freeze-thaw", "-2")
    page.click("#submit-request")
    assert "0 or more" in page.inner_text("#form-error")
    assert page.input_value("#f-sprec") == "ser-sst"
    page.fill("#f-freeze-thaw", "1")
    page.click("#submit-request")
    page.wait_for_url(f"{url}/access/requests/*")
    assert page.inner_text("#request-sprec") == "SER-SST" and page.inner_text("#request-freeze-thaw") == "1"
    # The manager splits the first tube of a request in fulfilment.
    request_id, picks = _in_fulfilment(bank)
    page.context.clear_cookies()
    live_server.login(page, "manager")
    page.goto(f"{url}/access/requests/{request_id}/fulfil")
    page.click("#split-box summary")
    page.fill("#split-barcode", picks[0]["barcode"])
    page.press("#split-barcode", "Enter")
    page.wait_for_selector("#split-ok")
    child = next(p["barcode"] for p in service.pick_list(bank.db, request_id, bank.principal("manager"))
                 if p["note"] == f"aliquot of {picks[0]['barcode']}")
    assert child in page.inner_text("#split-ok") and f"{picks[0]['barcode']} stays in the bank" in \
        page.inner_text("#split-ok")
    # the label image loads (waited for: the page can be read before the PNG has arrived; a broken one times out).
    # Polled from Python: wait_for_function evaluates its string with eval() in the page, which the app's
    # Content-Security-Policy (script-src 'self') refuses.
    deadline = time.monotonic() + 40
    while not page.eval_on_selector("#split-label", "img => img.complete && img.naturalWidth > 0"):
        assert time.monotonic() < deadline, "the split's label image did not load"
        page.wait_for_timeout(100)
    assert page.get_attribute(f"#pick-list tr[data-barcode='{child}']", "data-state") == "picked"
    # A wrong tube is refused under the split form.
    page.fill("#split-barcode", "NOT-ON-LIST")
    page.press("#split-barcode", "Enter")
    page.wait_for_selector("#split-error")
    assert "WRONG TUBE" in page.inner_text("#split-error")


def test_a_researcher_reads_a_cohorts_counts_and_only_covered_codes(live_server, page, tmp_path):
    from lifebank.omics import cohorts
    from lifebank.omics import service as omics

    from .test_coverage import VCF, _data_request

    page.set_default_timeout(40000)  # the VCF import shares the machine with the live server
    bank = build_bank(live_server.db)
    vcf = tmp_path / "small.vcf"
    vcf.write_text(VCF)
    mapping = "vcf_sample,participant,specimen_barcode\n" + "".join(f"s{i},P00000{i},\n" for i in range(1, 7))
    omics.import_vcf(bank.db, live_server.settings.data_dir, vcf, dataset="small", actor="t", sample_map=mapping)
    cohorts.save_cohort(bank.db, live_server.settings.data_dir, "sh", cohorts.CohortCriteria(site="SH"), actor="t")
    page.set_viewport_size({"width": 390, "height": 844})
    live_server.login(page, "alice")
    page.goto(f"{live_server.url}/omics/cohorts/sh")
    assert "6 members" in page.inner_text("#cohort-size")
    assert "6 members are not listed" in page.inner_text("#members-hidden")
    assert "P00000" not in page.inner_text("main")
    _data_request(bank)  # Hospital A's approved data request on the cohort
    page.reload()
    listed = page.inner_text("#members")
    assert "P000001" in listed and "P000003" not in listed
    assert "2 members are not listed" in page.inner_text("#members-hidden")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
