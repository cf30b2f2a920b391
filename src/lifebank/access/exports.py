"""Files a fulfilment and a shipment hand out: the pick list (PDF for people; CSV or JSON job file for
automated stores) and the shipment manifest (CSV, and PDF with a Code 128 barcode per tube). Pure.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

from lifebank.access.pdf import Section, table_pdf
from lifebank.errors import ValidationFailed

JOB_COLUMNS = ["barcode", "source_rack", "source_position", "target_rack", "target_position"]
MANIFEST_COLUMNS = ["box", "position", "barcode", "specimen_type"]


def _ref(request_id: int) -> str:
    return f"AR-{request_id:06d}"


def job_rows(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The job file: tube barcode, source rack/position, target rack/position (tubes still to pick)."""
    out = []
    for row in rows:
        if row["state"] not in ("allocated", "picked"):
            continue
        rack, _, position = (row["source"] or "").rpartition("/")
        out.append({"barcode": row["barcode"], "source_rack": rack, "source_position": position,
                    "target_rack": row["target_box"], "target_position": row["target_position"]})
    return out


def _csv(columns: Sequence[str], rows: Sequence[dict[str, Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode()


def pick_list_bytes(request_id: int, rows: Sequence[dict[str, Any]], fmt: str) -> bytes:
    """csv / json: the job file; pdf: the printable pick list in storage-path order."""
    if fmt == "csv":
        return _csv(JOB_COLUMNS, job_rows(rows))
    if fmt == "json":
        return json.dumps({"request": _ref(request_id), "tubes": job_rows(rows)}, indent=1).encode()
    if fmt == "pdf":
        table = [[n, r["barcode"], r["specimen_type"], r["source"] or "—", r["target_box"], r["target_position"],
                  "☐" if r["state"] == "allocated" else "✓"] for n, r in enumerate(rows, 1)
                 if r["state"] in ("allocated", "picked")]
        return table_pdf(f"Pick list {_ref(request_id)} 拣选单",
                         ["Ordered by storage path: freezer › rack › box › position 按存储路径排序"],
                         [Section("Tubes 样本管", ["# 序号", "Barcode 条码", "Type 类型", "From 来源位置",
                                                "To box 目标盒", "Position 位置", "Picked 已拣"], table)])
    raise ValidationFailed("format must be one of {allowed}", allowed="csv, json, pdf")


def manifest_bytes(request_id: int, header: dict[str, Any], rows: Sequence[dict[str, Any]], fmt: str) -> bytes:
    """The shipment manifest: csv, or pdf with courier, tracking, temperature, UN3373 and barcodes."""
    if fmt == "csv":
        return _csv(MANIFEST_COLUMNS, rows)
    if fmt == "pdf":
        lines = [f"Recipient 接收单位: {header.get('organisation', '')} ({header.get('country', '')})",
                 f"Courier 承运商: {header.get('courier', '—')}   Tracking 运单号: {header.get('tracking', '—')}",
                 f"Temperature 运输温度: {header.get('temperature', '—')}   "
                 f"UN3373 Category B 生物物质B类: {'yes 是' if header.get('un3373') else 'no 否'}",
                 f"HGR approval 人遗审批号: {header.get('hgr_approval') or '—'}"]
        table = [[r["box"], r["position"], r["barcode"], r["specimen_type"]] for r in rows]
        return table_pdf(f"Shipment manifest {_ref(request_id)} 发运清单", lines,
                         [Section("Tubes 样本管", ["Box 盒", "Position 位置", "Barcode 条码", "Type 类型"], table,
                                  barcode_column=2)])
    raise ValidationFailed("format must be one of {allowed}", allowed="csv, pdf")
