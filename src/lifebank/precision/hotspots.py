"""Cancer hotspots (Chang et al. 2016/2018; 3D: Gao et al. 2017) as recurrent protein residues.

Pure. The Genome Nexus export (`hotspots_v2_and_3d.txt`, MIT) lists residues, not genomic positions:
`hugo_symbol`, `residue`, `amino_acid_position` (a number, or `27-42` for an in-frame-indel region), `type`
(single residue, in-frame indel, splice site, 3d) and `variant_amino_acid` (`R:537|L:85`). A variant is "at a
hotspot" when its gene and protein position fall on one; a single-residue hotspot with the variant's own
amino acid observed is the strongest kind (`same allele seen`). Hotspot status is oncogenicity evidence, never
therapy evidence by itself: it lets a gene-level knowledge-base assertion ("PIK3CA oncogenic mutation ->
alpelisib") apply to the variant.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

from lifebank.errors import RowError, RowsRejected
from lifebank.messages import Msg

REQUIRED = ("hugo_symbol", "residue", "amino_acid_position", "type", "variant_amino_acid", "tumor_count")


@dataclass(frozen=True, slots=True)
class Hotspot:
    gene: str
    residue: str
    start: int
    end: int
    kind: str                      # single residue | in-frame indel | splice site | 3d
    variants: frozenset[str]       # observed variant amino acids (single residue) or indel names
    tumour_count: int


class Hotspots:
    """Residues indexed by gene for position look-ups."""

    def __init__(self, hotspots: list[Hotspot], version: str, digest: str) -> None:
        self.version = version
        self.digest = digest
        self.by_gene: dict[str, list[Hotspot]] = {}
        for hotspot in hotspots:
            self.by_gene.setdefault(hotspot.gene, []).append(hotspot)
        self.count = len(hotspots)

    def at(self, gene: str, position: int) -> list[Hotspot]:
        """Hotspots of `gene` covering protein `position`, strongest kind first (3D clusters last)."""
        found = [h for h in self.by_gene.get(gene, ()) if h.start <= position <= h.end]
        return sorted(found, key=lambda h: (h.kind == "3d", -h.tumour_count))

    def residue(self, gene: str, position: int, protein_change: str | None = None,
                consequence: str | None = None) -> Hotspot | None:
        """The recurrent (non-3D) hotspot of the variant's kind at this residue, if any: a substitution is
        matched to single-residue hotspots, an in-frame deletion/insertion to in-frame-indel regions, a splice
        variant to splice-site hotspots."""
        change = protein_change or ""
        if consequence and "splice" in consequence.lower():
            wanted = "splice site"
        elif any(mark in change for mark in ("del", "ins", "dup")) and "fs" not in change:
            wanted = "in-frame indel"
        else:
            wanted = "single residue"
        for hotspot in self.at(gene, position):
            if hotspot.kind == wanted:
                return hotspot
        return None


def parse_hotspots(text: str, version: str, digest: str) -> Hotspots:
    """Parse the tab-separated export; a row with a bad position is named (line and column), nothing kept."""
    reader = csv.DictReader(io.StringIO(text), delimiter="\t")
    missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
    if missing:
        raise RowsRejected(Msg("hotspot file"), [RowError(1, c, Msg("required column is missing")) for c in missing])
    hotspots, errors = [], []
    for line, row in enumerate(reader, start=2):
        position = row["amino_acid_position"].strip()
        try:
            start, _, end = position.partition("-")
            first, last = int(start), int(end or start)
        except ValueError:
            errors.append(RowError(line, "amino_acid_position", Msg("{value!r} is not a protein position or range",
                                                                    value=position)))
            continue
        variants = frozenset(v.split(":")[0] for v in row["variant_amino_acid"].split("|") if v)
        count = row["tumor_count"].strip()
        hotspots.append(Hotspot(row["hugo_symbol"].strip(), row["residue"].strip(), first, last, row["type"].strip(),
                                variants, int(float(count)) if count else 0))
    if errors:
        raise RowsRejected(Msg("hotspot file"), errors)
    return Hotspots(hotspots, version, digest)


def load_hotspots(path: Path) -> Hotspots:
    raw = path.read_bytes()
    text = gzip.decompress(raw).decode() if path.suffix == ".gz" else raw.decode()
    version = "genome-nexus " + path.name.split(".")[1] if path.name.count(".") >= 2 else path.stem
    return parse_hotspots(text, version, hashlib.sha256(raw).hexdigest())
