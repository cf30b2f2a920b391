"""The omics pages over HTTP: permissions, gene search with the AF plot, errors shown on the page, exports."""

from __future__ import annotations

import csv
import io
import re

from openpyxl import load_workbook

from lifebank.omics import service

CHR22_VCF = ("##fileformat=VCFv4.2\n##contig=<ID=chr22>\n"
             '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
             "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\tS2\n"
             "chr22\t100\trs1\tC\tT\t.\tPASS\t.\tGT\t0/1\t0/0\n"
             "chr22\t200\t.\tG\tA\t.\tPASS\t.\tGT\t1/1\t0/1\n")


def _chr22(tmp_path, settings, db):
    vcf = tmp_path / "chr22.vcf"
    vcf.write_text(CHR22_VCF)
    service.import_vcf(db, settings.data_dir, vcf, dataset="kg22", actor="t")


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
    # the region is named as the dataset names its contigs (chr13), not as the NCBI gene table does (13)
    assert "3 variants in chr13:32315508-32400268." in html
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


def test_gene_on_a_contig_the_dataset_lacks_says_so_in_its_contig_style(client, users, settings, db, tmp_path):
    _chr22(tmp_path, settings, db)
    headers = users.headers("researcher")
    page = client.get("/omics/variants", params={"gene": "BRCA2", "dataset": "kg22"}, headers=headers)
    assert page.status_code == 422
    assert "gene BRCA2 lies on chr13, a contig dataset kg22 does not have (its contigs: chr22)" in page.text
    assert "variants in 13:" not in page.text
    chinese = client.get("/omics/variants", params={"gene": "BRCA2"}, headers={**headers, "Accept-Language": "zh-CN"})
    assert "基因 BRCA2 位于 chr13" in chinese.text


def test_region_and_gene_together_are_refused_not_half_ignored(client, users, settings, db, tmp_path):
    _chr22(tmp_path, settings, db)
    page = client.get("/omics/variants", params={"gene": "BRCA2", "region": "chr22:1-300"},
                      headers=users.headers("researcher"))
    assert page.status_code == 422
    assert "give a region or a gene, not both" in page.text
    assert 'id="variants"' not in page.text


def test_af_plot_has_axis_titles_in_the_readers_language(client, users, settings, db, tmp_path):
    _chr22(tmp_path, settings, db)
    headers = users.headers("researcher")
    english = client.get("/omics/variants", params={"region": "chr22:1-300"}, headers=headers).text
    assert ">Position on chr22 (bp)</text>" in english and ">Allele frequency</text>" in english
    chinese = client.get("/omics/variants", params={"region": "chr22:1-300"},
                         headers={**headers, "Accept-Language": "zh-CN"}).text
    assert ">chr22 上的位置（bp）</text>" in chinese and ">等位基因频率</text>" in chinese


def test_variant_table_header_has_one_cell_per_column(client, users, settings, db, tmp_path):
    _chr22(tmp_path, settings, db)
    html = client.get("/omics/variants", params={"region": "chr22:1-300"}, headers=users.headers("researcher")).text
    table = html[html.index('<table id="variants"'):html.index("</table>")]
    head, body = table.split("<tbody>")
    rows = body.split("</tr>")[:-1]
    assert len(rows) == 2
    assert all(row.count("<td") == len(re.findall(r"<th[ >]", head)) == 9 for row in rows)
    assert head.count('<th class="num">') == 3  # AC, AN, AF right-aligned like their cells


def test_empty_region_keeps_the_header_and_says_none(client, users, settings, db, tmp_path):
    _chr22(tmp_path, settings, db)
    html = client.get("/omics/variants", params={"region": "chr22:5000-6000"}, headers=users.headers("researcher")).text
    assert "0 variants in chr22:5000-6000." in html
    assert "<th>REF</th>" in html and "No variants in this region." in html


def test_variant_list_exports_the_active_query_as_csv_and_xlsx(client, users, settings, db, tmp_path):
    _chr22(tmp_path, settings, db)
    headers = users.headers("researcher")
    page = client.get("/omics/variants", params={"region": "chr22:1-150"}, headers=headers).text
    link = re.search(r'href="(/omics/variants/export\?format=csv[^"]*)"', page)[1].replace("&amp;", "&")
    assert "region=chr22%3A1-150" in link
    rows = list(csv.reader(io.StringIO(client.get(link, headers=headers).content.decode("utf-8-sig"))))
    assert rows == [["Dataset", "Contig", "Position", "ID", "REF", "ALT", "QUAL", "Filter", "AC", "AN", "AF"],
                    ["kg22", "chr22", "100", "rs1", "C", "T", "", "PASS", "1", "4", "0.25"]]
    api = client.get("/api/v1/omics/variants/export", params={"format": "xlsx", "region": "chr22:1-300"},
                     headers=headers)
    assert api.status_code == 200
    sheet = load_workbook(io.BytesIO(api.content)).active
    values = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert values[0][:3] == ["dataset", "chrom", "pos"] and len(values) == 3
    assert values[2][2] == 200 and values[2][8:] == [3, 4, "0.75"]
