"""Specimen labels: Code128 (python-barcode) or 2D DataMatrix (pyStrich) as PNG; sheets of labels as PDF
(ReportLab). Small 2D codes suit cryovials whose curved side leaves room for a few millimetres only."""

from __future__ import annotations

import io
from collections.abc import Sequence

from barcode import Code128
from barcode.writer import ImageWriter
from pystrich.datamatrix import DataMatrixEncoder

SYMBOLOGIES = ("code128", "datamatrix")


def render_png(barcode: str, symbology: str = "code128") -> bytes:
    """One label as PNG bytes."""
    if symbology == "code128":
        buffer = io.BytesIO()
        Code128(barcode, writer=ImageWriter()).write(
            buffer, options={"module_height": 8.0, "font_size": 7, "text_distance": 3.0, "quiet_zone": 2.0})
        return buffer.getvalue()
    if symbology == "datamatrix":
        return DataMatrixEncoder(barcode).get_imagedata(cellsize=5)
    raise ValueError(f"unknown symbology {symbology!r}; use one of {', '.join(SYMBOLOGIES)}")


def render_pdf(barcodes: Sequence[str], symbology: str = "code128") -> bytes:
    """An A4 sheet (3 columns x 10 rows of labels per page), the barcode text printed beside 2D codes."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    sheet = canvas.Canvas(buffer, pagesize=A4)
    sheet.setTitle("LifeBank specimen labels")
    width, height = A4
    cols, rows = 3, 10
    cell_w, cell_h = (width - 20 * mm) / cols, (height - 20 * mm) / rows
    for i, barcode in enumerate(barcodes):
        slot = i % (cols * rows)
        if i and slot == 0:
            sheet.showPage()
        col, row = slot % cols, slot // cols
        x = 10 * mm + col * cell_w
        y = height - 10 * mm - (row + 1) * cell_h
        image = ImageReader(io.BytesIO(render_png(barcode, symbology)))
        if symbology == "datamatrix":
            side = cell_h - 4 * mm
            sheet.drawImage(image, x + 2 * mm, y + 2 * mm, side, side)
            sheet.setFont("Helvetica", 8)
            sheet.drawString(x + side + 4 * mm, y + cell_h / 2, barcode)
        else:
            sheet.drawImage(image, x + 2 * mm, y + 2 * mm, cell_w - 4 * mm, cell_h - 4 * mm,
                            preserveAspectRatio=True)
    sheet.showPage()
    sheet.save()
    return buffer.getvalue()
