"""Patient-donor HLA grading, following the WMDA framework as Anthony Nolan's Atlas documents it.

Pure. Per locus the two patient positions are compared with the two donor positions in both orientations and
the better orientation is kept (fewest mismatches, then best grades, then best confidence). Rules:

* A position pair *matches* when the typings share at least one P group (`Position.p_groups`; an expressed
  allele in no named P group is its own group). Null alleles inside an allele string or MAC are ignored.
* A position that is only null makes the locus homozygous for the other position.
* An untyped locus (patient or donor) is a potential match with 0 mismatches, flagged `untyped`.
* Grade per position, best first: gDNA › cDNA › protein › G group › P group; for serology associated › split ›
  broad; null grades when both positions are null; mismatch otherwise.
* Confidence: definite (both single alleles), exact (both a single P group), potential (ambiguous, serology,
  untyped), mismatch.
* Antigen match: the position pair matches, or their serological antigens are the same or split/broad related.
* DPB1: TCE permissive / non-permissive (GvH or HvG) / unknown from the V2 assignments of dpb_tce.csv.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lifebank.hla.nomenclature import MATCH_LOCI, Nomenclature, split_allele
from lifebank.hla.typing import SEROLOGY, Genotype, LocusTyping, Position

GRADE_RANK: dict[str, int] = {
    "gdna": 13, "cdna": 12, "protein": 11, "g_group": 10, "p_group": 9,
    "associated": 8, "split": 7, "broad": 6,
    "null_gdna": 5, "null_cdna": 4, "null_partial": 3, "expressing_vs_null": 2, "unknown": 1,
    "null_mismatch": 0, "mismatch": 0,
}
CONFIDENCE_RANK: dict[str, int] = {"definite": 3, "exact": 2, "potential": 1, "mismatch": 0}
PERMISSIVE = "permissive"
NON_PERMISSIVE_GVH = "non_permissive_gvh"
NON_PERMISSIVE_HVG = "non_permissive_hvg"
UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class PositionGrade:
    grade: str
    confidence: str
    antigen_match: bool

    @property
    def is_match(self) -> bool:
        return self.confidence != "mismatch"

    def as_dict(self) -> dict[str, Any]:
        return {"grade": self.grade, "confidence": self.confidence, "antigen_match": self.antigen_match}


@dataclass(frozen=True, slots=True)
class LocusGrade:
    locus: str
    mismatch_count: int
    untyped: bool
    positions: tuple[PositionGrade, PositionGrade]

    def as_dict(self) -> dict[str, Any]:
        return {"mismatch_count": self.mismatch_count, "untyped": self.untyped,
                "positions": [p.as_dict() for p in self.positions]}


@dataclass(frozen=True, slots=True)
class MatchResult:
    loci: dict[str, LocusGrade]
    match_loci: tuple[str, ...]
    dpb1_tce: str

    @property
    def mismatch_count(self) -> int:
        return sum(self.loci[locus].mismatch_count for locus in self.match_loci if locus in self.loci)

    @property
    def match(self) -> str:
        total = 2 * len(self.match_loci)
        return f"{total - self.mismatch_count}/{total}"

    def as_dict(self) -> dict[str, Any]:
        return {"mismatch_count": self.mismatch_count, "match": self.match,
                "loci": {locus: grade.as_dict() for locus, grade in self.loci.items()}, "dpb1_tce": self.dpb1_tce}


UNTYPED_POSITION = PositionGrade("unknown", "potential", False)
MISMATCH = PositionGrade("mismatch", "mismatch", False)


class Grader:
    """Grades typings against one nomenclature; memoises position pairs (registries repeat typings a lot)."""

    def __init__(self, nomenclature: Nomenclature) -> None:
        self.nom = nomenclature
        self._memo: dict[tuple[int, int], tuple[Position, Position, PositionGrade]] = {}
        self._name_groups: dict[str, set[str]] = {}
        self._antigen_memo: dict[int, tuple[Position, set[str]]] = {}

    # -- one position pair --------------------------------------------------------------------------------------
    def position(self, patient: Position, donor: Position) -> PositionGrade:
        key = (id(patient), id(donor))
        hit = self._memo.get(key)
        if hit is not None and hit[0] is patient and hit[1] is donor:
            return hit[2]
        result = self._position(patient, donor)
        if len(self._memo) > 2_000_000:
            self._memo.clear()
        self._memo[key] = (patient, donor, result)
        return result

    def _position(self, patient: Position, donor: Position) -> PositionGrade:
        shared = patient.p_groups & donor.p_groups
        if patient.kind == SEROLOGY or donor.kind == SEROLOGY:
            relation = self._serology_relation(patient, donor)
            if not shared:
                return PositionGrade("mismatch", "mismatch", relation is not None)
            return PositionGrade(relation or "broad", "potential", True)
        if not shared:
            return PositionGrade("mismatch", "mismatch", self._serology_relation(patient, donor) is not None)
        pa, da = patient.single_allele, donor.single_allele
        if pa is not None and da is not None:
            return PositionGrade(self._name_grade(pa, da), "definite", True)
        exact = len(patient.p_groups) == 1 and len(donor.p_groups) == 1
        return PositionGrade(self._typed_grade(patient, donor), "exact" if exact else "potential", True)

    def _typed_grade(self, patient: Position, donor: Position) -> str:
        """The best grade the typings *as typed* establish (positions already share a P group).

        A two-field typing proves the protein, never the gDNA, however many alleles it could stand for; an XX
        code, G or P group typing proves only its group.
        """
        if patient.names and donor.names:
            best = "p_group"
            for a in patient.names:
                for b in donor.names:
                    if not self._name_p_groups(a) & self._name_p_groups(b):
                        continue
                    grade = self._name_grade(a, b)
                    if GRADE_RANK[grade] > GRADE_RANK[best]:
                        best = grade
            return best
        if self._g_groups(patient.expressed) & self._g_groups(donor.expressed):
            return "g_group"
        return "p_group"

    def _name_grade(self, a: str, b: str) -> str:
        """gDNA for the same complete allele; else by the fields both names share; else G group; else P group.

        Atlas/WMDA: the same allele is a gDNA match only when its whole genomic sequence is known
        (Allele_status.txt: Full, gDNA); an allele known from its coding sequence alone matches at cDNA.
        """
        if a == b and a in self.nom.alleles:
            return "gdna" if not self.nom.full_gdna or a in self.nom.full_gdna else "cdna"
        pa, pb = split_allele(a), split_allele(b)
        if pa is not None and pb is not None:
            shared = 0
            for x, y in zip(pa.fields, pb.fields, strict=False):
                if x != y:
                    break
                shared += 1
            if shared >= 3:
                return "cdna"
            if shared == 2:
                return "protein"
        if self._g_groups(self.nom.expand(a)) & self._g_groups(self.nom.expand(b)):
            return "g_group"
        return "p_group"

    def _g_groups(self, alleles: tuple[str, ...]) -> set[str]:
        return {self.nom.g_group_of(a) for a in alleles if not a.endswith("N")}

    def _name_p_groups(self, name: str) -> set[str]:
        cached = self._name_groups.get(name)
        if cached is None:
            cached = {g for g in (self.nom.p_group_of(a) for a in self.nom.expand(name)) if g is not None}
            self._name_groups[name] = cached
        return cached

    def _antigens(self, position: Position) -> set[str]:
        hit = self._antigen_memo.get(id(position))
        if hit is not None and hit[0] is position:
            return hit[1]
        if position.kind == SEROLOGY and position.serology:
            found = {position.serology}
        else:
            found = {s for s in (self.nom.serology_of.get(a) for a in position.expressed) if s is not None}
        self._antigen_memo[id(position)] = (position, found)
        return found

    def _serology_relation(self, patient: Position, donor: Position) -> str | None:
        """associated / split / broad when the antigens are the same or related through rel_ser_ser."""
        best: str | None = None
        for a in self._antigens(patient):
            for b in self._antigens(donor):
                relation = self._antigen_relation(a, b)
                if relation and (best is None or GRADE_RANK[relation] > GRADE_RANK[best]):
                    best = relation
        return best

    def _antigen_relation(self, a: str, b: str) -> str | None:
        tree = self.nom.serology
        sa, sb = tree.get(a), tree.get(b)
        if sa is None or sb is None:
            return "split" if a == b else None
        if a == b:
            return {"associated": "associated", "broad": "broad"}.get(sa.kind, "split")
        if sa.parent == b or sb.parent == a:
            child = sa if sa.parent == b else sb
            return "associated" if child.kind == "associated" else "broad"
        broad_a = tree[sa.parent].parent if sa.parent in tree and sa.kind == "associated" else None
        broad_b = tree[sb.parent].parent if sb.parent in tree and sb.kind == "associated" else None
        if broad_a == b or broad_b == a:
            return "broad"
        return None

    # -- one locus ----------------------------------------------------------------------------------------------
    def locus(self, locus: str, patient: LocusTyping | None, donor: LocusTyping | None) -> LocusGrade:
        if patient is None or donor is None:
            # WMDA/Atlas: an untyped locus cannot be shown to mismatch; it is a potential match.
            return LocusGrade(locus, 0, True, (UNTYPED_POSITION, UNTYPED_POSITION))
        p1, p2 = _homozygous(patient)
        d1, d2 = _homozygous(donor)
        straight = (self._pair(patient.first, p1, donor.first, d1), self._pair(patient.second, p2, donor.second, d2))
        crossed = (self._pair(patient.first, p1, donor.second, d2), self._pair(patient.second, p2, donor.first, d1))
        best = max(straight, crossed, key=_orientation_score)
        mismatches = sum(1 for g in best if not g.is_match)
        return LocusGrade(locus, mismatches, False, best)

    def _pair(self, patient_raw: Position, patient: Position, donor_raw: Position, donor: Position) -> PositionGrade:
        if patient_raw.is_null and donor_raw.is_null:
            return PositionGrade(_null_grade(patient_raw, donor_raw), "definite"
                                 if patient_raw.single_allele and donor_raw.single_allele else "potential", True)
        graded = self.position(patient, donor)
        if (patient_raw.is_null or donor_raw.is_null) and graded.is_match:
            return PositionGrade("expressing_vs_null", graded.confidence, graded.antigen_match)
        return graded

    # -- whole typings ------------------------------------------------------------------------------------------
    def grade(self, patient: Genotype, donor: Genotype, match_loci: tuple[str, ...] = MATCH_LOCI) -> MatchResult:
        loci: dict[str, LocusGrade] = {}
        for locus in ("A", "B", "C", "DPB1", "DQB1", "DRB1"):
            if locus in match_loci or locus == "DPB1":
                loci[locus] = self.locus(locus, patient.get(locus), donor.get(locus))
        return MatchResult(loci, tuple(match_loci), self.dpb1_tce(patient.get("DPB1"), donor.get("DPB1")))

    def dpb1_tce(self, patient: LocusTyping | None, donor: LocusTyping | None) -> str:
        """TCE V2 (Crivello et al. 2016): compare the most immunogenic TCE group (1 › 2 › 3) of each side.

        Equal -> permissive. The patient's group more immunogenic than the donor's -> the donor's T cells see
        it: non-permissive in the graft-versus-host direction; the other way round -> host-versus-graft.
        """
        if patient is None or donor is None:
            return UNKNOWN
        pt, dt = self._tce_of(patient), self._tce_of(donor)
        if pt is None or dt is None:
            return UNKNOWN
        if pt == dt:
            return PERMISSIVE
        return NON_PERMISSIVE_GVH if pt < dt else NON_PERMISSIVE_HVG

    def _tce_of(self, typing: LocusTyping) -> int | None:
        groups: list[int] = []
        for position in (typing.first, typing.second):
            if position.is_null:
                continue
            found = {self.nom.tce_v2.get(a) for a in position.expressed}
            found.discard("0")
            if len(found) != 1 or None in found:
                return None  # unassigned allele, or an ambiguous typing spanning TCE groups
            groups.append(int(next(iter(found))))  # type: ignore[arg-type]
        return min(groups) if groups else None


def _fields(allele: str, n: int) -> str:
    parts = split_allele(allele)
    return parts.truncated(n) if parts is not None else allele


def _homozygous(typing: LocusTyping) -> tuple[Position, Position]:
    """WMDA: a null-only position takes the other position's typing (the locus is functionally homozygous)."""
    first, second = typing.first, typing.second
    if first.is_null and not second.is_null:
        return second, second
    if second.is_null and not first.is_null:
        return first, first
    return first, second


def _null_grade(patient: Position, donor: Position) -> str:
    pa, da = patient.single_allele, donor.single_allele
    if pa is not None and da is not None:
        if pa == da:
            return "null_gdna"
        if _fields(pa, 3) == _fields(da, 3):
            return "null_cdna"
        if _fields(pa, 2) == _fields(da, 2):
            return "null_partial"
        return "null_mismatch"
    return "null_partial" if set(patient.alleles) & set(donor.alleles) else "null_mismatch"


def _orientation_score(pair: tuple[PositionGrade, PositionGrade]) -> tuple[int, int, int]:
    return (sum(g.is_match for g in pair), sum(GRADE_RANK[g.grade] for g in pair),
            sum(CONFIDENCE_RANK[g.confidence] for g in pair))
