"""Printable PDFs of the access domain: the pick list, the shipment manifest (with Code 128 barcodes) and
the HGR annual report. Pure: data in, bytes out (reportlab, already a dependency for labels).

Headings may be bilingual ("Specimen type 样本类型"): text is set in reportlab's built-in CID font
STSong-Light, which covers Chinese and Latin without shipping a font file.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

FONT = "STSong-Light"


@dataclass(frozen=True, slots=True)
class Section:
    heading: str
    headers: Sequence[str]
    rows: Sequence[Sequence[Any]]
    barcode_column: int | None = None  # draw this column's value as a Code 128 barcode too


def _font() -> str:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    return FONT


def table_pdf(title: str, lines: Sequence[str], sections: Sequence[Section]) -> bytes:
    """An A4 document: a title, a few header lines, then each section's table (repeating its header row on
    each new page)."""
    from reportlab.graphics.barcode import code128
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.units import mm
    from reportlab.pdfgen import canvas

    font = _font()
    page_w, page_h = landscape(A4)
    buffer = io.BytesIO()
    sheet = canvas.Canvas(buffer, pagesize=(page_w, page_h))
    sheet.setTitle(title)
    margin = 12 * mm
    y = page_h - margin

    def new_page() -> float:
        sheet.showPage()
        return page_h - margin

    sheet.setFont(font, 14)
    sheet.drawString(margin, y - 14, title)
    y -= 24
    sheet.setFont(font, 9)
    for line in lines:
        sheet.drawString(margin, y - 9, line)
        y -= 12
    y -= 6
    for section in sections:
        columns = max(len(section.headers), 1)
        width = (page_w - 2 * margin) / columns
        row_h = 16 * mm if section.barcode_column is not None else 12

        def header(at: float, section: Section = section, width: float = width) -> float:
            sheet.setFont(font, 10)
            sheet.drawString(margin, at - 12, section.heading)
            at -= 18
            sheet.setFont(font, 8)
            for i, text in enumerate(section.headers):
                sheet.drawString(margin + i * width, at - 8, str(text))
            sheet.line(margin, at - 11, page_w - margin, at - 11)
            return at - 14

        if y < margin + 60:
            y = new_page()
        y = header(y)
        for row in section.rows:
            if y - row_h < margin:
                y = header(new_page())
            sheet.setFont(font, 8)
            for i, value in enumerate(row):
                text = "" if value is None else str(value)
                sheet.drawString(margin + i * width, y - 9, text[:60])
                if i == section.barcode_column and text:
                    code = code128.Code128(text, barHeight=9 * mm, barWidth=0.28 * mm, quiet=False)
                    code.drawOn(sheet, margin + i * width, y - row_h + 2 * mm)
            y -= row_h
        y -= 10
    sheet.showPage()
    sheet.save()
    return buffer.getvalue()
