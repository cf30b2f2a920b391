"""The omics pages over HTTP: permissions, gene search with the AF plot, errors shown on the page."""

from __future__ import annotations

from lifebank.omics import service


def _brca2(tmp_path, settings, db):
    vcf = tmp_path / "brca2.vcf"
    vcf.write_text("##fileformat=VCFv4.2\n##contig=<ID=chr13>\n"
                   '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
                   "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\tS2\n"
                   "chr13\t32316000\trs80357713\tC\tT\t.\tPASS\t.\tGT\t0/1\t0/0\n"
                   "chr13\t32390000\t.\tG\tA,C\t.\tPASS\t.\tGT\t./.\t1/2\n")
    service.import_vcf(db, settings.data_dir, vcf, dataset="wgs", actor="t")


def test_gene_search_shows_variants_counts_and_plot(client, users, settings, db, tmp_path):
    _brca2(tmp_path, settings, db)
    page = client.get("/omics/variants", params={"gene": "BRCA2"}, headers=users.headers("clinician"))
    assert page.status_code == 200
    html = page.text
    assert "3 variants in 13:32315508-32400268." in html
    assert html.count('class="site"') == 3
    assert "chr13:32390000 G&gt;A AC=1 AN=2 AF=0.5" in html
    assert "<td>rs80357713</td>" in html


def test_bad_region_is_shown_on_the_page(client, users):
    page = client.get("/omics/variants", params={"region": "chr1:9-2"}, headers=users.headers("researcher"))
    assert page.status_code == 422
    assert "need 1 &lt;= START &lt;= END" in page.text


def test_partner_may_not_open_omics_pages(client, users):
    headers = users.headers("partner")
    assert client.get("/omics/variants", headers=headers).status_code == 403
    assert client.get("/omics/cohorts", headers=headers).status_code == 403
    clinician = users.headers("clinician")
    assert client.get("/omics/cohorts", headers=clinician).status_code == 403
    assert client.get("/omics/variants", headers=clinician).status_code == 200
