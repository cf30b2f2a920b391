"""The `--sample-map` file: `vcf_sample,participant,specimen_barcode`, one VCF sample per row.

Rows are checked all together so the user gets every problem at once (line, column, reason).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from lifebank.errors import RowError, RowsRejected
from lifebank.messages import Msg

COLUMNS = ("vcf_sample", "participant", "specimen_barcode")


class SampleMapInvalid(RowsRejected):
    """A sample map with row-level errors; `.errors` lists every one of them."""

    def __init__(self, errors: list[RowError]) -> None:
        super().__init__(Msg("sample map"), errors, title="Validation failed")


@dataclass(frozen=True, slots=True)
class SampleLink:
    vcf_sample: str
    participant: str | None
    specimen_barcode: str | None
    line: int


def parse_sample_map(text: str) -> list[SampleLink]:
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    rows = list(reader)
    if not rows or [c.strip() for c in rows[0]] != list(COLUMNS):
        raise SampleMapInvalid([RowError(1, "header", Msg("expected the header {header}", header=",".join(COLUMNS)))])
    errors: list[RowError] = []
    links: list[SampleLink] = []
    seen: dict[str, int] = {}
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != 3:
            errors.append(RowError(line, "row", Msg("expected 3 columns, found {found}", found=len(row))))
            continue
        sample, participant, barcode = (cell.strip() for cell in row)
        if not sample:
            errors.append(RowError(line, "vcf_sample", Msg("empty")))
            continue
        if sample in seen:
            errors.append(RowError(line, "vcf_sample", Msg("{sample!r} already mapped on line {line}",
                                                          sample=sample, line=seen[sample])))
            continue
        if not participant and not barcode:
            errors.append(RowError(line, "participant", Msg("give a participant code, a specimen barcode or both")))
            continue
        seen[sample] = line
        links.append(SampleLink(sample, participant or None, barcode or None, line))
    if errors:
        raise SampleMapInvalid(errors)
    return links
