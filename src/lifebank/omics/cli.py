"""`lifebank omics ...`: import VCF/BCF files, query regions, count alleles, export, cohorts."""

from __future__ import annotations

import json
import math
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from lifebank.cli import context
from lifebank.cli.context import cli_actor
from lifebank.cli.output import FormatOpt, OutputFormat, emit_rows, err_console, print_json, print_rejection, say, text
from lifebank.errors import RowsRejected, ValidationFailed
from lifebank.messages import Msg

app = typer.Typer(name="omics", help="Multi-omics variant store: VCF import, region/AF queries, cohorts.",
                  no_args_is_help=True)
cohort_app = typer.Typer(help="Cohorts across biobank and genotypes.", no_args_is_help=True)
app.add_typer(cohort_app, name="cohort")


class QueryFormat(StrEnum):
    table = "table"
    json = "json"
    tsv = "tsv"


class Engine(StrEnum):
    embedded = "embedded"
    spark = "spark"


DatasetOpt = Annotated[str | None, typer.Option("--dataset", help="Dataset name (default: every dataset)")]
QueryFormatOpt = Annotated[QueryFormat, typer.Option("--format", help="table, json or tsv")]
SITE_COLUMNS = ["dataset", "chrom", "pos", "id", "ref", "alt", "qual", "filter"]
AF_COLUMNS = ["CHROM", "POS", "REF", "ALT", "AC", "AN", "AF"]


def _tsv(rows: list[dict[str, object]], columns: list[str]) -> None:
    out = sys.stdout
    out.write("\t".join(columns) + "\n")
    for row in rows:
        out.write("\t".join("." if row.get(c) is None else str(row.get(c)) for c in columns) + "\n")


def _emit(rows: list[dict[str, object]], fmt: QueryFormat, columns: list[str]) -> None:
    if fmt is QueryFormat.tsv:
        _tsv(rows, columns)
    else:
        emit_rows(rows, OutputFormat(fmt.value), columns=columns)


def _read_samples(path: Path | None) -> list[str] | None:
    if path is None:
        return None
    samples = [line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]
    if not samples:
        raise ValidationFailed("{path}: no sample IDs (one VCF sample ID per line)", path=str(path))
    return samples


@app.command("import")
def import_cmd(
    file: Annotated[Path, typer.Argument(help="VCF or BCF (plain or bgzipped)")],
    dataset: Annotated[str, typer.Option("--dataset", help="Dataset to add this file to (created if new)")],
    sample_map: Annotated[Path | None, typer.Option("--sample-map",
                                                    help="CSV vcf_sample,participant,specimen_barcode")] = None,
    build: Annotated[str, typer.Option("--build", help="GRCh37 or GRCh38")] = "GRCh38",
    info: Annotated[str | None, typer.Option("--info", help="INFO fields to keep, comma-separated "
                                                              "(default: every declared field)")] = None,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Import one VCF/BCF as a new batch: all or nothing; unmapped samples are listed, never dropped."""
    from lifebank.cli.progress import progress_bar
    from lifebank.omics import service
    from lifebank.omics.ingest import record_count_hint

    db = context.database()
    mapping = sample_map.read_text(encoding="utf-8") if sample_map is not None else None
    keep = [f.strip() for f in info.split(",") if f.strip()] if info is not None else None
    try:
        with progress_bar(text(Msg("importing {file}", file=file.name)), record_count_hint(file),
                          unit="records") as advance:
            result = service.import_vcf(db, context.settings().data_dir, file, dataset=dataset, actor=cli_actor(),
                                        genome_build=build, sample_map=mapping, info_fields=keep,
                                        on_progress=advance)
    except RowsRejected as exc:
        print_rejection(exc, fmt)
        raise typer.Exit(1) from None
    if fmt is OutputFormat.json:
        print_json(result.as_dict())
        return
    say(Msg("imported {file} into {dataset} batch {batch}: {records} records → {sites} biallelic sites, "
            "{samples} samples ({linked} linked)", file=file.name, dataset=result.dataset, batch=result.batch,
            records=result.records, sites=result.sites, samples=result.samples, linked=result.mapped_samples))
    if result.unmapped_samples:
        shown = ", ".join(result.unmapped_samples[:20]) + (" …" if len(result.unmapped_samples) > 20 else "")
        err_console.print(text(Msg("{count} sample not linked to a participant: {samples}",
                                   plural="{count} samples not linked to a participant: {samples}",
                                   count=len(result.unmapped_samples), samples=shown)),
                          style="yellow", markup=False, highlight=False)
    if result.map_rows_not_in_file:
        err_console.print(text(Msg("sample map rows for samples not in the file: {samples}",
                                   samples=", ".join(result.map_rows_not_in_file[:20]))),
                          style="yellow", markup=False, highlight=False)


@app.command("datasets")
def datasets_cmd(fmt: FormatOpt = OutputFormat.table) -> None:
    """List datasets."""
    from lifebank.omics import service

    emit_rows(service.list_datasets(context.database()), fmt,
              columns=["name", "genome_build", "batches", "samples", "sites", "created_at"])


@app.command("samples")
def samples_cmd(dataset: Annotated[str, typer.Argument()], fmt: FormatOpt = OutputFormat.table) -> None:
    """List a dataset's VCF samples and their biobank links (unlinked ones show no participant)."""
    from lifebank.omics import service

    emit_rows(service.list_samples(context.database(), dataset), fmt,
              columns=["batch", "vcf_sample", "participant", "specimen_barcode"])


@app.command("rebuild-planes")
def rebuild_planes_cmd(dataset: DatasetOpt = None, fmt: FormatOpt = OutputFormat.table) -> None:
    """Write the allele planes of batches imported before them (faster subset allele counts).

    Batch contigs that already have their planes are left alone; each file written is catalogued with its
    SHA-256 and ledgered. Safe to run again after an interruption."""
    from lifebank.omics.planes_rebuild import rebuild_planes

    outcomes = rebuild_planes(context.database(), context.settings().data_dir, actor=cli_actor(), dataset=dataset)
    if fmt is OutputFormat.json:
        print_json([o.as_dict() for o in outcomes])
        return
    built = [o for o in outcomes if o.status == "built"]
    say(Msg("allele planes written for {built} of {total} batch contigs ({sites} sites); the others had them",
            built=len(built), total=len(outcomes), sites=sum(o.sites for o in built)))


@app.command("query")
def query_cmd(
    region: Annotated[str | None, typer.Option("--region", help="CHR:START-END (1-based, inclusive)")] = None,
    rsid: Annotated[str | None, typer.Option("--id", help="Variant ID such as rs123")] = None,
    gene: Annotated[str | None, typer.Option("--gene", help="Gene symbol (GRCh38 datasets)")] = None,
    dataset: DatasetOpt = None,
    fmt: QueryFormatOpt = QueryFormat.table,
) -> None:
    """Variants (biallelic sites) in a region, with an ID, or in a gene."""
    if sum(x is not None for x in (region, rsid, gene)) != 1:
        raise ValidationFailed("give exactly one of --region, --id, --gene")
    rows = _direct_region_sites(region, dataset) if region is not None else None
    if rows is None:
        rows = _service_sites(region, rsid, gene, dataset)
    if fmt is QueryFormat.json:
        print_json(rows)
        return
    for row in rows:
        row["info"] = json.dumps(row["info"]) if row.get("info") is not None else None
    _emit(rows, fmt, SITE_COLUMNS)


def _service_sites(region: str | None, rsid: str | None, gene: str | None,
                   dataset: str | None) -> list[dict[str, object]]:
    from lifebank.omics import service

    db, data_dir = context.database(), context.settings().data_dir
    if region is not None:
        return service.variants_in_region(db, data_dir, region, dataset=dataset)[1]
    if rsid is not None:
        return service.variants_by_id(db, data_dir, rsid, dataset=dataset)
    return service.variants_in_gene(db, data_dir, gene or "", dataset=dataset)[1]


def _direct_region_sites(region: str, dataset: str | None) -> list[dict[str, object]] | None:
    """The region's sites read without the ORM (`omics.direct_reads`); None: take the service path."""
    from lifebank.cli import direct
    from lifebank.omics import direct_reads

    return direct.read(lambda conn: direct_reads.variants_in_region(conn, region, dataset=dataset))


@app.command("af")
def af_cmd(
    region: Annotated[str, typer.Option("--region", help="CHR:START-END")],
    dataset: DatasetOpt = None,
    samples: Annotated[Path | None, typer.Option("--samples", help="File of VCF sample IDs, one per line")] = None,
    cohort: Annotated[str | None, typer.Option("--cohort", help="A saved cohort as the sample subset")] = None,
    engine: Annotated[Engine, typer.Option("--engine", help="embedded (DuckDB/NumPy in this process) or spark "
                                                            "(LIFEBANK_SPARK_MASTER, default local[2])")]
    = Engine.embedded,
    fmt: QueryFormatOpt = QueryFormat.tsv,
) -> None:
    """AC, AN and AF per biallelic site over all samples or a subset (as bcftools +fill-tags computes them)."""
    subset = _read_samples(samples)
    counts = None
    if engine is Engine.spark:
        from lifebank.omics import service
        from lifebank.omics.cohorts import cohort_samples
        from lifebank.omics.regions import parse_region
        from lifebank.omics.spark_counts import allele_counts_spark

        db = context.database()
        if cohort is not None:
            subset = cohort_samples(db, cohort)
        elif subset is not None:
            service.check_known_samples(db, subset, dataset)  # as the embedded engine refuses unknown IDs
        counts = allele_counts_spark(service.store_root(context.settings().data_dir),
                                     service.batch_refs(db, dataset), parse_region(region), subset)
    elif cohort is None:  # a cohort is resolved by the cohort service (biobank links): the service path
        from lifebank.cli import direct
        from lifebank.omics import direct_reads

        counts = direct.read(lambda conn: direct_reads.allele_counts(conn, region, dataset=dataset, samples=subset))
    if counts is None:
        from lifebank.omics import service

        counts = service.allele_counts(context.database(), context.settings().data_dir, region, dataset=dataset,
                                       samples=subset, cohort=cohort)
    if fmt is QueryFormat.tsv:  # columnar: the same text as `_tsv` over `as_rows()`, without a dict per site
        sys.stdout.write("\t".join(AF_COLUMNS) + "\n" + counts.to_tsv())
        return
    rows = counts.as_rows()
    if fmt is QueryFormat.json:
        for row, af in zip(rows, counts.af_values.tolist(), strict=True):
            row["AF"] = None if math.isnan(af) else af
        print_json(rows)
        return
    _emit(rows, fmt, AF_COLUMNS)


@app.command("genotypes")
def genotypes_cmd(
    region: Annotated[str, typer.Option("--region")],
    dataset: DatasetOpt = None,
    samples: Annotated[Path | None, typer.Option("--samples", help="File of VCF sample IDs")] = None,
    fmt: QueryFormatOpt = QueryFormat.table,
) -> None:
    """Non-reference calls and no-calls of the samples in a region (homozygous-REF calls are implied)."""
    from lifebank.omics import service
    from lifebank.omics.vcf_export import genotype_text

    rows = service.genotypes(context.database(), context.settings().data_dir, region, dataset=dataset,
                             samples=_read_samples(samples))
    for row in rows:
        row["gt"] = genotype_text(int(row["a1"]), int(row["a2"]), bool(row["phased"]))  # type: ignore[arg-type]
    _emit(rows, fmt, ["dataset", "chrom", "pos", "ref", "alt", "sample_id", "gt", "dp", "gq"])


@app.command("export")
def export_cmd(
    region: Annotated[str, typer.Option("--region")],
    dataset: Annotated[str, typer.Option("--dataset")],
    samples: Annotated[Path | None, typer.Option("--samples", help="File of VCF sample IDs")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="VCF file to write (default stdout)")] = None,
) -> None:
    """Export a region of a dataset (optionally a sample subset) as VCF with GT."""
    from lifebank.omics import service

    text = service.export_vcf(context.database(), context.settings().data_dir, region, dataset=dataset,
                              samples=_read_samples(samples))
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text)
        err_console.print(text(Msg("wrote {path}", path=str(output))), markup=False, highlight=False)


CRITERIA_HELP = "consent_code, sex, site, specimen_type, specimen_status, min_quantity, dataset, variant, gene, " \
                "region, max_af"


def _criteria(pairs: list[str]) -> object:
    from lifebank.omics.cohorts import CohortCriteria

    data: dict[str, object] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or key not in CohortCriteria.__dataclass_fields__:
            raise ValidationFailed("criterion {pair!r}: use KEY=VALUE with KEY one of {keys}", pair=pair,
                                   keys=CRITERIA_HELP)
        data[key] = value
    return CohortCriteria.from_dict(data)


@cohort_app.command("create")
def cohort_create(
    name: Annotated[str, typer.Argument()],
    where: Annotated[list[str], typer.Option("--where", "-w", help=f"KEY=VALUE, repeatable: {CRITERIA_HELP}")],
    allow_empty: Annotated[bool, typer.Option("--allow-empty",
                                              help="Save even when no one meets the criteria")] = False,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Build a cohort from participant, specimen and genotype criteria and save it by name.

    Specimen type, status and sex take the biobank's codes (DNA, available, F …); a cohort nobody meets is
    refused unless --allow-empty says it is meant (its members are fixed when it is saved).
    """
    from lifebank.omics import cohorts

    _, members = cohorts.save_cohort(context.database(), context.settings().data_dir, name,
                                     _criteria(where), actor=cli_actor(),  # type: ignore[arg-type]
                                     allow_empty=allow_empty)
    if fmt is OutputFormat.json:
        print_json({"name": name, "size": len(members),
                    "members": [{"participant": m.participant, "vcf_samples": list(m.vcf_samples)} for m in members]})
    else:
        say(Msg("saved cohort {name}: {count} member", plural="saved cohort {name}: {count} members", name=name,
                count=len(members)))


@cohort_app.command("list")
def cohort_list(fmt: FormatOpt = OutputFormat.table) -> None:
    """List saved cohorts."""
    from lifebank.omics import cohorts

    rows = cohorts.list_cohorts(context.database())
    if fmt is OutputFormat.json:
        print_json(rows)
        return
    emit_rows([{**r, "criteria": json.dumps(r["criteria"])} for r in rows], fmt,
              columns=["name", "size", "criteria", "created_by", "created_at"])


@cohort_app.command("show")
def cohort_show(name: Annotated[str, typer.Argument()], fmt: FormatOpt = OutputFormat.table) -> None:
    """A cohort's criteria, size and members."""
    from lifebank.omics import cohorts

    cohort = cohorts.get_cohort(context.database(), name)
    if fmt is OutputFormat.json:
        print_json(cohort)
        return
    say(Msg("{name}: {count} member; criteria {criteria}", plural="{name}: {count} members; criteria {criteria}",
            name=cohort["name"], count=cohort["size"], criteria=json.dumps(cohort["criteria"])))
    emit_rows([{"participant": m["participant"], "vcf_samples": ",".join(m["vcf_samples"])}
               for m in cohort["members"]], fmt, columns=["participant", "vcf_samples"])  # type: ignore[union-attr]


@cohort_app.command("delete")
def cohort_delete(name: Annotated[str, typer.Argument()],
                  yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation")] = False,
                  fmt: FormatOpt = OutputFormat.table) -> None:
    """Delete a saved cohort; the ledger keeps its criteria, size and a digest of its members."""
    from lifebank.omics import cohorts

    db = context.database()
    cohort = cohorts.get_cohort(db, name)
    if not yes and sys.stdin.isatty():
        question = text(Msg("delete cohort {name} ({count} member)?", plural="delete cohort {name} ({count} members)?",
                            name=name, count=cohort["size"]))
        if not typer.confirm(question):
            raise typer.Exit(1)
    gone = cohorts.delete_cohort(db, name, actor=cli_actor())
    if fmt is OutputFormat.json:
        print_json(gone)
    else:
        say(Msg("deleted cohort {name}", name=name))
