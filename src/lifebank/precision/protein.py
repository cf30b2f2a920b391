"""HGVS protein changes in the one short form the knowledge bases use (`p.V600E`), and their codon.

Pure. VEP writes `ENSP00000288602.6:p.Val600Glu`, SnpEff `p.Val600Glu`, a MAF's HGVSp_Short `p.V600E`,
MOAlmanac `p.V600E`, CIViC `V600E`: all are reduced to `p.V600E` so that "same protein change" is a string
comparison, and `codon_of` gives (gene-independent) `V600` for "same codon / hotspot residue" matches.
"""

from __future__ import annotations

import re

THREE_TO_ONE = {
    "Ala": "A", "Arg": "R", "Asn": "N", "Asp": "D", "Cys": "C", "Gln": "Q", "Glu": "E", "Gly": "G", "His": "H",
    "Ile": "I", "Leu": "L", "Lys": "K", "Met": "M", "Phe": "F", "Pro": "P", "Ser": "S", "Thr": "T", "Trp": "W",
    "Tyr": "Y", "Val": "V", "Ter": "*", "Sec": "U", "Xaa": "X",
}
_THREE = re.compile("|".join(THREE_TO_ONE))
_CODON = re.compile(r"^p\.\(?([A-Z*])(\d+)")
_SHORT = re.compile(r"^[A-Z*]\d+[A-Z*]?(?:[a-z_].*)?$")


def short_protein_change(text: str | None) -> str | None:
    """`p.V600E` from any of the usual spellings; None for an empty, synonymous-free or non-protein value."""
    if not text:
        return None
    value = text.strip()
    if ":" in value:  # VEP: ENSP…:p.Val600Glu
        value = value.rsplit(":", 1)[1]
    value = value.replace("%3D", "=")
    if not value.startswith("p."):
        if _SHORT.match(value):  # CIViC's bare `V600E`
            value = "p." + value
        else:
            return None
    value = _THREE.sub(lambda m: THREE_TO_ONE[m.group(0)], value)
    value = value.replace("(", "").replace(")", "")
    return value if len(value) > 2 else None


def codon_of(protein_change: str | None) -> tuple[str, int] | None:
    """(reference amino acid, position) of a short protein change: `p.V600E` -> ("V", 600)."""
    if not protein_change:
        return None
    match = _CODON.match(protein_change)
    if match is None:
        return None
    return match.group(1), int(match.group(2))
