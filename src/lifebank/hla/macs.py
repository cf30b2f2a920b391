"""NMDP multiple-allele codes (MACs): `A*01:AB` stands for `A*01:01/A*01:02`.

Pure. A MAC dictionary maps a code (2-5 letters) to its expansion. A *generic* code lists second fields only
(`AB` = `01/02`) and combines with whatever first field it is written after; a *specific* code lists whole
first:second names (`DEF` = `02:01/03:01`) and ignores the first field it is written after. Two layouts load:
NMDP's `numer.v3.txt` (whitespace-separated `[*] CODE EXPANSION` lines after a header) and Atlas's CSV export
(`Code,...,HLA,...,IsGeneric,...`).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lifebank.messages import Msg

_CODE_RE = re.compile(r"^[A-Z]{2,5}$")
_EXPANSION_RE = re.compile(r"^\d{2,4}(?::\d{2,4})?[NLSQCAE]?(?:/\d{2,4}(?::\d{2,4})?[NLSQCAE]?)*$")


class MacError(ValueError):
    """A MAC file line or a MAC use that cannot be understood; `message` is a catalogue message."""

    def __init__(self, message: str | Msg, /, **params: Any) -> None:
        self.message = message if isinstance(message, Msg) else Msg(message, **params)
        super().__init__(str(self.message))

    def render(self, language: str | None = None) -> str:
        return self.message.render(language)


@dataclass(frozen=True, slots=True)
class MacDictionary:
    codes: Mapping[str, str]  # code -> expansion ("01/02" or "02:01/03:01")

    def __len__(self) -> int:
        return len(self.codes)

    def __contains__(self, code: object) -> bool:
        return code in self.codes

    def expand(self, locus: str, first_field: str, code: str) -> tuple[str, ...]:
        """The allele names `locus*first_field:code` stands for, or MacError when the code is unknown."""
        expansion = self.codes.get(code)
        if expansion is None:
            hint = (Msg("not among the {n} codes loaded", n=f"{len(self.codes):,}") if self.codes
                    else Msg("no MAC dictionary is loaded"))
            raise MacError("unknown multiple-allele code {code!r} in {typing} ({hint}; load NMDP's current list "
                           "with `lifebank hla macs load FILE`)", code=code, typing=f"{locus}*{first_field}:{code}",
                           hint=hint)
        out = []
        for item in expansion.split("/"):
            out.append(f"{locus}*{item}" if ":" in item else f"{locus}*{first_field}:{item}")
        return tuple(out)


def parse_mac_lines(lines: Iterable[str]) -> MacDictionary:
    """Read either layout; lines that do not hold a code and an expansion (headers, comments) are skipped."""
    lines = list(lines)
    head = next((line for line in lines if line.strip() and not line.startswith("#")), "")
    codes: dict[str, str] = {}
    if head.startswith("Code,"):
        reader = csv.DictReader(io.StringIO("".join(line if line.endswith("\n") else line + "\n"
                                                    for line in lines if not line.startswith("#"))))
        for row in reader:
            code, expansion = (row.get("Code") or "").strip(), (row.get("HLA") or "").strip()
            if _CODE_RE.match(code) and _EXPANSION_RE.match(expansion):
                codes[code] = expansion
        return MacDictionary(codes)
    for line in lines:
        parts = line.split()
        if len(parts) >= 2 and _CODE_RE.match(parts[-2]) and _EXPANSION_RE.match(parts[-1]):
            codes[parts[-2]] = parts[-1]
    return MacDictionary(codes)


def load_mac_file(path: Path) -> MacDictionary:
    with Path(path).open(encoding="utf-8") as handle:
        macs = parse_mac_lines(handle)
    if not macs.codes:
        raise MacError("{path} holds no multiple-allele codes (expected NMDP numer.v3.txt or Atlas CSV layout)",
                       path=str(path))
    return macs


EMPTY = MacDictionary({})
