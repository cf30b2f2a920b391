"""Specimen labels: Code128 (python-barcode) or 2D DataMatrix (pyStrich) as PNG; labels for the printer as
PDF (ReportLab: a page per label on roll stock, a grid on an A4 sheet) or as ZPL for Zebra printers.

Small 2D codes suit cryovials whose curved side leaves room for a few millimetres only. What prints beside the
code (participant, type, collection date, SPREC) is the manager's label template; the sizes are the common
cryo-label stocks. Pure: no database, no web framework - `label_printing` gathers the data and ledgers prints.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

from barcode import Code128
from barcode.writer import ImageWriter
from pystrich.datamatrix import DataMatrixEncoder

from lifebank.messages import N_

SYMBOLOGIES = ("code128", "datamatrix")
# What a template may print beside the barcode, in print order.
FIELDS = ("participant", "type", "collected", "sprec")
FIELD_LABELS = {"participant": N_("Participant"), "type": N_("Type"), "collected": N_("Collection date"),
                "sprec": N_("SPREC")}
ZPL_DPMM = 8  # 203 dpi, the resolution of most Zebra desktop printers


@dataclass(frozen=True, slots=True)
class Stock:
    """A label stock: one label's size in mm; a sheet has `columns` x `rows` labels on an A4 page."""

    code: str
    name: str
    width_mm: float
    height_mm: float
    columns: int = 1
    rows: int = 1

    @property
    def sheet(self) -> bool:
        return self.columns * self.rows > 1


STOCKS: dict[str, Stock] = {s.code: s for s in (
    Stock("cryo-33x13", N_("Cryo tube label 33 × 13 mm (1.28″ × 0.5″)"), 33.0, 13.0),
    Stock("cryo-25x13", N_("Cryo tube label 25.4 × 12.7 mm (1″ × 0.5″)"), 25.4, 12.7),
    Stock("cryo-38x13", N_("Cryo tube label 38 × 13 mm"), 38.0, 13.0),
    Stock("a4-3x10", N_("A4 sheet, 3 × 10 labels"), 63.3, 27.7, columns=3, rows=10),
)}


@dataclass(frozen=True, slots=True)
class LabelData:
    """What one label can show; the template picks the fields."""

    barcode: str
    participant: str | None = None
    type: str | None = None
    collected: str | None = None  # YYYY-MM-DD
    sprec: str | None = None

    def lines(self, fields: Sequence[str]) -> list[str]:
        values = {"participant": self.participant, "type": self.type, "collected": self.collected,
                  "sprec": self.sprec}
        return [str(values[f]) for f in FIELDS if f in fields and values.get(f)]


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


def _code_image(barcode: str, symbology: str) -> bytes:
    if symbology == "code128":  # bars only: the text is drawn by us, in the space the stock leaves
        buffer = io.BytesIO()
        Code128(barcode, writer=ImageWriter()).write(
            buffer, options={"module_height": 6.0, "write_text": False, "quiet_zone": 1.0})
        return buffer.getvalue()
    return render_png(barcode, symbology)


def render_pdf(labels: Sequence[LabelData | str], symbology: str = "code128", *, stock: str = "a4-3x10",
               fields: Sequence[str] = ()) -> bytes:
    """Labels for the printer: one page per label on roll stock (what thermal printers expect of a PDF), a
    grid of labels per page on an A4 sheet."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.pdfgen import canvas

    size = STOCKS[stock]
    items = [item if isinstance(item, LabelData) else LabelData(item) for item in labels]
    buffer = io.BytesIO()
    page = A4 if size.sheet else (size.width_mm * mm, size.height_mm * mm)
    sheet = canvas.Canvas(buffer, pagesize=page)
    sheet.setTitle("LifeBank specimen labels")
    per_page = size.columns * size.rows
    margin_x = (A4[0] - size.columns * size.width_mm * mm) / 2 if size.sheet else 0
    margin_y = (A4[1] - size.rows * size.height_mm * mm) / 2 if size.sheet else 0
    for i, item in enumerate(items):
        slot = i % per_page
        if i and slot == 0:
            sheet.showPage()
        col, row = slot % size.columns, slot // size.columns
        x = margin_x + col * size.width_mm * mm
        y = page[1] - margin_y - (row + 1) * size.height_mm * mm
        _draw_label(sheet, item, symbology, fields, x, y, size.width_mm * mm, size.height_mm * mm)
    sheet.showPage()
    sheet.save()
    return buffer.getvalue()


def _draw_label(sheet, item: LabelData, symbology: str, fields: Sequence[str], x: float, y: float,  # noqa: ANN001
                width: float, height: float) -> None:
    from reportlab.lib.units import mm
    from reportlab.lib.utils import ImageReader

    pad = 1 * mm
    image = ImageReader(io.BytesIO(_code_image(item.barcode, symbology)))
    fields_text = item.lines(fields)
    if symbology == "datamatrix":
        lines = [item.barcode, *fields_text]
        side = height - 2 * pad
        sheet.drawImage(image, x + pad, y + pad, side, side)
        text_x, top, room, room_w = x + side + 2 * pad, y + height - pad, height - 2 * pad, width - side - 3 * pad
    else:
        # A linear code takes the label's width; the fields share a line or two under it.
        short = item.lines([f for f in fields if f != "sprec"])
        lines = [item.barcode] + ([" · ".join(short)] if short else []) + \
            (item.lines(["sprec"]) if "sprec" in fields else [])
        bars = (height - 2 * pad) * (0.7 if len(lines) == 1 else 0.55 if len(lines) == 2 else 0.45)
        sheet.drawImage(image, x + pad, y + height - pad - bars, width - 2 * pad, bars, preserveAspectRatio=False)
        text_x, top, room, room_w = x + pad, y + height - pad - bars, height - 2 * pad - bars, width - 2 * pad
    font = min(7.0, room / max(len(lines), 1) / 1.15)
    widest = max(sheet.stringWidth(text, "Helvetica", font) for text in lines)
    if widest > room_w:  # shrink to the width too: a long SPREC code must not run off the label
        font = font * room_w / widest
    sheet.setFont("Helvetica", font)
    for n, text in enumerate(lines):
        sheet.drawString(text_x, top - (n + 1) * font * 1.1, text)


def _zpl_text(value: str) -> str:
    """ZPL reads ^ and ~ as commands, even inside ^FD: they are dropped from printed text."""
    return value.replace("^", " ").replace("~", " ")


def render_zpl(labels: Sequence[LabelData | str], symbology: str = "datamatrix", *, stock: str = "cryo-33x13",
               fields: Sequence[str] = ()) -> str:
    """ZPL II for Zebra printers: one ^XA … ^XZ block per label, the barcode in ^BC (Code128) or ^BX
    (DataMatrix) and each chosen field as a ^A0 text line. Sheets are for office printers, so an A4 stock
    is printed on the 33 × 13 mm roll instead."""
    size = STOCKS[stock] if not STOCKS[stock].sheet else STOCKS["cryo-33x13"]
    width, height = round(size.width_mm * ZPL_DPMM), round(size.height_mm * ZPL_DPMM)
    pad = ZPL_DPMM  # 1 mm
    blocks = []
    for item in labels:
        label = item if isinstance(item, LabelData) else LabelData(item)
        lines = [label.barcode, *label.lines(fields)]
        out = ["^XA", "^CI28", f"^PW{width}", f"^LL{height}", "^LH0,0"]
        if symbology == "datamatrix":
            side = height - 2 * pad
            module = max(2, side // 16)
            out.append(f"^FO{pad},{pad}^BXN,{module},200^FD{_zpl_text(label.barcode)}^FS")
            text_x, text_y, room = side + 2 * pad, pad, height - 2 * pad
        else:
            bars = (height - 2 * pad) * 55 // 100
            out.append(f"^FO{pad},{pad}^BY1^BCN,{bars},N,N,N^FD{_zpl_text(label.barcode)}^FS")
            text_x, text_y, room = pad, pad + bars + 2, height - 2 * pad - bars - 2
        font = max(10, min(24, room // max(len(lines), 1)))
        for n, text in enumerate(lines):
            out.append(f"^FO{text_x},{text_y + n * font}^A0N,{font},{font}^FD{_zpl_text(text)}^FS")
        out.append("^XZ")
        blocks.append("\n".join(out))
    return "\n".join(blocks) + "\n"
