"""A MAF (TCGA / cBioPortal mutation annotation format) -> `SomaticVariant`s with their `HGVSp_Short`.

Pure. Required columns: Hugo_Symbol, Chromosome, Start_Position, Reference_Allele, Tumor_Seq_Allele2,
Variant_Classification and Tumor_Sample_Barcode (a missing one is named, nothing is read). `HGVSp_Short`
(else `HGVSp`) gives the protein change. A MAF of several tumours needs the tumour's barcode. The build is
`NCBI_Build` when present (GRCh37 / hg19 / 37 are GRCh37). MAF alleles use `-` for an empty allele; they are
converted to VCF style only where the position allows it (insertions keep MAF coordinates and are matched by
protein change, not by allele).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable

from lifebank.errors import RowError, RowsRejected, ValidationFailed
from lifebank.messages import Msg
from lifebank.precision.liftover import normalise_contig
from lifebank.precision.protein import short_protein_change
from lifebank.precision.vcf_input import SomaticVariant, VariantInput

REQUIRED = ("Hugo_Symbol", "Chromosome", "Start_Position", "Reference_Allele", "Tumor_Seq_Allele2",
            "Variant_Classification", "Tumor_Sample_Barcode")
BUILDS = {"grch37": "GRCh37", "hg19": "GRCh37", "37": "GRCh37", "grch38": "GRCh38", "hg38": "GRCh38", "38": "GRCh38"}


def parse_maf(lines: Iterable[str], *, declared_genome: str | None = None, sample: str | None = None) -> VariantInput:
    body = (line for line in lines if not line.startswith("#") and line.strip())
    reader = csv.DictReader(body, delimiter="\t")
    columns = reader.fieldnames or []
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise RowsRejected(Msg("MAF"), [RowError(1, c, Msg("required column is missing")) for c in missing])
    rows = list(reader)
    barcodes = sorted({row["Tumor_Sample_Barcode"] for row in rows})
    if sample is None and len(barcodes) > 1:
        raise ValidationFailed("the MAF holds {count} tumours; name one with --sample ({samples})",
                               count=len(barcodes), samples=", ".join(barcodes[:10]))
    chosen = sample or (barcodes[0] if barcodes else None)
    if sample is not None and sample not in barcodes:
        raise ValidationFailed("sample {sample!r} is not a Tumor_Sample_Barcode of the MAF", sample=sample)
    builds = {BUILDS.get(row.get("NCBI_Build", "").strip().lower()) for row in rows} - {None}
    genome = declared_genome or (builds.pop() if len(builds) == 1 else "GRCh37")
    warnings: list[Msg] = []
    if declared_genome and builds and declared_genome not in builds:
        raise ValidationFailed("the MAF is declared {declared} but its NCBI_Build column says {found}",
                               declared=declared_genome, found=", ".join(sorted(b for b in builds if b)))
    variants, errors = [], []
    for line, row in enumerate(rows, start=2):
        if row["Tumor_Sample_Barcode"] != chosen:
            continue
        start = row["Start_Position"].strip()
        if not start.isdigit():
            errors.append(RowError(line, "Start_Position", Msg("{value!r} is not a positive whole number",
                                                               value=start)))
            continue
        ref, alt = row["Reference_Allele"].strip(), row["Tumor_Seq_Allele2"].strip()
        if not ref or not alt:
            errors.append(RowError(line, "Reference_Allele", Msg("an allele is empty (MAF writes - for none)")))
            continue
        protein = short_protein_change(row.get("HGVSp_Short") or row.get("HGVSp"))
        variants.append(SomaticVariant(line, normalise_contig(row["Chromosome"]), int(start), ref, alt,
                                       gene=row["Hugo_Symbol"].strip() or None, protein_change=protein,
                                       consequence=row["Variant_Classification"].strip(), annotated=True))
    if errors:
        raise RowsRejected(Msg("MAF"), errors, rows=len(rows))
    return VariantInput(variants, genome, chosen, "MAF", warnings)
