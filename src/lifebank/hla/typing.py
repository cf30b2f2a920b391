"""HLA typings as value objects, and the parser for every form a registry sends.

Pure. A `Position` is what one of the two chromosomes of a locus was typed as: a full or truncated allele
name, an allele string (`A*01:01/01:02`), a G or P group, an XX code, an NMDP MAC or a serological antigen.
Each becomes the set of current alleles it stands for and the P groups those alleles express, which is all
matching needs. GL strings (`/` alleles, `+` the two positions, `^` loci, `~` haplotypes, `|` genotype
alternatives) parse into a `Genotype`: locus -> `LocusTyping` (two positions, or untyped).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from lifebank.hla.macs import EMPTY, MacDictionary, MacError
from lifebank.hla.nomenclature import ALL_LOCI, SEROLOGY_PREFIX, Nomenclature, split_allele
from lifebank.messages import Msg

# Kinds of typing, most to least specific.
ALLELE = "allele"
ALLELE_STRING = "allele_string"
G_GROUP = "g_group"
P_GROUP = "p_group"
XX_CODE = "xx"
MAC = "mac"
SEROLOGY = "serology"

_SEROLOGY_RE = re.compile(r"^(?P<prefix>A|B|Cw|C|DR|DQ|DP)(?P<number>\d{1,4})$")
_LOCUS_FROM_SEROLOGY = {"A": "A", "B": "B", "Cw": "C", "C": "C", "DR": "DRB1", "DQ": "DQB1", "DP": "DPB1"}


class TypingError(ValueError):
    """A typing token that is not valid HLA nomenclature; the message names the token.

    `reason` is a catalogue message (a template with named parameters), so the UI, the API and the CLI show
    it in their reader's language; `message` is the whole sentence, `'A*99:99': … is not an allele …`.
    """

    def __init__(self, token: str, reason: str | Msg) -> None:
        self.token = token
        self.reason = reason if isinstance(reason, Msg) else Msg(reason)
        self.message = Msg("{token!r}: {reason}", token=token, reason=self.reason)
        super().__init__(str(self.message))

    def render(self, language: str | None = None) -> str:
        return self.message.render(language)


@dataclass(frozen=True, slots=True)
class Position:
    """One typed position of a locus, resolved against a nomenclature release."""

    locus: str
    kind: str
    text: str
    alleles: tuple[str, ...]  # every current allele it stands for, nulls included
    p_groups: frozenset[str]  # P groups of its expressed alleles
    serology: str | None = None  # the antigen, for serological typings
    names: tuple[str, ...] = ()  # the allele names as typed (MACs expanded); empty for XX, G, P and serology
    expressed: tuple[str, ...] = ()  # its alleles without the null ones (computed once, grading reads it a lot)
    renamed: tuple[tuple[str, str], ...] = ()  # (name as typed, IMGT's current name) for each name followed

    @property
    def is_null(self) -> bool:
        """WMDA: a position whose every allele is null expresses nothing."""
        return not self.p_groups

    @property
    def single_allele(self) -> str | None:
        """The allele, when the typing names exactly one expressed allele (or one null allele)."""
        expressed = self.expressed
        if len(expressed) == 1:
            return expressed[0]
        if not expressed and len(self.alleles) == 1:
            return self.alleles[0]
        return None


@dataclass(frozen=True, slots=True)
class LocusTyping:
    """The two positions of a locus; a single typed position means the donor was reported homozygous."""

    locus: str
    first: Position
    second: Position

    @property
    def text(self) -> str:
        return f"{self.first.text}+{self.second.text}"


@dataclass(frozen=True, slots=True)
class Genotype:
    loci: Mapping[str, LocusTyping] = field(default_factory=dict)

    def get(self, locus: str) -> LocusTyping | None:
        return self.loci.get(locus)

    def gl_string(self) -> str:
        return "^".join(self.loci[locus].text for locus in ALL_LOCI if locus in self.loci)


class TypingParser:
    """Parses typings against one nomenclature release and one MAC dictionary; memoises positions.

    `follow_renames` decides what a name IMGT has renamed means. A typing someone enters now (a patient, a
    grade request) must use current names, so by default it is refused with the new name. A registry's donor
    record was typed under the release of its day and must stay searchable across releases (as Atlas keeps
    it), so registry parsers follow the rename and record it in `Position.renamed`.
    """

    def __init__(self, nomenclature: Nomenclature, macs: MacDictionary = EMPTY, *,
                 follow_renames: bool = False) -> None:
        self.nom = nomenclature
        self.macs = macs
        self.follow_renames = follow_renames
        self._cache: dict[tuple[str, str | None], Position] = {}

    # -- one position -------------------------------------------------------------------------------------------
    def position(self, token: str, locus: str | None = None) -> Position:
        """Parse one position; `locus` lets a column supply it for `*01:01`, `01:XX` or a bare antigen `2`."""
        key = (token, locus)
        cached = self._cache.get(key)
        if cached is None:
            cached = self._parse_position(token.strip(), locus)
            if len(self._cache) < 500_000:
                self._cache[key] = cached
        return cached

    def _parse_position(self, token: str, locus: str | None) -> Position:
        if not token:
            raise TypingError(token, "empty typing")
        if token.startswith("*") and locus:
            token = f"{locus}{token}"
        if "/" in token:
            return self._allele_string(token, locus)
        sero = _SEROLOGY_RE.match(token)
        if sero or (locus and token.isdigit()):
            return self._serology(token, locus, sero)
        if "*" not in token:
            if locus and re.match(r"^\d{2,4}:", token):
                token = f"{locus}*{token}"
            else:
                raise TypingError(token, "not an HLA allele name, allele string, code or serological antigen")
        tok_locus, _, rest = token.partition("*")
        tok_locus = tok_locus.removeprefix("HLA-")
        if locus and tok_locus != locus:
            raise TypingError(token, Msg("is locus {found}, expected {locus}", found=tok_locus, locus=locus))
        if tok_locus not in ALL_LOCI:
            raise TypingError(token, Msg("locus {locus!r} is not one LifeBank matches ({loci})", locus=tok_locus,
                                         loci=", ".join(ALL_LOCI)))
        name = f"{tok_locus}*{rest}"
        fields = rest.split(":")
        if len(fields) == 2 and fields[1] == "XX":
            alleles = self.nom.expand(f"{tok_locus}*{fields[0]}") or self._broad_xx(tok_locus, fields[0])
            if not alleles:
                raise TypingError(token, Msg("no {locus} allele has first field {field}", locus=tok_locus,
                                             field=fields[0]))
            return self._make(tok_locus, XX_CODE, token, alleles)
        if len(fields) == 2 and fields[1].isalpha() and fields[1].isupper() and fields[1] not in {"G", "P"}:
            try:
                names = self.macs.expand(tok_locus, fields[0], fields[1])
            except MacError as exc:
                raise TypingError(token, exc.message) from None
            renamed: list[tuple[str, str]] = []
            alleles = self._expand_names(names, token, renamed, lenient=True)
            kept = tuple(n for n in names if self.nom.expand(n)) or names
            return self._make(tok_locus, MAC, token, alleles, names=kept, renamed=renamed)
        group = self.nom.g_aliases.get(name, name)  # IMGT's published name of a group we name after its members
        if rest.endswith("G") and group in self.nom.g_members:
            return self._make(tok_locus, G_GROUP, token, self.nom.g_members[group])
        if rest.endswith("P") and name in self.nom.p_members:
            return self._make(tok_locus, P_GROUP, token, self.nom.p_members[name])
        renamed = []
        alleles = self._expand_names((name,), token, renamed)
        return self._make(tok_locus, ALLELE, token, alleles, names=(name,), renamed=renamed)

    def _broad_xx(self, locus: str, first_field: str) -> tuple[str, ...]:
        """`DRB1*02:XX`: no DRB1*02 family exists, but DR2 is a broad antigen; NMDP reads the code as the
        families of its splits (DRB1*15, DRB1*16), and registries still send such codes."""
        if not first_field.isdigit():
            return ()
        prefix = SEROLOGY_PREFIX.get(locus, locus)
        antigen = f"{prefix}{int(first_field)}"
        broad = self.nom.serology.get(antigen)
        if broad is None or broad.kind != "broad" or broad.locus != locus:
            return ()
        out: list[str] = []
        for split in self.nom.serology.values():
            if split.parent == antigen and split.kind == "split" and split.name[len(prefix):].isdigit():
                out.extend(self.nom.expand(f"{locus}*{int(split.name[len(prefix):]):02d}"))
        return tuple(out)

    def _expand_names(self, names: tuple[str, ...], token: str, renamed: list[tuple[str, str]], *,
                      lenient: bool = False) -> tuple[str, ...]:
        """Expand each name, following IMGT renames when the parser does (and always inside MAC expansions,
        which were written against older releases); `lenient` also drops names the release no longer has,
        as long as something remains."""
        out: list[str] = []
        for name in names:
            alleles = self.nom.expand(name)
            if not alleles and (lenient or self.follow_renames):
                new = self.nom.current_name(name)
                if new is not None:
                    alleles = self.nom.expand(new)
                    renamed.append((name, new))
            if not alleles and lenient:
                continue
            if not alleles:
                self._raise_unknown(name, token)
            out.extend(alleles)
        if not out:
            self._raise_unknown(names[0], token)
        return tuple(dict.fromkeys(out))

    def _raise_unknown(self, name: str, token: str) -> None:
        if name in self.nom.deleted:
            new = self.nom.current_name(name)
            if new:
                raise TypingError(token, Msg("{name} was deleted from IPD-IMGT/HLA {release}; it is now named {new}",
                                             name=name, release=self.nom.version, new=new))
            raise TypingError(token, Msg("{name} was deleted from IPD-IMGT/HLA {release}", name=name,
                                         release=self.nom.version))
        if split_allele(name) is None:
            raise TypingError(token, Msg("{name} is not a valid allele name", name=name))
        raise TypingError(token, Msg("{name} is not an allele of IPD-IMGT/HLA {release}", name=name,
                                     release=self.nom.version))

    def _allele_string(self, token: str, locus: str | None) -> Position:
        items = [item.strip() for item in token.split("/")]
        first = items[0]
        if first.startswith("*") and locus:
            first = f"{locus}{first}"
        if "*" not in first:
            if not locus:
                raise TypingError(token, "allele string without a locus")
            first = f"{locus}*{first}"
        tok_locus = first.partition("*")[0]
        if locus and tok_locus != locus:
            raise TypingError(token, Msg("is locus {found}, expected {locus}", found=tok_locus, locus=locus))
        names = []
        for item in [first] + items[1:]:
            if not item:
                raise TypingError(token, "empty item in allele string")
            if item.startswith("*"):
                item = f"{tok_locus}{item}"
            elif "*" not in item and ":" not in item and ":" in first:
                # "A*02:04/66/11": a bare second field keeps the first item's first field (as in generic MACs)
                item = f"{first.partition(':')[0]}:{item}"
            elif "*" not in item:
                item = f"{tok_locus}*{item}"
            if item.partition("*")[0] != tok_locus:
                raise TypingError(token, Msg("allele string mixes loci ({item})", item=item))
            names.append(item)
        if any(split_allele(name) is None for name in names):
            # An item that is no allele name (XX code, MAC, G/P group): the string is a union of typings, as a
            # GL string's genotype alternatives are stored ("A*01:XX/A*02:01").
            return self._union(tok_locus, names)
        renamed: list[tuple[str, str]] = []
        alleles = self._expand_names(tuple(names), token, renamed)
        return self._make(tok_locus, ALLELE_STRING, token, alleles, names=tuple(names), renamed=renamed)

    def _serology(self, token: str, locus: str | None, match: re.Match[str] | None) -> Position:
        if match is None:  # bare number from a locus column: "2" in the A_1 column means A2
            assert locus is not None
            antigen = f"{SEROLOGY_PREFIX.get(locus, locus)}{token}"
            tok_locus = locus
        else:
            tok_locus = _LOCUS_FROM_SEROLOGY[match["prefix"]]
            prefix = SEROLOGY_PREFIX[tok_locus]
            antigen = f"{prefix}{match['number']}"
            if locus and tok_locus != locus:
                raise TypingError(token, Msg("is a {found} antigen, expected {locus}", found=tok_locus, locus=locus))
        if antigen not in self.nom.serology:
            raise TypingError(token, Msg("{antigen} is not a serological antigen of IPD-IMGT/HLA {release}",
                                         antigen=antigen, release=self.nom.version))
        if self.nom.serology[antigen].locus != tok_locus:
            raise TypingError(token, Msg("{antigen} is a {found} antigen, not {locus}", antigen=antigen,
                                         found=self.nom.serology[antigen].locus, locus=tok_locus))
        alleles = self.nom.serology_for_alleles(antigen)
        return self._make(tok_locus, SEROLOGY, token, alleles, serology=antigen)

    def _make(self, locus: str, kind: str, token: str, alleles: tuple[str, ...], serology: str | None = None,
              names: tuple[str, ...] = (), renamed: list[tuple[str, str]] | None = None) -> Position:
        groups = frozenset(g for g in (self.nom.p_group_of(a) for a in alleles) if g is not None)
        if kind == ALLELE and len(alleles) > 1:
            parts = split_allele(alleles[0])
            # A truncated name covering several alleles is still one protein when it has two fields.
            kind = ALLELE if parts is not None and token.count(":") >= 1 else ALLELE_STRING
        expressed = tuple(a for a in alleles if not a.endswith("N"))
        return Position(locus, kind, token, alleles, groups, serology, names, expressed, tuple(renamed or ()))

    # -- whole typings ------------------------------------------------------------------------------------------
    def locus_typing(self, locus: str, first: str | None, second: str | None) -> LocusTyping | None:
        """Two column values of one locus; both empty = untyped, one empty = reported homozygous."""
        first = (first or "").strip() or None
        second = (second or "").strip() or None
        if first is None and second is None:
            return None
        p1 = self.position(first or second or "", locus)
        p2 = self.position(second, locus) if second and first else p1
        return LocusTyping(locus, p1, p2)

    def genotype(self, gl: str) -> Genotype:
        """Parse a GL string (`^` loci, `+` positions, `/` alleles, `~` phase, `|` genotype alternatives)."""
        gl = gl.strip()
        if not gl:
            raise TypingError(gl, "empty GL string")
        loci: dict[str, LocusTyping] = {}
        for block in gl.split("^"):
            for locus_typing in self._gl_block(block.strip()):
                if locus_typing.locus in loci:
                    raise TypingError(block, Msg("locus {locus} appears twice in the GL string",
                                                 locus=locus_typing.locus))
                loci[locus_typing.locus] = locus_typing
        return Genotype(loci)

    def _gl_block(self, block: str) -> list[LocusTyping]:
        if not block:
            raise TypingError(block, "empty locus block in GL string")
        alternatives = block.split("|")
        # Each alternative: "h1+h2", each haplotype "a~b~c" of per-locus allele lists.
        per_locus: dict[str, tuple[list[str], list[str]]] = {}
        for alternative in alternatives:
            haplotypes = alternative.split("+")
            if len(haplotypes) > 2:
                raise TypingError(alternative, "more than two positions ('+') in one locus")
            if len(haplotypes) == 1:
                haplotypes = haplotypes * 2
            for index, haplotype in enumerate(haplotypes):
                for part in haplotype.split("~"):
                    part = part.strip()
                    if not part:
                        raise TypingError(alternative, "empty allele list in GL string")
                    head = part.split("/")[0]
                    locus = head.partition("*")[0] if "*" in head else None
                    if locus is None:
                        sero = _SEROLOGY_RE.match(head)
                        if sero is None:
                            raise TypingError(part, "GL string items need a locus (e.g. A*01:01)")
                        locus = _LOCUS_FROM_SEROLOGY[sero["prefix"]]
                    locus = locus.removeprefix("HLA-")
                    lists = per_locus.setdefault(locus, ([], []))
                    lists[index].append(part)
        out = []
        for locus, (firsts, seconds) in per_locus.items():
            p1 = self._union(locus, firsts)
            p2 = self._union(locus, seconds) if seconds else p1
            out.append(LocusTyping(locus, p1, p2))
        return out

    def _union(self, locus: str, texts: list[str]) -> Position:
        if len(texts) == 1:
            return self.position(texts[0])
        key = ("|".join(texts), locus)
        cached = self._cache.get(key)
        if cached is None:
            positions = [self.position(t) for t in texts]
            alleles = tuple(dict.fromkeys(a for p in positions for a in p.alleles))
            named = tuple(n for p in positions for n in p.names) if all(p.names for p in positions) else ()
            cached = self._make(locus, ALLELE_STRING, "/".join(texts), alleles, names=named,
                                renamed=[pair for p in positions for pair in p.renamed])
            self._cache[key] = cached
        return cached
