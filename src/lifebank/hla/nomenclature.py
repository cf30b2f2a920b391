"""HLA nomenclature from an IPD-IMGT/HLA release folder: alleles, G and P groups, serology, DPB1 TCE, renames.

Pure: reads the release's text files and builds dictionaries; no database, no web. The files are the WMDA
set IMGT publishes with each release (`wmda/hla_nom_g.txt`, `hla_nom_p.txt`, `rel_dna_ser.txt`,
`rel_ser_ser.txt`), plus `Allelelist.txt`, `Deleted_alleles.txt`, `Allele_status.txt` (which alleles have a
full genomic sequence, for the gDNA grade) and `tce/dpb_tce.csv`. Release 3.58.0 is vendored
unmodified in `lifebank/hla/data/imgthla-3.58.0`; a newer release folder with the same layout loads the same way
(`rel_dna_ser.txt` gains a 7th field from 3.64.0, which is ignored here).
"""

from __future__ import annotations

import csv
import pickle
import re
from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from lifebank.messages import Msg

VENDORED_RELEASE = Path(__file__).parent / "data" / "imgthla-3.58.0"
CACHE_FORMAT = 3

# Matching loci (WMDA/Atlas): A, B, C, DRB1, DQB1 are scored; DPB1 is graded for TCE permissiveness only.
MATCH_LOCI: tuple[str, ...] = ("A", "B", "C", "DQB1", "DRB1")
ALL_LOCI: tuple[str, ...] = ("A", "B", "C", "DPB1", "DQB1", "DRB1")
EXPRESSION_SUFFIXES = frozenset("NLSQCAE")
NULL_SUFFIX = "N"

# How serology names its loci (rel_dna_ser/rel_ser_ser give bare numbers).
SEROLOGY_PREFIX = {"A": "A", "B": "B", "C": "Cw", "DRB1": "DR", "DQB1": "DQ", "DPB1": "DP",
                   "DRB3": "DR", "DRB4": "DR", "DRB5": "DR"}
_SER_LOCUS = {"A": "A", "B": "B", "Cw": "C", "DR": "DRB1", "DQ": "DQB1", "DP": "DPB1"}

_ALLELE_RE = re.compile(r"^(?P<locus>[A-Z][A-Z0-9]*)\*(?P<fields>\d{2,4}(?::\d{2,4}){0,3})(?P<suffix>[NLSQCAE])?$")
_RENAMED_RE = re.compile(r"(?:renamed|newly named|identical to(?: corrected sequence of)?)\s+"
                         r"([A-Z][A-Z0-9]*\*[0-9:]+[NLSQCAE]?)")


class ReleaseError(ValueError):
    """An IPD-IMGT/HLA release folder that cannot be read; `message` is a catalogue message."""

    def __init__(self, message: str | Msg, /, **params: Any) -> None:
        self.message = message if isinstance(message, Msg) else Msg(message, **params)
        super().__init__(str(self.message))


class ReleaseMissing(ReleaseError, FileNotFoundError):
    """The folder lacks the release files LifeBank reads."""


@dataclass(frozen=True, slots=True)
class AlleleName:
    """An allele name split into its parts: `A*01:01:01:02N` -> locus A, fields (01,01,01,02), suffix N."""

    locus: str
    fields: tuple[str, ...]
    suffix: str

    @property
    def is_null(self) -> bool:
        return self.suffix == NULL_SUFFIX

    def truncated(self, n: int) -> str:
        return f"{self.locus}*{':'.join(self.fields[:n])}"

    def __str__(self) -> str:
        return f"{self.locus}*{':'.join(self.fields)}{self.suffix}"


def split_allele(name: str) -> AlleleName | None:
    """Split a full or truncated allele name, or None when it is not shaped like one."""
    m = _ALLELE_RE.match(name)
    if m is None:
        return None
    return AlleleName(m["locus"], tuple(m["fields"].split(":")), m["suffix"] or "")


@dataclass(frozen=True, slots=True)
class Serology:
    """A serological antigen and where it sits in the broad/split/associated hierarchy (rel_ser_ser)."""

    name: str  # e.g. "A24", "DR15", "B4005"
    locus: str  # molecular locus: A, B, C, DRB1, DQB1, DPB1
    kind: str  # "broad" | "split" | "associated" | "not_split"
    parent: str | None = None  # broad of a split, split (or antigen) of an associated antigen


@dataclass(slots=True)
class Nomenclature:
    """Every lookup matching needs, keyed by full allele name (`A*01:01:01:01`)."""

    version: str
    alleles: frozenset[str]
    g_group: dict[str, str]  # allele -> named G group (alleles in no named G group are absent)
    p_group: dict[str, str]  # expressed allele -> named P group (absent when in none)
    serology_of: dict[str, str]  # allele -> serology antigen name (absent when none is assigned or it is null)
    tce_v2: dict[str, str]  # DPB1 allele -> V2 TCE assignment ("1", "2", "3", "0"; "$" and "a" stripped)
    deleted: dict[str, str | None]  # deleted name -> its new name when IMGT renamed it
    serology: dict[str, Serology]
    g_members: dict[str, tuple[str, ...]] = field(default_factory=dict)
    g_aliases: dict[str, str] = field(default_factory=dict)  # IMGT's published G name -> ours, where they differ
    serology_equivalents: dict[str, frozenset[str]] = field(default_factory=dict)  # allele -> antigens at ARD level
    p_members: dict[str, tuple[str, ...]] = field(default_factory=dict)
    by_prefix: dict[str, tuple[str, ...]] = field(default_factory=dict)  # truncated name -> alleles it covers
    alleles_of_serology: dict[str, tuple[str, ...]] = field(default_factory=dict)
    p_loci: frozenset[str] = frozenset()
    full_gdna: frozenset[str] = frozenset()  # alleles whose whole genomic sequence is known (Allele_status.txt)

    # -- reductions ---------------------------------------------------------------------------------------------
    def g_group_of(self, allele: str) -> str:
        """The allele's G group; an allele in no named G group is its own group (as py-ard reports it)."""
        return self.g_group.get(allele, allele)

    def p_group_of(self, allele: str) -> str | None:
        """The allele's P group, None for a null allele.

        WMDA: an expressed allele in no named P group is its own group; alleles sharing the first two fields
        encode the same protein, so that group is named by the two-field name (py-ard does the same).
        """
        if allele in self.p_group:
            return self.p_group[allele]
        parts = split_allele(allele)
        if parts is None or parts.is_null:
            return None
        if parts.locus not in self.p_loci:  # loci hla_nom_p.txt does not cover (MICA, TAP1, pseudogenes...)
            return allele
        return parts.truncated(2) + (parts.suffix if parts.suffix else "")

    def lgx_of(self, allele: str) -> str:
        """The two-field name of the allele's antigen-recognition domain (py-ard's "lgx").

        Alleles identical over the ARD exons share it: the G group's two-field name, else (for the few
        alleles hla_nom_g.txt leaves ungrouped but hla_nom_p.txt groups) the P group's, else the allele's own.
        """
        group = self.g_group.get(allele) or self.p_group.get(allele)
        parts = split_allele(group[:-1] if group else allele)
        if parts is None:
            return allele
        return parts.truncated(2) + (parts.suffix if group is None and len(parts.fields) <= 2 else "")

    def current_name(self, name: str) -> str | None:
        """The name IMGT now uses for a deleted `name`, following renames of renames; None when there is none."""
        seen = {name}
        new = self.deleted.get(name)
        while new is not None and not self.expand(new) and new in self.deleted and new not in seen:
            seen.add(new)
            new = self.deleted[new]
        return new if new is not None and self.expand(new) else None

    def tce_group_of(self, allele: str) -> str | None:
        return self.tce_v2.get(allele)

    def expand(self, name: str) -> tuple[str, ...]:
        """Every current allele a full or truncated name stands for (`A*01:01` -> all A*01:01:xx[:xx][suffix])."""
        if name in self.alleles:
            return (name,)
        return self.by_prefix.get(name, ())

    def serology_for_alleles(self, antigen: str) -> tuple[str, ...]:
        """Alleles whose assigned serology is `antigen` or, for a broad, one of its splits and their associates."""
        names = [antigen]
        names += [s.name for s in self.serology.values() if s.parent == antigen]
        names += [s.name for s in self.serology.values() if s.parent in names[1:]]
        out: list[str] = []
        for n in dict.fromkeys(names):
            out.extend(self.alleles_of_serology.get(n, ()))
        return tuple(out)


def describe(nom: Nomenclature, name: str) -> dict[str, object] | None:
    """What the release says about a full or truncated allele name, for people checking a typing by hand.

    None when the release never had the name. A deleted name reports its status and IMGT's current name.
    Groups and antigens are lists because a truncated name (`A*01:01`) covers several alleles.
    """
    alleles = nom.expand(name)
    if not alleles:
        if name not in nom.deleted:
            return None
        return {"name": name, "release": nom.version, "status": "deleted", "current_name": nom.current_name(name),
                "alleles": []}
    expressed = [a for a in alleles if not a.endswith(NULL_SUFFIX)]
    return {
        "name": name,
        "release": nom.version,
        "status": "current",
        "current_name": name,
        "alleles": list(alleles),
        "null": not expressed,
        "g_groups": sorted({nom.g_group_of(a) for a in alleles}),
        "p_groups": sorted({p for p in (nom.p_group_of(a) for a in alleles) if p is not None}),
        "lgx": sorted({nom.lgx_of(a) for a in alleles}),
        "expressed_antigens": sorted({nom.serology_of[a] for a in expressed if a in nom.serology_of}),
        "serological_equivalents": sorted({s for a in alleles for s in nom.serology_equivalents.get(a, ())}),
        "dpb1_tce": sorted({t for t in (nom.tce_group_of(a) for a in alleles) if t is not None}),
        "full_gdna_known": sum(1 for a in alleles if a in nom.full_gdna),
    }


def _data_lines(path: Path) -> list[str]:
    with path.open(encoding="utf-8") as handle:
        return [line.rstrip("\n") for line in handle if line.strip() and not line.startswith("#")]


def _version(folder: Path) -> str:
    for line in (folder / "Allelelist.txt").open(encoding="utf-8"):
        if line.startswith("# version:"):
            return line.split("IPD-IMGT/HLA", 1)[-1].strip()
        if not line.startswith("#"):
            break
    return "unknown"


def _groups(path: Path) -> tuple[dict[str, str], dict[str, tuple[str, ...]]]:
    group_of: dict[str, str] = {}
    members: dict[str, tuple[str, ...]] = {}
    for line in _data_lines(path):
        locus, names, group = (line.split(";") + ["", ""])[:3]
        if not group:
            continue
        locus = locus.rstrip("*")
        full = tuple(f"{locus}*{n}" for n in names.split("/"))
        gname = f"{locus}*{group}"
        members[gname] = full
        for allele in full:
            group_of[allele] = gname
    return group_of, members


def g_group_name(members: tuple[str, ...]) -> str:
    """Name a G group after its first listed member, three fields + G (`C*02:02:37G`, `A*02:10:01G`).

    IMGT's published name usually is exactly that, but a few groups keep the name of a lead allele that IMGT
    has since deleted or moved (`C*02:10:01G` now lists `C*02:02:37` first). NMDP's py-ard derives the name
    from the members, and registries exchange those names, so LifeBank reports the same; the published name
    stays accepted as a typing (`Nomenclature.g_aliases`).
    """
    first = split_allele(members[0])
    if first is None:
        raise ReleaseError("G group member {member!r} is not an allele name", member=members[0])
    fields = first.fields if len(first.fields) > 2 else (*first.fields, "01")
    return f"{first.locus}*{':'.join(fields[:3])}G"


def _named_g_groups(path: Path) -> tuple[dict[str, str], dict[str, tuple[str, ...]], dict[str, str]]:
    published_of, published_members = _groups(path)
    aliases = {published: g_group_name(members) for published, members in published_members.items()}
    members = {aliases[published]: full for published, full in published_members.items()}
    group_of = {allele: aliases[published] for allele, published in published_of.items()}
    return group_of, members, {old: new for old, new in aliases.items() if old != new}


def _serology_tree(path: Path) -> dict[str, Serology]:
    """rel_ser_ser: `locus;antigen;splits;associated`. Broad antigens have splits; associated hang off antigens."""
    tree: dict[str, Serology] = {}
    for line in _data_lines(path):
        prefix, antigen, splits, associated = (line.split(";") + ["", "", ""])[:4]
        locus = _SER_LOCUS.get(prefix)
        if locus is None:
            continue
        name = f"{prefix}{antigen}"
        kind = "broad" if splits else tree.get(name, Serology(name, locus, "not_split")).kind
        tree[name] = Serology(name, locus, kind, tree[name].parent if name in tree else None)
        for split in filter(None, splits.split("/")):
            tree[f"{prefix}{split}"] = Serology(f"{prefix}{split}", locus, "split", name)
        for assoc in filter(None, associated.split("/")):
            tree[f"{prefix}{assoc}"] = Serology(f"{prefix}{assoc}", locus, "associated", name)
    return tree


def _rel_dna_ser(path: Path) -> tuple[dict[str, str], dict[str, frozenset[str]]]:
    """rel_dna_ser (`locus*;allele;unambiguous;possible;assumed;expert[;...]`), read once for two views.

    The expressed antigen: the first non-empty column decides ("0" = null, "?" = no serological equivalent
    known; "0/1" (possible) names the antigen it has when expressed). The named antigens: every one the
    unambiguous, possible or assumed column names (not the expert one), as py-ard collects them.
    """
    expressed: dict[str, str] = {}
    named: dict[str, frozenset[str]] = {}
    for line in _data_lines(path):
        cols = line.split(";")
        locus = cols[0].rstrip("*")
        prefix = SEROLOGY_PREFIX.get(locus)
        if prefix is None or len(cols) < 3:
            continue
        allele = f"{locus}*{cols[1]}"
        first = next((value.strip() for value in cols[2:6] if value.strip()), "")
        found = [v for v in first.split("/") if v not in {"0", "?", ""}]
        if found:
            expressed[allele] = f"{prefix}{found[0]}"
        antigens = {f"{prefix}{v.strip()}" for value in cols[2:5] for v in value.split("/")
                    if v.strip() not in {"0", "?", ""}}
        if antigens:
            named[allele] = frozenset(antigens)
    return expressed, named


def _serology_equivalents(nom: Nomenclature, named: dict[str, frozenset[str]]) -> dict[str, frozenset[str]]:
    """Each allele's serological equivalents, with the broad of every split, as NMDP's py-ard reduces them.

    A name of three or more fields reports the antigens of its own rel_dna_ser row. A two-field name is also
    how an ARD-level typing is written, so it reports every antigen seen on that antigen-recognition domain
    (`A*01:22N` -> A1, because its ARD is A*01:01's). These are equivalents for reporting and exchange; matching
    uses `serology_of`, under which a null allele expresses nothing.
    """
    broad_of = {name: s.parent for name, s in nom.serology.items() if s.kind == "split" and s.parent}
    by_ard: dict[str, set[str]] = defaultdict(set)
    for allele, antigens in named.items():
        by_ard[nom.lgx_of(allele)] |= antigens
    out: dict[str, frozenset[str]] = {}
    for allele in nom.alleles:
        parts = split_allele(allele)
        if parts is None:
            continue
        antigens = by_ard.get(nom.lgx_of(allele), set()) if len(parts.fields) == 2 else named.get(allele, set())
        if antigens:
            out[allele] = frozenset(antigens) | {broad_of[a] for a in antigens if a in broad_of}
    return out


def _tce(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    with path.open(encoding="utf-8") as handle:
        rows = csv.DictReader(line for line in handle if not line.startswith("#"))
        for row in rows:
            v2 = (row.get("V2_Assignment") or "").strip().rstrip("$")
            if v2:
                out[row["Allele"]] = v2[0]  # "2a" is a sub-group of TCE 2
    return out


def _deleted(path: Path, history: Path) -> dict[str, str | None]:
    """Deleted names and, where IMGT gave one, the name that replaced each.

    Deleted_alleles.txt says it in prose ("... identical to A*02:01:84", "... partial of newly named
    DQB1*02:02:15"); wmda/hla_nom.txt, where a release folder has it, says it as a field
    (`locus*;name;assigned;deleted;identical_to;reason`), which wins where it names one. Only current-style
    names (with colons) are taken from it.
    """
    out: dict[str, str | None] = {}
    if path.is_file():
        with path.open(encoding="utf-8") as handle:
            rows = csv.DictReader(line for line in handle if not line.startswith("#"))
            for row in rows:
                m = _RENAMED_RE.search(row.get("Description") or "")
                out[row["Allele"]] = m.group(1) if m else None
    if history.is_file():
        for line in _data_lines(history):
            cols = (line.split(";") + [""] * 5)[:5]
            if not cols[0].endswith("*") or not cols[3]:
                continue
            if ":" not in cols[1]:
                continue
            locus = cols[0].rstrip("*")
            name = f"{locus}*{cols[1]}"
            out[name] = f"{locus}*{cols[4]}" if cols[4] else out.get(name)
    return out


def _full_gdna(path: Path) -> frozenset[str]:
    """Allele_status.txt: `Allele,...,Partial,Type`; `Full` + `gDNA` means the whole gene was sequenced."""
    with path.open(encoding="utf-8") as handle:
        rows = csv.DictReader(line for line in handle if not line.startswith("#"))
        return frozenset(row["Allele"] for row in rows if row.get("Partial") == "Full" and row.get("Type") == "gDNA")


def _allele_names(path: Path) -> frozenset[str]:
    with path.open(encoding="utf-8") as handle:
        rows = csv.DictReader(line for line in handle if not line.startswith("#"))
        return frozenset(row["Allele"] for row in rows)


def _prefix_index(alleles: frozenset[str]) -> dict[str, tuple[str, ...]]:
    """Every truncation of every allele name, with and without its expression suffix, to the alleles it covers."""
    index: dict[str, list[str]] = defaultdict(list)
    for allele in sorted(alleles):
        parts = split_allele(allele)
        if parts is None:
            continue
        for n in range(1, len(parts.fields)):
            index[parts.truncated(n)].append(allele)
            if parts.suffix:
                index[parts.truncated(n) + parts.suffix].append(allele)
        if parts.suffix:  # "A*01:04:01:01" without its N still names the null allele
            index[parts.truncated(len(parts.fields))].append(allele)
    return {k: tuple(v) for k, v in index.items()}


def parse_release(folder: Path) -> Nomenclature:
    """Read one IPD-IMGT/HLA release folder (Allelelist.txt at its root, WMDA files under wmda/)."""
    folder = Path(folder)
    required = ["Allelelist.txt", "wmda/hla_nom_g.txt", "wmda/hla_nom_p.txt", "wmda/rel_dna_ser.txt",
                "wmda/rel_ser_ser.txt"]
    missing = [name for name in required if not (folder / name).is_file()]
    if missing:
        raise ReleaseMissing("{folder} is not an IPD-IMGT/HLA release folder: missing {files}", folder=str(folder),
                             files=", ".join(missing))
    alleles = _allele_names(folder / "Allelelist.txt")
    g_group, g_members, g_aliases = _named_g_groups(folder / "wmda" / "hla_nom_g.txt")
    p_group, p_members = _groups(folder / "wmda" / "hla_nom_p.txt")
    serology_of, serology_named = _rel_dna_ser(folder / "wmda" / "rel_dna_ser.txt")
    tree = _serology_tree(folder / "wmda" / "rel_ser_ser.txt")
    by_serology: dict[str, list[str]] = defaultdict(list)
    for allele, antigen in serology_of.items():
        by_serology[antigen].append(allele)
        if antigen not in tree:
            parts = split_allele(allele)
            if parts is not None:
                tree[antigen] = Serology(antigen, parts.locus, "not_split")
    tce_path = folder / "tce" / "dpb_tce.csv"
    deleted_path = folder / "Deleted_alleles.txt"
    status_path = folder / "Allele_status.txt"
    nom = Nomenclature(
        version=_version(folder),
        alleles=alleles,
        g_group=g_group,
        p_group={a: p for a, p in p_group.items() if not a.endswith(NULL_SUFFIX)},
        serology_of=serology_of,
        tce_v2=_tce(tce_path) if tce_path.is_file() else {},
        deleted=_deleted(deleted_path, folder / "wmda" / "hla_nom.txt"),
        serology=tree,
        g_members=g_members,
        g_aliases=g_aliases,
        p_members=p_members,
        by_prefix=_prefix_index(alleles),
        alleles_of_serology={k: tuple(v) for k, v in by_serology.items()},
        p_loci=frozenset(p_locus_of(line) for line in _data_lines(folder / "wmda" / "hla_nom_p.txt")),
        full_gdna=_full_gdna(status_path) if status_path.is_file() else frozenset(),
    )
    nom.serology_equivalents = _serology_equivalents(nom, serology_named)
    return nom


def p_locus_of(line: str) -> str:
    return line.split(";", 1)[0].rstrip("*")


def load_release(folder: Path, cache_dir: Path | None = None) -> Nomenclature:
    """Parse a release, reusing a pickled copy in `cache_dir` when it is newer than the release's files."""
    folder = Path(folder)
    if cache_dir is None:
        return parse_release(folder)
    cache = Path(cache_dir) / f"nomenclature-{CACHE_FORMAT}-{_version(folder)}.pickle"
    newest = max(p.stat().st_mtime for p in folder.rglob("*.txt"))
    if cache.is_file() and cache.stat().st_mtime >= newest:
        with cache.open("rb") as handle:
            return pickle.load(handle)  # our own cache file, written below
    nom = parse_release(folder)
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(".tmp")
    with tmp.open("wb") as handle:
        pickle.dump(nom, handle, protocol=pickle.HIGHEST_PROTOCOL)
    tmp.replace(cache)
    return nom


@lru_cache(maxsize=1)
def vendored() -> Nomenclature:
    """The release shipped with LifeBank (3.58.0), parsed once per process."""
    return parse_release(VENDORED_RELEASE)
