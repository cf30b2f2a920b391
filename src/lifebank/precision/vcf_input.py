"""A tumour's somatic VCF -> one `SomaticVariant` per ALT allele, with the protein change the file carries.

Pure. Protein changes come only from the input's own annotation: VEP's `CSQ` (the PICK-ed, else the canonical /
MANE Select, else the first consequence with an HGVSp) or SnpEff's `ANN` (its first, most severe, entry), since
no transcript models are available offline. A raw VCF's variants carry none: the matcher then uses exact
GRCh38 alleles of the knowledge base and reports everything else at gene level.

Checked, each naming the record (line) and the reason, all or nothing: the header line and a tumour sample
column (a VCF of sites only is refused, since nothing says the variants are a tumour's); POS a positive whole
number; REF/ALT bases. Contig names are normalised (`chr7` = `7`). The genome build is read from the header
(`##reference`, `##assembly`, `##contig` lengths, a liftover note) and compared with the declared one: a GRCh37
file declared as GRCh38 is refused when the header proves it, and warned about when nothing tells.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from lifebank.errors import RowError, RowsRejected, ValidationFailed
from lifebank.messages import Msg
from lifebank.precision.liftover import normalise_contig
from lifebank.precision.protein import short_protein_change

# primary chromosome lengths of each build (NCBI): they tell the builds apart in `##contig` lines, and a
# position past the end of its chromosome proves the declared build wrong
_NAMES = [str(i) for i in range(1, 23)] + ["X", "Y"]
LENGTHS = {
    "GRCh37": dict(zip(_NAMES, (249250621, 243199373, 198022430, 191154276, 180915260, 171115067, 159138663,
                                146364022, 141213431, 135534747, 135006516, 133851895, 115169878, 107349540,
                                102531392, 90354753, 81195210, 78077248, 59128983, 63025520, 48129895, 51304566,
                                155270560, 59373566), strict=True)),
    "GRCh38": dict(zip(_NAMES, (248956422, 242193529, 198295559, 190214555, 181538259, 170805979, 159345973,
                                145138636, 138394717, 133797422, 135086622, 133275309, 114364328, 107043718,
                                101991189, 90338345, 83257441, 80373285, 58617616, 64444167, 46709983, 50818468,
                                156040895, 57227415), strict=True)),
}
NONSYNONYMOUS = frozenset({
    "missense_variant", "stop_gained", "stop_lost", "start_lost", "frameshift_variant", "inframe_insertion",
    "inframe_deletion", "protein_altering_variant", "splice_acceptor_variant", "splice_donor_variant",
    "Missense_Mutation", "Nonsense_Mutation", "Nonstop_Mutation", "Frame_Shift_Del", "Frame_Shift_Ins",
    "In_Frame_Del", "In_Frame_Ins", "Splice_Site", "Translation_Start_Site",
})
TRUNCATING = frozenset({"stop_gained", "frameshift_variant", "splice_acceptor_variant", "splice_donor_variant",
                        "Nonsense_Mutation", "Frame_Shift_Del", "Frame_Shift_Ins", "Splice_Site"})
_BASES = re.compile(r"^[ACGTNacgtn]+$")
_ALT = re.compile(r"^([ACGTNacgtn]+|\*|<[^>]+>|\.)$")
_CSQ_FORMAT = re.compile(r'Format: ([^"]+)"')


@dataclass(slots=True)
class SomaticVariant:
    line: int
    chrom: str
    pos: int
    ref: str
    alt: str
    gene: str | None = None
    protein_change: str | None = None
    consequence: str | None = None
    vaf: float | None = None
    population_af: float | None = None
    annotated: bool = False


@dataclass
class VariantInput:
    variants: list[SomaticVariant]
    genome: str
    sample: str | None
    annotation: str          # "VEP CSQ" | "SnpEff ANN" | "MAF" | "none"
    warnings: list[Msg] = field(default_factory=list)


def open_text(path: Path) -> Iterator[str]:
    opener = gzip.open if path.read_bytes()[:2] == b"\x1f\x8b" else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as handle:  # type: ignore[operator]
        yield from handle


def build_from_header(header: list[str]) -> str | None:
    """GRCh37 / GRCh38 as the header proves it (contig lengths first, then reference names), or None."""
    for line in header:
        if line.startswith("##contig=<"):
            match_id = re.search(r"ID=([^,>]+)", line)
            match_len = re.search(r"length=(\d+)", line)
            if match_id and match_len:
                contig, length = normalise_contig(match_id.group(1)), int(match_len.group(1))
                for build, lengths in LENGTHS.items():
                    if lengths.get(contig) == length:
                        return build
    text = "\n".join(line.lower() for line in header if line.lower().startswith(("##reference", "##assembly",
                                                                                  "##liftoverchainfile")))
    if re.search(r"grch38|hg38|hs38|to_?hg38|tohg38", text):
        return "GRCh38"
    if re.search(r"grch37|hg19|b37|hs37|human_g1k_v37", text):
        return "GRCh37"
    return None


def _csq_fields(header: list[str], tag: str) -> list[str] | None:
    for line in header:
        if line.startswith(f"##INFO=<ID={tag},"):
            match = _CSQ_FORMAT.search(line)
            if match:
                return [f.strip() for f in match.group(1).strip().strip("'").split("|")]
            if tag == "ANN":
                return ["Allele", "Annotation", "Annotation_Impact", "Gene_Name", "Gene_ID", "Feature_Type",
                        "Feature_ID", "Transcript_BioType", "Rank", "HGVS.c", "HGVS.p"]
    return None


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value not in (None, "", ".") else None
    except ValueError:
        return None


def _pick_csq(entries: list[dict[str, str]], alt: str) -> dict[str, str] | None:
    mine = [e for e in entries if e.get("Allele") in (alt, alt[1:] or "-", "-")] or entries
    for test in (lambda e: e.get("PICK") == "1", lambda e: e.get("MANE_SELECT"), lambda e: e.get("CANONICAL") == "YES",
                 lambda e: e.get("HGVSp")):
        for entry in mine:
            if test(entry):
                return entry
    return mine[0] if mine else None


def _population_af(entry: dict[str, str]) -> float | None:
    values = [_float(entry.get(key)) for key in ("MAX_AF", "gnomADe_AF", "gnomAD_AF", "AF")]
    found = [v for v in values if v is not None]
    return max(found) if found else None


def _annotate(variant: SomaticVariant, info: dict[str, str], csq: list[str] | None, ann: list[str] | None) -> None:
    if csq and "CSQ" in info:
        entries = [dict(zip(csq, item.split("|"), strict=False)) for item in info["CSQ"].split(",")]
        entry = _pick_csq(entries, variant.alt)
        if entry:
            variant.gene = entry.get("SYMBOL") or None
            variant.protein_change = short_protein_change(entry.get("HGVSp"))
            variant.consequence = (entry.get("Consequence") or "").split("&")[0] or None
            variant.population_af = _population_af(entry)
            variant.annotated = True
    elif ann and "ANN" in info:
        for item in info["ANN"].split(","):
            entry = dict(zip(ann, item.split("|"), strict=False))
            if entry.get("Allele") in (variant.alt, None):
                variant.gene = entry.get("Gene_Name") or None
                variant.protein_change = short_protein_change(entry.get("HGVS.p"))
                variant.consequence = (entry.get("Annotation") or "").split("&")[0] or None
                variant.annotated = True
                break


def _tumour_column(samples: list[str], header: list[str], wanted: str | None) -> int:
    if not samples:
        raise ValidationFailed("the VCF has no sample column: a tumour sample column is required (a sites-only "
                               "VCF does not say whose variants these are)")
    if wanted:
        if wanted not in samples:
            raise ValidationFailed("sample {sample!r} is not a column of the VCF (columns: {samples})",
                                   sample=wanted, samples=", ".join(samples))
        return samples.index(wanted)
    if len(samples) == 1:
        return 0
    for line in header:
        if line.lower().startswith("##tumor_sample="):
            name = line.split("=", 1)[1].strip()
            if name in samples:
                return samples.index(name)
    tumours = [i for i, s in enumerate(samples) if re.search(r"tumou?r|-01[A-Z]?$", s, re.IGNORECASE)]
    if len(tumours) == 1:
        return tumours[0]
    raise ValidationFailed("the VCF has {count} samples and none is marked as the tumour (##tumor_sample): "
                           "name it ({samples})", count=len(samples), samples=", ".join(samples))


def parse_vcf(lines: Iterable[str], *, declared_genome: str = "GRCh38", sample: str | None = None) -> VariantInput:
    """Parse VCF text; errors name the line and column, and nothing is returned while any record is bad."""
    header: list[str] = []
    columns: list[str] | None = None
    variants: list[SomaticVariant] = []
    errors: list[RowError] = []
    csq = ann = None
    column = 0
    for number, raw in enumerate(lines, start=1):
        line = raw.rstrip("\n\r")
        if not line:
            continue
        if columns is None:
            if line.startswith("##"):
                header.append(line)
                continue
            if not line.startswith("#CHROM"):
                raise RowsRejected(Msg("VCF"), [RowError(number, "#CHROM", Msg("the header line #CHROM … is "
                                                                              "missing before the first record"))])
            columns = line[1:].split("\t")
            if len(columns) < 8:
                reason = Msg("the header has {count} columns, a VCF has at least 8", count=len(columns))
                raise RowsRejected(Msg("VCF"), [RowError(number, "#CHROM", reason)])
            samples = columns[9:] if len(columns) > 9 else []
            column = _tumour_column(samples, header, sample)
            csq, ann = _csq_fields(header, "CSQ"), _csq_fields(header, "ANN")
            continue
        fields = line.split("\t")
        if len(fields) < len(columns):
            errors.append(RowError(number, "line", Msg("{count} fields, the header has {expected}",
                                                       count=len(fields), expected=len(columns))))
            continue
        chrom, pos_text, _id, ref, alts = fields[0], fields[1], fields[2], fields[3], fields[4]
        if not pos_text.isdigit() or int(pos_text) < 1:
            errors.append(RowError(number, "POS", Msg("{value!r} is not a positive whole number", value=pos_text)))
            continue
        if pos_text.isdigit() and int(pos_text) > LENGTHS.get(declared_genome, {}).get(normalise_contig(chrom),
                                                                                       1 << 40):
            errors.append(RowError(number, "POS", Msg("{pos} is past the end of chromosome {chrom} in {genome}: "
                                                      "is the file of another genome build?", pos=pos_text,
                                                      chrom=chrom, genome=declared_genome)))
            continue
        if not _BASES.match(ref):
            errors.append(RowError(number, "REF", Msg("{value!r} is not a sequence of A, C, G, T, N", value=ref)))
            continue
        info = dict(item.split("=", 1) if "=" in item else (item, "") for item in fields[7].split(";")) \
            if fields[7] != "." else {}
        fmt = fields[8].split(":") if len(fields) > 8 else []
        values = fields[9 + column].split(":") if len(fields) > 9 + column else []
        call = dict(zip(fmt, values, strict=False))
        for alt in alts.split(","):
            if not _ALT.match(alt):
                errors.append(RowError(number, "ALT", Msg("{value!r} is not an allele", value=alt)))
                continue
            if alt in (".", "*") or alt.startswith("<"):
                continue
            variant = SomaticVariant(number, normalise_contig(chrom), int(pos_text), ref.upper(), alt.upper())
            variant.vaf = _float(info.get("TVAF")) or _float(call.get("AF"))
            _annotate(variant, info, csq, ann)
            variants.append(variant)
    if columns is None:
        raise RowsRejected(Msg("VCF"), [RowError(1, "#CHROM", Msg("no header line: this is not a VCF"))])
    if errors:
        raise RowsRejected(Msg("VCF"), errors, rows=len(variants) + len(errors))
    warnings: list[Msg] = []
    proven = build_from_header(header)
    if proven is not None and proven != declared_genome:
        raise ValidationFailed("the VCF is declared {declared} but its header says {proven} (contig lengths or "
                               "reference); declare --genome {proven} and it is lifted over",
                               declared=declared_genome, proven=proven)
    if proven is None:
        warnings.append(Msg("the VCF header does not name its genome build; it was taken as {declared} as declared",
                            declared=declared_genome))
    annotation = "VEP CSQ" if csq else "SnpEff ANN" if ann else "none"
    sample_name = columns[9 + column] if len(columns) > 9 else None
    return VariantInput(variants, declared_genome, sample_name, annotation, warnings)


def read_vcf(path: Path, *, declared_genome: str = "GRCh38", sample: str | None = None) -> VariantInput:
    return parse_vcf(open_text(path), declared_genome=declared_genome, sample=sample)
