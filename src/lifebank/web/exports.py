"""Every list downloads as CSV or Excel, with the filters the user set, streamed.

One helper for every list (specimens, participants, donors, variants, cohort members, audit events): a
page or API route gathers its filters, hands an iterator of rows to `export_response`, and the user gets
the whole filtered list — not just the page on screen. CSV is written row by row as the client reads it,
so a 10 M-row list never sits in memory. An Excel file is a zip and must be complete before it can be
sent: it is built in a write-only workbook (constant memory, rows go straight to a temporary file) and
then streamed from disk. Excel's sheet limit is 1,048,576 rows; a longer list is refused with a clear
message pointing to CSV rather than silently cut.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from enum import StrEnum
from typing import Any
from urllib.parse import quote

from fastapi.responses import StreamingResponse

from lifebank.errors import ValidationFailed
from lifebank.messages import Msg

EXCEL_MAX_ROWS = 1_048_575  # one sheet, less the header row


class ExportFormat(StrEnum):
    csv = "csv"
    xlsx = "xlsx"


def parse_format(value: str | None) -> ExportFormat:
    """`csv` or `xlsx` (default csv); anything else is a user error naming the choices."""
    try:
        return ExportFormat((value or "csv").lower())
    except ValueError:
        raise ValidationFailed("export format {format!r} is not one of csv, xlsx", format=value) from None


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, Msg):
        return str(value)
    if isinstance(value, list | tuple | set):
        return ";".join(str(v) for v in value)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    return value


def _csv_chunks(columns: Sequence[str], headers: Sequence[str], rows: Iterable[Any]) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write("\ufeff")  # BOM: Excel opens UTF-8 CSV (Chinese text) correctly only with it
    writer.writerow(headers)
    for count, row in enumerate(rows, 1):
        writer.writerow([_cell(_get(row, c)) for c in columns])
        if count % 2000 == 0:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


def _get(row: Any, column: str) -> Any:
    return row.get(column) if isinstance(row, dict) else getattr(row, column, None)


def _xlsx_file(columns: Sequence[str], headers: Sequence[str], rows: Iterable[Any], sheet: str) -> Any:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    worksheet = workbook.create_sheet(title=sheet[:31] or "export")
    worksheet.append(list(headers))
    for count, row in enumerate(rows, 1):
        if count > EXCEL_MAX_ROWS:
            raise ValidationFailed("the list has more than {limit} rows, more than one Excel sheet holds; "
                                   "export it as CSV", limit=f"{EXCEL_MAX_ROWS:,}")
        worksheet.append([_cell(_get(row, c)) for c in columns])
    spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # closed by _file_chunks
    workbook.save(spool)
    spool.seek(0)
    return spool


def _file_chunks(handle: Any) -> Iterator[bytes]:
    try:
        while chunk := handle.read(256 * 1024):
            yield chunk
    finally:
        handle.close()


def export_response(fmt: ExportFormat | str, filename: str, columns: Sequence[str], rows: Iterable[Any], *,
                    headers: Sequence[str] | None = None, sheet: str = "export") -> StreamingResponse:
    """Stream `rows` (dicts or objects with those attributes) as a CSV or xlsx download named `filename`.

    `columns` are the keys read from each row; `headers` the first row the user sees (default: the keys),
    already in the reader's language when the caller wants that. The stem of `filename` gets the extension.
    """
    fmt = parse_format(fmt) if not isinstance(fmt, ExportFormat) else fmt
    shown = list(headers or columns)
    name = f"{filename}.{fmt.value}"
    disposition = {"Content-Disposition": f"attachment; filename=\"{name}\"; filename*=UTF-8''{quote(name)}"}
    if fmt is ExportFormat.csv:
        return StreamingResponse(_csv_chunks(columns, shown, rows), media_type="text/csv; charset=utf-8",
                                 headers=disposition)
    handle = _xlsx_file(columns, shown, rows, sheet)
    return StreamingResponse(
        _file_chunks(handle), headers=disposition,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


__all__ = ["EXCEL_MAX_ROWS", "ExportFormat", "export_response", "parse_format"]
