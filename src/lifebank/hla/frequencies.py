"""Haplotype frequency sets: the population statistics match prediction imputes typings with.

Pure. A set is a list of multi-locus haplotypes (`A*02:07g~C*01:02~B*46:01~DRB1*09:01~DQB1*03:03`) with their
frequencies, a name, the population it was estimated in and the *resolution* its allele names are written at.
Three file formats registries and validation exercises exchange are read:

* `haplotype;frequency` (WMDA MVT-3 `freqs.txt`, NMDP's exports), an optional header line;
* NMDP 2007 five-locus CSV (`POP,HLA-A*..~HLA-C*..~..,freq,rank`: EUR, AFA, API, HIS in one file; Maiers 2007);
* `haplotype,count,frequency` (py-graph-imputation's `*.freqs`).

Resolution (`resolution_of`): names ending in a lower-case `g` are *allele groups* - MVT-3's G-group-level names,
or Maiers 2007's Table 1 groups in the NMDP 2007 sets, which are *not* IMGT G groups (`DQB1*02:01g` includes
02:02); `G` and `P` names are IMGT groups; otherwise two-field (or longer) names. Every row is checked and every
bad row is reported with its line and reason (`FrequencyFileError`), so a set is loaded whole or not at all.
"""

from __future__ import annotations

import gzip
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lifebank.hla.nomenclature import split_allele
from lifebank.messages import Msg

# Resolutions a set's names can be written at.
GROUP_g = "g"  # lower-case g: an allele group (MVT-3 G-group-level names, Maiers 2007 groups)
GROUP_G = "G"
GROUP_P = "P"
TWO_FIELD = "two_field"
RESOLUTIONS = (GROUP_g, GROUP_G, GROUP_P, TWO_FIELD)
NMDP_2007_POPULATIONS = ("EUR", "AFA", "API", "HIS")
MAX_ERRORS = 200


@dataclass(frozen=True, slots=True)
class FrequencyRowError:
    line: int
    reason: Msg


class FrequencyFileError(ValueError):
    """A frequency file that cannot be used as a whole: `errors` names each bad line, or `message` the file."""

    def __init__(self, message: Msg, errors: Sequence[FrequencyRowError] = ()) -> None:
        self.message = message
        self.errors = list(errors)
        super().__init__(str(message))


@dataclass(frozen=True, slots=True)
class FrequencySet:
    """One haplotype frequency set. `haplotypes[i]` lists one allele name per locus of `loci`."""

    name: str
    population: str | None
    resolution: str
    loci: tuple[str, ...]
    haplotypes: tuple[tuple[str, ...], ...]
    frequencies: tuple[float, ...]
    registries: tuple[str, ...] = ()
    source: str = ""
    total: float = field(default=0.0)

    def __len__(self) -> int:
        return len(self.haplotypes)

    def normalised(self) -> np.ndarray:
        """Frequencies scaled to sum to 1 (trimmed sets sum to a little less; imputation normalises anyway)."""
        p = np.asarray(self.frequencies, dtype=np.float64)
        s = p.sum()
        return p / s if s > 0 else p

    def haplotype_texts(self) -> list[str]:
        return ["~".join(h) for h in self.haplotypes]


def _clean_name(raw: str) -> str:
    return raw.strip().removeprefix("HLA-")


def resolution_of(names: Iterable[str]) -> str:
    """The coarsest kind of name the set uses: any `g` name makes it a g-group set, then G, then P."""
    kinds = set()
    for name in names:
        if name.endswith("g"):
            kinds.add(GROUP_g)
        elif name.endswith("G"):
            kinds.add(GROUP_G)
        elif name.endswith("P"):
            kinds.add(GROUP_P)
        else:
            kinds.add(TWO_FIELD)
    for kind in (GROUP_g, GROUP_G, GROUP_P):
        if kind in kinds:
            return kind
    return TWO_FIELD


def _check_name(name: str) -> Msg | None:
    bare = name[:-1] if name[-1:] in {"g", "G", "P"} else name
    if split_allele(bare) is None:
        return Msg("{name!r} is not an HLA allele name", name=name)
    return None


def _text_of(path: Path) -> str:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FrequencyFileError(Msg("{path} is not a UTF-8 text file", path=str(path))) from None


def detect_format(text: str) -> str:
    """`semicolon` (hap;freq), `nmdp2007` (POP,hap,freq,rank) or `comma` (hap,count,freq)."""
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if ";" in line:
            return "semicolon"
        parts = line.split(",")
        if len(parts) == 4 and "~" in parts[1]:
            return "nmdp2007"
        if len(parts) == 3 and "~" in parts[0]:
            return "comma"
        if "~" not in line:  # a header line
            continue
        break
    raise FrequencyFileError(Msg("not a haplotype frequency file: expected haplotype;frequency, "
                                 "POP,haplotype,frequency,rank or haplotype,count,frequency lines"))


def parse_frequencies(text: str, *, name: str, population: str | None = None,
                      registries: Sequence[str] = (), source: str = "") -> FrequencySet:
    """Read a whole frequency file; every bad line is collected, and any makes the whole file fail.

    NMDP 2007 files hold four populations: `population` picks one (required when the file holds several).
    """
    fmt = detect_format(text)
    errors: list[FrequencyRowError] = []
    rows: list[tuple[int, str, str]] = []  # (line, haplotype, frequency text)
    populations: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if fmt == "semicolon":
            parts = [p.strip() for p in line.split(";")]
            if len(parts) != 2:
                errors.append(FrequencyRowError(number, Msg("expected haplotype;frequency, found {count} fields",
                                                            count=len(parts))))
                continue
            if "~" not in parts[0] and not _is_number(parts[1]) and not rows:
                continue  # header: "haplotype;frequency"
            rows.append((number, parts[0], parts[1]))
        elif fmt == "comma":
            parts = [p.strip() for p in line.split(",")]
            if len(parts) != 3:
                errors.append(FrequencyRowError(number, Msg("expected haplotype,count,frequency, found {count} "
                                                            "fields", count=len(parts))))
                continue
            if "~" not in parts[0] and not rows:
                continue
            rows.append((number, parts[0], parts[2]))
        else:
            parts = [p.strip() for p in line.split(",")]
            if len(parts) != 4:
                errors.append(FrequencyRowError(number, Msg("expected POP,haplotype,frequency,rank, found {count} "
                                                            "fields", count=len(parts))))
                continue
            populations[parts[0]] = populations.get(parts[0], 0) + 1
            if population is None or parts[0] == population:
                rows.append((number, parts[1], parts[2]))
    if fmt == "nmdp2007":
        if population is None and len(populations) > 1:
            raise FrequencyFileError(Msg("the file holds populations {found}: choose one with --population",
                                         found=", ".join(populations)))
        if population is not None and population not in populations:
            raise FrequencyFileError(Msg("population {population} is not in the file (it holds {found})",
                                         population=population, found=", ".join(populations) or "none"))
        if population is None and populations:
            population = next(iter(populations))
    loci: tuple[str, ...] | None = None
    haplotypes: list[tuple[str, ...]] = []
    frequencies: list[float] = []
    seen: dict[tuple[str, ...], int] = {}
    for number, hap_text, freq_text in rows:
        names = tuple(_clean_name(n) for n in hap_text.split("~"))
        row_loci = tuple(n.partition("*")[0] for n in names)
        bad = next((m for m in (_check_name(n) for n in names) if m is not None), None)
        if bad is not None:
            errors.append(FrequencyRowError(number, bad))
            continue
        if loci is None:
            loci = row_loci
            if len(set(loci)) != len(loci):
                errors.append(FrequencyRowError(number, Msg("a locus appears twice in {haplotype}",
                                                            haplotype=hap_text)))
                loci = None
                continue
        elif row_loci != loci:
            errors.append(FrequencyRowError(number, Msg("loci {found} differ from the first haplotype's {loci}",
                                                        found="~".join(row_loci), loci="~".join(loci))))
            continue
        if not _is_number(freq_text) or not math.isfinite(float(freq_text)) or not 0 <= float(freq_text) <= 1:
            errors.append(FrequencyRowError(number, Msg("frequency {value!r} is not a number from 0 to 1",
                                                        value=freq_text)))
            continue
        if names in seen:
            errors.append(FrequencyRowError(number, Msg("haplotype {haplotype} already listed on line {first}",
                                                        haplotype=hap_text, first=seen[names])))
            continue
        seen[names] = number
        haplotypes.append(names)
        frequencies.append(float(freq_text))
        if len(errors) >= MAX_ERRORS:
            break
    if errors:
        raise FrequencyFileError(Msg("{count} bad line(s) in the frequency file", count=len(errors)), errors)
    if not haplotypes or loci is None:
        raise FrequencyFileError(Msg("the file lists no haplotype"))
    total = float(sum(frequencies))
    if total <= 0:
        raise FrequencyFileError(Msg("the frequencies sum to 0"))
    if total > 1.05:
        raise FrequencyFileError(Msg("the frequencies sum to {total:.4f}, more than 1", total=total))
    all_names = (n for h in haplotypes for n in h)
    return FrequencySet(name=name, population=population, resolution=resolution_of(all_names), loci=loci,
                        haplotypes=tuple(haplotypes), frequencies=tuple(frequencies),
                        registries=tuple(registries), source=source, total=total)


def read_frequency_file(path: Path, *, name: str, population: str | None = None,
                        registries: Sequence[str] = ()) -> FrequencySet:
    return parse_frequencies(_text_of(Path(path)), name=name, population=population, registries=registries,
                             source=Path(path).name)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# -- the vendored sets -----------------------------------------------------------------------------------------
VENDORED_DIR = Path(__file__).parent / "data" / "haplotype-frequencies"
NMDP_2007_FILE = VENDORED_DIR / "NMDP_2007_FiveLocus_Freqs.csv"
# Built-in sets, always available: name -> (population, registries it is the default for).
VENDORED_SETS: dict[str, tuple[str, tuple[str, ...]]] = {
    "NMDP-2007-API": ("API", ("LB", "CN-SH", "CN-ZJ")),
    "NMDP-2007-EUR": ("EUR", ()),
}
DEFAULT_SET = "NMDP-2007-API"


def vendored_set(name: str) -> FrequencySet:
    population, registries = VENDORED_SETS[name]
    return _vendored(name, population, registries)


_VENDORED_CACHE: dict[str, FrequencySet] = {}


def _vendored(name: str, population: str, registries: tuple[str, ...]) -> FrequencySet:
    found = _VENDORED_CACHE.get(name)
    if found is None:
        found = read_frequency_file(NMDP_2007_FILE, name=name, population=population, registries=registries)
        _VENDORED_CACHE[name] = found
    return found


# -- choosing a set ----------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class SetChoice:
    name: str
    reason: str  # "registry", "population", "default"


def choose_set(sets: Sequence[FrequencySet], *, registry: str | None = None, population: str | None = None,
               default: str = DEFAULT_SET) -> SetChoice:
    """The set for one donor or patient, as Atlas chooses: the set named for the donor's registry; else the set
    of the person's population/ethnicity; else the default set. Later-loaded sets win ties (listed last)."""
    if registry:
        for s in reversed(sets):
            if registry in s.registries:
                return SetChoice(s.name, "registry")
    if population:
        for s in reversed(sets):
            if s.population and s.population.casefold() == population.casefold():
                return SetChoice(s.name, "population")
    return SetChoice(default, "default")
