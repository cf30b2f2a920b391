"""The printable donor search report (PDF, Chinese or English): what a transplant coordinator files or sends.

Pure: a search answer in, PDF bytes out (reportlab, already a dependency). Every word is a catalogue message
rendered in the reader's language; Chinese and Latin text are set in reportlab's built-in CID font STSong-Light,
so no font file ships. Columns follow the search form's loci (A, B, C, DRB1, DQB1); grades are words, and each
donor's label names the loci actually compared.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from lifebank.messages import N_, Msg, label, register_labels

FONT = "STSong-Light"
FORM_ORDER = ("A", "B", "C", "DRB1", "DQB1")

# Grade words a coordinator reads (the API keeps WMDA's codes).
register_labels("hla_grade", {
    "gdna": N_("same allele (gDNA)"), "cdna": N_("same allele (cDNA)"), "protein": N_("same protein"),
    "g_group": N_("same G group"), "p_group": N_("same P group"), "associated": N_("associated antigen"),
    "split": N_("split antigen"), "broad": N_("broad antigen"), "null_gdna": N_("same null allele"),
    "null_cdna": N_("same null allele (cDNA)"), "null_partial": N_("null, partly the same"),
    "expressing_vs_null": N_("expressed vs null"), "unknown": N_("not typed"), "null_mismatch": N_("null mismatch"),
    "mismatch": N_("mismatch")})


def percent(value: float | None) -> str:
    """A probability as a coordinator reads it: 62 %, <1 %, >99 %, or a dash when unknown."""
    if value is None:
        return "–"
    if 0 < value < 0.005:
        return "<1 %"
    if 0.995 <= value < 1:
        return ">99 %"
    return f"{value * 100:.0f} %"


def locus_words(grade: dict[str, Any] | None, language: str | None) -> str:
    """`same protein / mismatch` for a locus's two positions, `not typed` when untyped."""
    if grade is None:
        return ""
    if grade["untyped"]:
        return label("hla_grade", "unknown", language)
    return " / ".join(label("hla_grade", p["grade"], language) for p in grade["positions"])


def _font() -> str:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    return FONT


def report_pdf(result: dict[str, Any], *, patient: str, parameters: Sequence[tuple[Msg, str]],
               generated: datetime, language: str | None, labels: Sequence[Msg], compress: bool = True) -> bytes:
    """An A4 landscape report: title, patient and search parameters, then one row per donor (ranked)."""
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.units import mm
    from reportlab.pdfgen import canvas

    def t(message: Msg) -> str:
        return message.render(language)

    font = _font()
    page_w, page_h = landscape(A4)
    margin = 12 * mm
    buffer = io.BytesIO()
    sheet = canvas.Canvas(buffer, pagesize=(page_w, page_h), pageCompression=int(compress))
    title = t(Msg("Donor search report"))
    sheet.setTitle(title)
    y = page_h - margin
    sheet.setFont(font, 14)
    sheet.drawString(margin, y - 14, title)
    y -= 26
    sheet.setFont(font, 9)
    sheet.drawString(margin, y - 9, t(Msg("Patient typing: {typing}", typing=patient))[:190])
    y -= 13
    for name, value in parameters:
        sheet.drawString(margin, y - 9, f"{t(name)}: {value}")
        y -= 12
    sheet.drawString(margin, y - 9, t(Msg("Printed {when} (UTC)", when=generated.strftime("%Y-%m-%d %H:%M"))))
    y -= 12
    sheet.drawString(margin, y - 9, t(Msg("{count} donors found; the first {shown} are listed.",
                                          count=result["total"], shown=len(result["items"]))))
    y -= 18
    loci = [locus for locus in FORM_ORDER if locus in result["loci"]]
    eight = "DQB1" not in result["loci"]
    headers = [t(Msg("Rank")), t(Msg("Donor")), t(Msg("Match")), "P(8/8)" if eight else "P(10/10)",
               "P(7/8)" if eight else "P(9/10)", *loci, "ABO", "CMV"]
    widths = [10, 30, 78, 16, 16, *([26] * len(loci)), 10, 16]
    scale = (page_w - 2 * margin) / (sum(widths) * mm)
    xs = [margin]
    for w in widths[:-1]:
        xs.append(xs[-1] + w * mm * scale)

    def header(at: float) -> float:
        sheet.setFont(font, 8)
        for x, text in zip(xs, headers, strict=True):
            sheet.drawString(x, at - 8, text)
        sheet.line(margin, at - 11, page_w - margin, at - 11)
        return at - 14

    y = header(y)
    for rank, (item, match) in enumerate(zip(result["items"], labels, strict=True), start=1):
        if y < margin + 24:
            sheet.showPage()
            y = header(page_h - margin)
        sheet.setFont(font, 7)
        p_top = item.get("p8of8") if eight else item.get("p10of10")
        p_next = item.get("p7of8") if eight else item.get("p9of10")
        cells = [str(rank), item["donor_id"], t(match), percent(p_top), percent(p_next),
                 *(locus_words(item["loci"].get(locus), language) for locus in loci), item.get("abo") or "",
                 item.get("cmv") or ""]
        for x, w, text in zip(xs, widths, cells, strict=True):
            limit = max(int(w * scale * 1.7), 4)  # roughly what fits the column at 7 pt
            sheet.drawString(x, y - 8, text[:limit])
        y -= 12
    sheet.setFont(font, 7)
    sheet.drawString(margin, margin / 2, t(Msg("Probabilities from haplotype frequencies (set {set}); "
                                               "a dash: no frequency set explains the typing.",
                                               set=result.get("patient_frequencies") or "-")))
    sheet.showPage()
    sheet.save()
    return buffer.getvalue()
