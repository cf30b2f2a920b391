"""The report as a PDF (English or Simplified Chinese) with reportlab.

Chinese text uses reportlab's built-in CID font STSong-Light (Adobe's Asian font pack names, rendered by the
reader's PDF viewer), so no font file is shipped. One page per tumour in practice: Tier I-II biomarkers with
their therapies, TMB, the count of Tier III/IV variants, knowledge-base versions and the sign-off block.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

from lifebank.messages import Msg


def report_pdf(report: dict[str, Any], gettext: Callable[[str], str], chinese: bool = False) -> bytes:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    _ = gettext
    styles = getSampleStyleSheet()
    font = "Helvetica"
    if chinese:
        pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
        font = "STSong-Light"
        for style in styles.byName.values():
            style.fontName = font  # type: ignore[attr-defined]
    content = report["content"]
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm, topMargin=15 * mm,
                            bottomMargin=15 * mm, title=str(report.get("report") or ""))
    heading = _("Precision oncology report")
    if report.get("report"):
        heading += " " + str(report["report"]) + " v" + str(report["version"])
    story: list[Any] = [Paragraph(heading, styles["Title"])]
    status = _("Final (signed)") if report["status"] == "final" else _("Draft")
    facts = [[_("Participant"), report.get("participant") or "—"], [_("Specimen"), report.get("specimen") or "—"],
             [_("Tumour type"), content["tumour_type"] + " " + content.get("tumour_type_name", "")],
             [_("Status"), status]]
    if content.get("tmb"):
        facts.append([_("TMB"), str(content["tmb"]["value"]) + " " + _("mutations/Mb")])
    story.append(Table(facts, colWidths=[40 * mm, 130 * mm],
                       style=TableStyle([("FONTNAME", (0, 0), (-1, -1), font), ("FONTSIZE", (0, 0), (-1, -1), 9)])))
    story.append(Spacer(1, 4 * mm))
    rows = [[_("Tier"), _("Biomarker"), _("Therapy"), _("Direction"), _("Level"), _("Source")]]
    for item in content["variants"] + content["cna"] + content["fusions"]:
        if item["tier"] not in ("I", "II"):
            continue
        name = item.get("fusion") or " ".join(x for x in (item.get("gene"), item.get("protein_change")
                                                           or item.get("call")) if x)
        for therapy in item["therapies"][:6] or [{"therapy": "—", "direction": "", "amp_level": "", "source": ""}]:
            rows.append([item["tier"], name, Paragraph(therapy["therapy"], styles["BodyText"]),
                         _("sensitivity") if therapy["direction"] == "sensitivity" else _("resistance")
                         if therapy["direction"] else "", therapy["amp_level"], therapy["source"]])
    table = Table(rows, colWidths=[12 * mm, 35 * mm, 60 * mm, 22 * mm, 12 * mm, 25 * mm], repeatRows=1)
    table.setStyle(TableStyle([("FONTNAME", (0, 0), (-1, -1), font), ("FONTSIZE", (0, 0), (-1, -1), 8),
                               ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                               ("BACKGROUND", (0, 0), (-1, 0), colors.lightgrey)]))
    story += [table, Spacer(1, 4 * mm)]
    counts = content["summary"]
    story.append(Paragraph(Msg("{three} variants of unknown significance (Tier III), {four} benign (Tier IV)",
                               three=counts["III"], four=counts["IV"]).render("zh_Hans" if chinese else None),
                           styles["BodyText"]))
    versions = ", ".join(f"{k} {v.get('version', '')}" for k, v in content["knowledge_base"].items())
    story.append(Paragraph(_("Knowledge bases") + ": " + versions, styles["BodyText"]))
    story.append(Paragraph(_("Protein changes come from the input's own annotation; a raw VCF is matched by "
                             "exact genomic allele and otherwise reported at gene level."), styles["BodyText"]))
    if report.get("signed_by"):
        story.append(Paragraph(_("Signed by") + " " + report["signed_by"] + " · "
                               + str(report["signed_at"])[:19] + " · " + str(report["signature_meaning"]),
                               styles["BodyText"]))
    doc.build(story)
    return buffer.getvalue()
