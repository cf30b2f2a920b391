"""The annual human genetic resources (HGR) report (China): holdings by specimen type, new collections,
distributions by recipient, country and purpose, and international cooperation projects, with bilingual
headings, as CSV, Excel (xlsx) or PDF.

Holdings and collections come from the biobank's published counts; distributions and projects from this
domain's shipments and requests. A distribution's diagnosis column names the disease of a disease-specific
(DS) request and the diagnoses the clinical domain records for the donors whose tubes were shipped
(`lifebank.clinical.clinical_timeline`, its conditions), where present. Holdings stay by specimen type: the
clinical domain publishes no bulk "diagnoses of these participants" function, and reading every donor's
timeline for the whole bank is not what an annual report should cost.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

import lifebank.biobank as biobank
from lifebank.access.models import AccessRequest, Allocation, Shipment
from lifebank.access.organisations import bank_country
from lifebank.access.pdf import Section, table_pdf
from lifebank.db.engine import Database
from lifebank.errors import ValidationFailed

FORMATS = ("csv", "xlsx", "pdf")


def report_sections(db: Database, year: int) -> list[Section]:
    """The report's four tables, headings in English and Chinese."""
    if not 2000 <= year <= 2100:
        raise ValidationFailed("year {year} is out of range", year=year)
    start, end = datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)
    holdings = biobank.holdings_by_type(db)
    collected = biobank.collected_by_type(db, start, end)
    with db.session() as session:
        shipped = _distributions(session.execute(
            select(AccessRequest.organisation_name, AccessRequest.recipient_country, AccessRequest.purposes,
                   AccessRequest.disease, Shipment.id, Allocation.participant)
            .join(Shipment, Shipment.request_id == AccessRequest.id)
            .join(Allocation, Allocation.shipment_id == Shipment.id)
            .where(Shipment.shipped_at >= start, Shipment.shipped_at < end)
            .order_by(AccessRequest.organisation_name)).all())
        projects = session.scalars(
            select(AccessRequest).where(AccessRequest.recipient_country != bank_country(),
                                        AccessRequest.created_at < end,
                                        AccessRequest.updated_at >= start)
            .order_by(AccessRequest.id)).all()
        project_rows = [[f"AR-{p.id:06d}", p.title, p.organisation_name, p.recipient_country,
                         p.hgr_approval or "—", p.state] for p in projects]
    return [
        Section("Holdings by specimen type 样本保藏（按样本类型）",
                ["Specimen type 样本类型", "Specimens 样本数", "Participants 捐献者数"], holdings),
        Section(f"New collections in {year} 年度新增采集",
                ["Specimen type 样本类型", "Specimens 样本数", "Participants 捐献者数"], collected),
        Section("Distributions 对外提供",
                ["Recipient 接收单位", "Country 国家", "Purpose (DUO) 用途", "Diagnosis 疾病",
                 "Shipments 发运次数", "Specimens 样本数"],
                [[o, c, p.replace(";", " "), _diagnosis(db, d, donors), len(s), n]
                 for (o, c, p, d), (s, n, donors) in shipped.items()]),
        Section("International cooperation projects 国际合作项目",
                ["Request 申请", "Title 题目", "Partner 合作单位", "Country 国家", "HGR approval 审批号",
                 "State 状态"], project_rows),
    ]


def _distributions(rows: Any) -> dict[tuple[str, str, str, str | None], tuple[set[int], int, set[str]]]:
    """(recipient, country, purposes, disease) -> (shipments, tubes, donors), in the query's order."""
    out: dict[tuple[str, str, str, str | None], tuple[set[int], int, set[str]]] = {}
    for organisation, country, purposes, disease, shipment, participant in rows:
        shipments, tubes, donors = out.get((organisation, country, purposes, disease), (set(), 0, set()))
        shipments.add(shipment)
        donors.add(participant)
        out[(organisation, country, purposes, disease)] = (shipments, tubes + 1, donors)
    return out


def _diagnosis(db: Database, disease: str | None, donors: set[str]) -> str:
    """The DS request's disease, then the shipped donors' recorded diagnoses (code and name, each once)."""
    from lifebank.clinical import clinical_timeline

    found: dict[str, str] = {}
    for code in sorted(donors):
        for record in clinical_timeline(db, code):
            if record["kind"] == "condition" and record["code"]:
                found.setdefault(str(record["code"]), str(record["display"] or ""))
    parts = [f"DS {disease}"] if disease else []
    parts += [f"{code} {name}".strip() for code, name in sorted(found.items())]
    return "; ".join(parts) or "—"


def render_report(db: Database, year: int, fmt: str) -> bytes:
    """The report as `fmt` (csv: the sections one after another, each with its heading row)."""
    if fmt not in FORMATS:
        raise ValidationFailed("format must be one of {allowed}", allowed=", ".join(FORMATS))
    sections = report_sections(db, year)
    title = f"Human genetic resources annual report {year} 人类遗传资源年度报告"
    if fmt == "pdf":
        return table_pdf(title, [f"Bank country 所在国家: {bank_country()}"], sections)
    if fmt == "xlsx":
        return _xlsx(sections)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([title])
    for section in sections:
        writer.writerow([])
        writer.writerow([section.heading])
        writer.writerow(section.headers)
        writer.writerows(section.rows)
    return buffer.getvalue().encode("utf-8-sig")


def _xlsx(sections: list[Section]) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    book.remove(book.active)
    for n, section in enumerate(sections, 1):
        sheet = book.create_sheet(f"{n} " + section.heading.split(" ")[0][:25])
        sheet.append([section.heading])
        sheet.append(list(section.headers))
        for row in section.rows:
            sheet.append([_cell(v) for v in row])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _cell(value: Any) -> Any:
    return value if isinstance(value, (int, float, str)) or value is None else str(value)
