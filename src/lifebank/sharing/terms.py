"""Ontology terms the Beacon speaks: sex (NCIT), sample origin (UBERON/OBI), zygosity (GENO), and the filters.

LifeBank stores its own codes (sex F/M/O/U, SPREC sample types, DUO consent ids); the Beacon v2 default Model
asks for ontology terms. This table is the one translation in both directions: a record shows the term, a
filter on the term becomes a LifeBank code. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

SEX_TERMS: dict[str, tuple[str, str]] = {
    "F": ("NCIT:C16576", "female"),
    "M": ("NCIT:C20197", "male"),
    "O": ("NCIT:C17649", "other"),
    "U": ("NCIT:C17998", "unknown"),
}
SEX_OF_TERM = {term: code for code, (term, _label) in SEX_TERMS.items()}

# Sample origin of each SPREC type (what the Model's `sampleOriginType` asks: the material it came from).
_BLOOD = ("UBERON:0000178", "blood")
_SPECIMEN = ("OBI:0001479", "specimen from organism")
ORIGIN_TERMS: dict[str, tuple[str, str]] = {
    "BLD": _BLOOD, "BUF": _BLOOD, "BFF": _BLOOD, "RBC": _BLOOD, "CEL": _BLOOD, "PEL": _BLOOD, "CTC": _BLOOD,
    "SER": ("UBERON:0001977", "blood serum"),
    "PL1": ("UBERON:0001969", "blood plasma"), "PL2": ("UBERON:0001969", "blood plasma"),
    "CRD": ("UBERON:0012168", "umbilical cord blood"),
    "BMA": ("UBERON:0002371", "bone marrow"),
    "CSF": ("UBERON:0001359", "cerebrospinal fluid"),
    "URN": ("UBERON:0001088", "urine"), "URM": ("UBERON:0001088", "urine"), "U24": ("UBERON:0001088", "urine"),
    "SAL": ("UBERON:0001836", "saliva"),
    "BUC": ("UBERON:0006956", "buccal mucosa"),
    "STL": ("UBERON:0001988", "feces"),
    "ASC": ("UBERON:0007795", "ascitic fluid"),
    "AMN": ("UBERON:0000173", "amniotic fluid"),
    "SEM": ("UBERON:0001968", "semen"),
    "TIS": ("UBERON:0000479", "tissue"), "TCM": ("UBERON:0000479", "tissue"), "CLN": ("UBERON:0000479", "tissue"),
    "CEN": ("UBERON:0000479", "tissue"), "PEN": ("UBERON:0000479", "tissue"), "FNA": ("UBERON:0000479", "tissue"),
    "PLC": ("UBERON:0001987", "placenta"),
    "DNA": _SPECIMEN, "RNA": _SPECIMEN, "EXO": _SPECIMEN, "ZZZ": _SPECIMEN,
}


def types_of_origin(term: str) -> list[str]:
    """The SPREC types whose sample origin is `term` (empty when no type maps to it)."""
    return sorted(code for code, (origin, _label) in ORIGIN_TERMS.items() if origin == term)


def origin_of(specimen_type: str) -> dict[str, str]:
    term, label = ORIGIN_TERMS.get(specimen_type, _SPECIMEN)
    return {"id": term, "label": label}


def sex_of(code: str) -> dict[str, str]:
    term, label = SEX_TERMS.get(code, SEX_TERMS["U"])
    return {"id": term, "label": label}


REFERENCE_SAMPLE = {"id": "EFO:0009654", "label": "reference sample"}

ZYGOSITY = {
    "het": {"id": "GENO:GENO_0000458", "label": "simple heterozygous"},
    "hom": {"id": "GENO:GENO_0000136", "label": "homozygous"},
    "hemi": {"id": "GENO:GENO_0000134", "label": "hemizygous"},
}

# GRCh38 RefSeq accessions of the primary assembly, for VRS sequence ids and HGVS names.
_GRCH38_REFSEQ = {
    "1": "NC_000001.11", "2": "NC_000002.12", "3": "NC_000003.12", "4": "NC_000004.12", "5": "NC_000005.10",
    "6": "NC_000006.12", "7": "NC_000007.14", "8": "NC_000008.11", "9": "NC_000009.12", "10": "NC_000010.11",
    "11": "NC_000011.10", "12": "NC_000012.12", "13": "NC_000013.11", "14": "NC_000014.9", "15": "NC_000015.10",
    "16": "NC_000016.10", "17": "NC_000017.11", "18": "NC_000018.10", "19": "NC_000019.10", "20": "NC_000020.11",
    "21": "NC_000021.9", "22": "NC_000022.11", "X": "NC_000023.11", "Y": "NC_000024.10", "M": "NC_012920.1",
    "MT": "NC_012920.1",
}


def sequence_id(chrom: str, build: str) -> str:
    """A CURIE for the contig: `refseq:NC_000022.11` on GRCh38, else `<build>:<contig>`."""
    bare = chrom.removeprefix("chr")
    if build == "GRCh38" and bare in _GRCH38_REFSEQ:
        return f"refseq:{_GRCH38_REFSEQ[bare]}"
    return f"{build}:{bare}"


def hgvs_name(chrom: str, build: str, pos: int, ref: str, alt: str) -> str:
    """A genomic HGVS-like name (`NC_000022.11:g.16050075G>A`); other shapes as `POS_ENDREF>ALT`."""
    bare = chrom.removeprefix("chr")
    accession = _GRCH38_REFSEQ.get(bare, bare) if build == "GRCh38" else bare
    if len(ref) == 1 and len(alt) == 1:
        return f"{accession}:g.{pos}{ref}>{alt}"
    return f"{accession}:g.{pos}_{pos + len(ref) - 1}delins{alt}"


def variant_type(ref: str, alt: str) -> str:
    """The Beacon `variantType` of a biallelic record: SNP, MNP, DEL, INS or INDEL."""
    if len(ref) == 1 and len(alt) == 1:
        return "SNP"
    if len(ref) == len(alt):
        return "MNP"
    if len(alt) == 1 and ref.startswith(alt):
        return "DEL"
    if len(ref) == 1 and alt.startswith(ref):
        return "INS"
    return "INDEL"


def type_matches(asked: str, ref: str, alt: str) -> bool:
    """Does a record answer a `variantType` query? INDEL covers DEL and INS (as the reference Beacon does)."""
    actual = variant_type(ref, alt)
    return asked == actual or (asked == "INDEL" and actual in {"DEL", "INS"})


def bases_match(pattern: str, bases: str) -> bool:
    """Query bases against record bases; `N` stands for any one base (the framework's wildcard)."""
    return len(pattern) == len(bases) and all(p in ("N", b) for p, b in zip(pattern.upper(), bases.upper(),
                                                                              strict=True))


@dataclass(frozen=True, slots=True)
class FilterTerm:
    id: str
    label: str
    scopes: tuple[str, ...]
    type: str = "ontology"


# The "available" custom filter: a specimen still in the bank (status available) that may be distributed.
AVAILABLE = "lifebank:available"
