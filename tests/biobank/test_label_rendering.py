"""Label rendering without a database: ZPL that a Zebra printer reads (every barcode in a ^FD field of its
own ^XA…^XZ block, nothing that breaks ZPL's syntax), and PDFs in every stock size."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from lifebank.biobank import labels

BARCODE = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-", min_size=1, max_size=24)
FREE_TEXT = st.text(min_size=0, max_size=30).filter(lambda t: "\n" not in t and "\r" not in t)


@given(barcodes=st.lists(BARCODE, min_size=1, max_size=8),
       participant=FREE_TEXT, sprec=FREE_TEXT,
       symbology=st.sampled_from(labels.SYMBOLOGIES), stock=st.sampled_from(list(labels.STOCKS)),
       fields=st.lists(st.sampled_from(labels.FIELDS), unique=True))
def test_zpl_has_one_block_per_label_with_its_barcode_in_a_field(barcodes, participant, sprec, symbology, stock,
                                                                 fields):
    data = [labels.LabelData(b, participant=participant or None, type="SER", collected="2024-03-01",
                             sprec=sprec or None) for b in barcodes]
    zpl = labels.render_zpl(data, symbology, stock=stock, fields=fields)
    blocks = re.findall(r"\^XA(.*?)\^XZ", zpl, re.S)
    assert len(blocks) == len(barcodes)
    code = "^BX" if symbology == "datamatrix" else "^BC"
    for barcode, block in zip(barcodes, blocks, strict=True):
        commands = block.split("^")[1:]
        field_data = [c[2:] for c in commands if c.startswith("FD")]
        assert field_data[0] == barcode  # the symbol's data is the barcode itself
        assert code + "N" in block
        # printed text never carries a caret or tilde, which ZPL would read as commands
        assert all("~" not in text for text in field_data)
        width = int(re.search(r"\^PW(\d+)", block).group(1))
        assert all(int(x) < width for x in re.findall(r"\^FO(\d+),", block))


def test_pdf_in_every_stock_has_one_page_per_roll_label_and_grids_on_a4():
    data = [labels.LabelData(f"LB{i:09d}", "P000001", "SER", "2024-03-01", "SER-SST-A-D-N-B-A") for i in range(31)]
    for stock in labels.STOCKS.values():
        for symbology in labels.SYMBOLOGIES:
            pdf = labels.render_pdf(data, symbology, stock=stock.code, fields=labels.FIELDS)
            assert pdf.startswith(b"%PDF")
            pages = len(re.findall(rb"/Type /Page\b", pdf))
            assert pages == (2 if stock.sheet else 31), (stock.code, symbology, pages)
