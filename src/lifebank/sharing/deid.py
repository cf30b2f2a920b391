"""De-identification of an export: keyed pseudonyms, generalised quasi-identifiers and k-anonymity.

- Pseudonyms are HMAC-SHA-256 of the participant code (or barcode) under a secret key *per recipient*: the
  same person gets the same pseudonym in every file one recipient receives (their analyses can join them),
  a different one for every other recipient (two partners cannot link their files), and only the bank, which
  holds the keys, can map back.
- Quasi-identifiers are generalised: birth year → a 5-year band, collection site → its region, a rare
  diagnosis code → its parent (ICD-10 `C50.9` → `C50`).
- k-anonymity (default k = 5) over (sex, birth band, region, diagnosis): records whose combination fewer
  than k records share are first generalised further (10-year band, diagnosis chapter letter), and those
  still below k are suppressed. The report says what was generalised and how many records were suppressed.

Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import hmac
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

# Regions of the collection sites LifeBank knows (Chinese administrative regions); other sites → "other".
_REGIONS = {
    "East China": ("shanghai", "hangzhou", "nanjing", "suzhou", "hefei", "fuzhou", "jinan", "qingdao", "ningbo",
                   "xiamen", "nanchang", "zhejiang", "jiangsu", "anhui", "fujian", "shandong", "jiangxi"),
    "North China": ("beijing", "tianjin", "shijiazhuang", "taiyuan", "hohhot", "hebei", "shanxi"),
    "Northeast China": ("shenyang", "dalian", "changchun", "harbin", "liaoning", "jilin", "heilongjiang"),
    "Central China": ("wuhan", "changsha", "zhengzhou", "hubei", "hunan", "henan"),
    "South China": ("guangzhou", "shenzhen", "nanning", "haikou", "guangdong", "guangxi", "hainan"),
    "Southwest China": ("chengdu", "chongqing", "kunming", "guiyang", "lhasa", "sichuan", "yunnan", "guizhou"),
    "Northwest China": ("xi'an", "xian", "lanzhou", "xining", "yinchuan", "urumqi", "shaanxi", "gansu"),
    "Hong Kong, Macao, Taiwan": ("hong kong", "macao", "macau", "taipei", "taiwan"),
}
OTHER_REGION = "other"


def pseudonym(key: bytes, kind: str, identifier: str) -> str:
    """`LB-` + 20 hex digits of HMAC-SHA-256(key, kind:identifier): stable per recipient, unlinkable across."""
    digest = hmac.new(key, f"{kind}:{identifier}".encode(), hashlib.sha256).hexdigest()
    return f"LB-{digest[:20]}"


def region_of(site: str | None) -> str:
    text = (site or "").strip().lower()
    for region, places in _REGIONS.items():
        if any(place in text for place in places):
            return region
    return OTHER_REGION


def birth_band(year: int | None, width: int = 5) -> str:
    if year is None:
        return "unknown"
    start = year - year % width
    return f"{start}-{start + width - 1}"


def parent_code(code: str | None) -> str | None:
    """A diagnosis code one level up: ICD-10 `C50.9` → `C50`; `C50` → chapter letter `C`."""
    if not code:
        return None
    if "." in code:
        return code.split(".", 1)[0]
    return code[:1] if len(code) > 1 else code


@dataclass(frozen=True, slots=True)
class Person:
    """One participant as exported (already pseudonymous), its quasi-identifiers last."""

    pseudonym: str
    sex: str
    birth_year: int | None
    region: str
    diagnosis: str | None = None
    extra: tuple[tuple[str, str], ...] = ()

    def key(self, width: int, diagnosis_level: int) -> tuple[str, str, str, str]:
        diagnosis = self.diagnosis
        for _ in range(diagnosis_level):
            diagnosis = parent_code(diagnosis)
        return (self.sex, birth_band(self.birth_year, width), self.region, diagnosis or "")


@dataclass(frozen=True, slots=True)
class Released:
    pseudonym: str
    sex: str
    birth_band: str
    region: str
    diagnosis: str | None
    extra: tuple[tuple[str, str], ...] = ()


@dataclass(slots=True)
class Report:
    k: int
    records_in: int = 0
    released: int = 0
    suppressed: int = 0
    generalised: list[str] = field(default_factory=list)
    further_generalised: int = 0
    rare_diagnoses: int = 0
    consent_refused: int = 0
    consent_reasons: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {"k": self.k, "records_in": self.records_in, "released": self.released,
                "suppressed": self.suppressed, "generalised": self.generalised,
                "further_generalised": self.further_generalised, "rare_diagnoses_to_parent": self.rare_diagnoses,
                "consent_refused": self.consent_refused, "consent_reasons": self.consent_reasons}


def anonymise(people: Sequence[Person], k: int = 5) -> tuple[list[Released], Report]:
    """Generalise, check k-anonymity, suppress what stays below k; the released rows and the report."""
    if k < 2:
        raise ValueError(k)
    report = Report(k=k, records_in=len(people),
                    generalised=["birth year → 5-year band", "collection site → region"])
    # rare diagnosis codes (fewer than k holders) → their parent, before grouping
    counts = Counter(p.diagnosis for p in people if p.diagnosis)
    rare = {code for code, n in counts.items() if n < k}
    if rare:
        report.generalised.append("rare diagnosis code → its parent code")
        report.rare_diagnoses = sum(counts[c] for c in rare)
        people = [replace(p, diagnosis=parent_code(p.diagnosis)) if p.diagnosis in rare else p for p in people]
    first = Counter(p.key(5, 0) for p in people)
    # the wider groups are counted over the records that missed k at the first level only, so that every
    # released wider group itself holds at least k records
    wider = Counter(p.key(10, 1) for p in people if first[p.key(5, 0)] < k)
    released: list[Released] = []
    for p in people:
        if first[p.key(5, 0)] >= k:
            sex, band, region, diagnosis = p.key(5, 0)
        elif wider[p.key(10, 1)] >= k:
            sex, band, region, diagnosis = p.key(10, 1)
            report.further_generalised += 1
        else:
            report.suppressed += 1
            continue
        released.append(Released(p.pseudonym, sex, band, region, diagnosis or None, p.extra))
    if report.further_generalised:
        report.generalised.append("small groups: 10-year band and diagnosis one level up")
    report.released = len(released)
    return released, report


def k_of(rows: Sequence[Released]) -> int:
    """The smallest group size over the released quasi-identifiers (what a reviewer checks)."""
    groups = Counter((r.sex, r.birth_band, r.region, r.diagnosis) for r in rows)
    return min(groups.values()) if groups else 0
