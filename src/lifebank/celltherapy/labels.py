"""ISBT 128 bag labels: each data structure in its own Code 128 symbol with its data identifier, all of them in
one DataMatrix (a compound message, Data Structure 023: '=+' + count + '000'), the DIN eye-readable in its
groups with the check character in a box, the product's description and expiry - as a 100 x 100 mm PDF page
per bag (ReportLab) or ZPL II for Zebra printers. Pure: the data come from `labelling`; the symbols from the
biobank's published `barcode_png`, so every label of LifeBank draws its codes one way.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from lifebank.biobank import barcode_png
from lifebank.celltherapy import isbt128

SIZE_MM = 100.0  # the ISBT 128 base label for cellular therapy bags is 4 x 4 inch
ZPL_DPMM = 8


@dataclass(frozen=True, slots=True)
class BagLabel:
    din: str
    product_code: str  # 8 characters
    description: str
    expires_at: datetime | None
    patient: str  # the pseudonymous participant code: autologous bags are labelled for that patient only
    autologous: bool
    coi: str

    @property
    def din_data(self) -> str:
        return isbt128.parse_din(self.din).barcode_data

    @property
    def product_data(self) -> str:
        return isbt128.parse_product_code(self.product_code).barcode_data

    @property
    def expiry_data(self) -> str | None:
        return isbt128.expiry_data(self.expires_at) if self.expires_at else None

    @property
    def compound(self) -> str:
        parts = [p for p in (self.din_data, self.product_data, self.expiry_data) if p]
        return f"=+{len(parts):02d}000" + "".join(parts)

    @property
    def product_text(self) -> str:
        return f"{self.product_code[:5]} {self.product_code[5]} {self.product_code[6:]}"

    @property
    def expiry_text(self) -> str:
        return f"EXP {self.expires_at:%Y-%m-%d %H:%M} UTC" if self.expires_at else ""

    @property
    def use_text(self) -> str:
        return f"FOR AUTOLOGOUS USE ONLY - patient {self.patient}" if self.autologous else \
            f"Intended recipient {self.patient}"


def render_pdf(labels: Sequence[BagLabel]) -> bytes:
    """One 100 x 100 mm page per bag."""
    from reportlab.lib.units import mm
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    side = SIZE_MM * mm
    buffer = io.BytesIO()
    sheet = canvas.Canvas(buffer, pagesize=(side, side))
    sheet.setTitle("LifeBank ISBT 128 bag labels")
    for label in labels:
        din = isbt128.parse_din(label.din)

        def code(data: str, x: float, y: float, w: float, h: float) -> None:
            sheet.drawImage(ImageReader(io.BytesIO(barcode_png(data, "code128"))), x, y, w, h,
                            preserveAspectRatio=False)

        # upper left: the DIN, its groups and the boxed check character
        code(din.barcode_data, 4 * mm, 80 * mm, 44 * mm, 14 * mm)
        sheet.setFont("Helvetica-Bold", 11)
        sheet.drawString(4 * mm, 74 * mm, din.eye_readable)
        width = sheet.stringWidth(din.eye_readable, "Helvetica-Bold", 11)
        sheet.rect(4 * mm + width + 2 * mm, 73 * mm, 5 * mm, 5 * mm)
        sheet.drawString(4 * mm + width + 3.2 * mm, 74 * mm, din.check)
        # upper right: the product code and description
        code(label.product_data, 52 * mm, 80 * mm, 44 * mm, 14 * mm)
        sheet.setFont("Helvetica-Bold", 10)
        sheet.drawString(52 * mm, 74 * mm, label.product_text)
        sheet.setFont("Helvetica", 7)
        sheet.drawString(52 * mm, 69 * mm, label.description[:60])
        # lower right: expiry
        if label.expiry_data:
            code(label.expiry_data, 52 * mm, 30 * mm, 44 * mm, 12 * mm)
            sheet.setFont("Helvetica", 8)
            sheet.drawString(52 * mm, 26 * mm, label.expiry_text)
        # lower left: the DataMatrix of every structure, the COI and the patient
        sheet.drawImage(ImageReader(io.BytesIO(barcode_png(label.compound, "datamatrix"))), 4 * mm, 26 * mm,
                        30 * mm, 30 * mm)
        sheet.setFont("Helvetica-Bold", 8)
        sheet.drawString(4 * mm, 16 * mm, label.use_text[:70])
        sheet.setFont("Helvetica", 7)
        sheet.drawString(4 * mm, 11 * mm, f"COI {label.coi}")
        sheet.showPage()
    sheet.save()
    return buffer.getvalue()


def _zpl(value: str) -> str:
    return value.replace("^", " ").replace("~", " ")


def render_zpl(labels: Sequence[BagLabel]) -> str:
    """ZPL II, one ^XA…^XZ per bag at 203 dpi: ^BC Code 128 per data structure, ^BX DataMatrix, ^GB the check box."""
    dots = round(SIZE_MM * ZPL_DPMM)
    blocks = []
    for label in labels:
        din = isbt128.parse_din(label.din)
        out = ["^XA", "^CI28", f"^PW{dots}", f"^LL{dots}", "^LH0,0",
               f"^FO30,40^BY2^BCN,110,N,N,N^FD{_zpl(din.barcode_data)}^FS",
               f"^FO30,165^A0N,36,36^FD{_zpl(din.eye_readable)}^FS",
               "^FO300,160^GB44,44,3^FS", f"^FO310,166^A0N,36,36^FD{_zpl(din.check)}^FS",
               f"^FO420,40^BY2^BCN,110,N,N,N^FD{_zpl(label.product_data)}^FS",
               f"^FO420,165^A0N,32,32^FD{_zpl(label.product_text)}^FS",
               f"^FO420,205^A0N,22,22^FD{_zpl(label.description[:40])}^FS",
               f"^FO30,380^BXN,6,200^FD{_zpl(label.compound)}^FS",
               f"^FO30,680^A0N,26,26^FD{_zpl(label.use_text[:60])}^FS",
               f"^FO30,720^A0N,22,22^FD{_zpl('COI ' + label.coi)}^FS"]
        if label.expiry_data:
            out += [f"^FO420,420^BY2^BCN,100,N,N,N^FD{_zpl(label.expiry_data)}^FS",
                    f"^FO420,530^A0N,26,26^FD{_zpl(label.expiry_text)}^FS"]
        out.append("^XZ")
        blocks.append("\n".join(out))
    return "\n".join(blocks) + "\n"
