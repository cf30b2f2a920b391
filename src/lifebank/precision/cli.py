"""Terminal commands of precision oncology: `lifebank precision report|reports|sign|rerun|fhir|kb`."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from lifebank.cli.context import cli_actor, database, settings
from lifebank.cli.output import FormatOpt, OutputFormat, emit_rows, print_json, say
from lifebank.messages import Msg

if TYPE_CHECKING:
    from lifebank.db.engine import Database

app = typer.Typer(name="precision", no_args_is_help=True,
                  help="Precision oncology: tumour variants, copy numbers and fusions tied to therapies (AMP tiers).")
kb_app = typer.Typer(help="The oncology knowledge base (MOAlmanac, CIViC, hotspots, OncoTree).", no_args_is_help=True)
app.add_typer(kb_app, name="kb")


class ReportFormat(StrEnum):
    json = "json"
    html = "html"
    pdf = "pdf"


class Genome(StrEnum):
    GRCh37 = "GRCh37"
    GRCh38 = "GRCh38"


def _read(path: Path | None) -> bytes | None:
    return path.read_bytes() if path is not None else None


@app.command("report")
def report(
    tumour_type: Annotated[str, typer.Option("--tumour-type", help="OncoTree code, e.g. BRCA, LUAD, MEL; with "
                                             "--participant it may be left out and is taken from the clinical "
                                             "record")] = "",
    vcf: Annotated[Path | None, typer.Option("--vcf", exists=True, dir_okay=False,
                                             help="somatic VCF (raw, VEP CSQ or SnpEff ANN; .gz or plain)")] = None,
    maf: Annotated[Path | None, typer.Option("--maf", exists=True, dir_okay=False, help="MAF with HGVSp_Short")] = None,
    cna: Annotated[Path | None, typer.Option("--cna", exists=True, dir_okay=False,
                                             help="copy-number segments (PCGR nMajor/nMinor, or SEG log2)")] = None,
    fusions: Annotated[Path | None, typer.Option("--fusions", exists=True, dir_okay=False,
                                                 help="fusions (PCGR FusionGene, or cBioPortal SV)")] = None,
    participant: Annotated[str | None, typer.Option(
        "--participant", help="keep the report as a draft linked to this participant")] = None,
    specimen: Annotated[str | None, typer.Option("--specimen", help="the tumour specimen's barcode")] = None,
    genome: Annotated[Genome | None, typer.Option("--genome", help="build of the input (GRCh37 is lifted over); "
                                                  "default GRCh38 for a VCF, the MAF's NCBI_Build")] = None,
    sample: Annotated[str | None, typer.Option("--sample", help="tumour sample column (VCF) or barcode (MAF)")] = None,
    purity: Annotated[float | None, typer.Option("--purity", help="tumour purity, 0-1 (SEG log2 conversion)")] = None,
    ploidy: Annotated[float | None, typer.Option("--ploidy", help="tumour ploidy (default 2)")] = None,
    target_mb: Annotated[float, typer.Option("--target-mb", help="TMB target size in Mb (default 34, exome)")] = 34.0,
    fmt: Annotated[ReportFormat, typer.Option("--format", help="json, html or pdf")] = ReportFormat.json,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="write to this file (required for pdf)")] = None,
) -> None:
    """Interpret one tumour: one entry per input variant with its AMP/ASCO/CAP tier and therapies."""
    from lifebank.precision import service
    from lifebank.precision.run import Options

    files = {k: v for k, v in (("vcf", _read(vcf)), ("maf", _read(maf)), ("cna", _read(cna)),
                               ("fusions", _read(fusions))) if v is not None}
    if not tumour_type and not participant:
        raise typer.BadParameter(str(Msg("give the tumour type (an OncoTree code)")), param_hint="--tumour-type")
    options = Options(tumour_type=tumour_type, genome=genome.value if genome else None, sample=sample, purity=purity,
                      ploidy=ploidy, target_size_mb=target_mb)
    if fmt is ReportFormat.pdf and output is None:
        raise typer.BadParameter(str(Msg("use --output FILE for {format}", format="pdf")), param_hint="--output")
    if participant or specimen:
        kept = service.create_report(database(), settings().data_dir, files, options, actor=cli_actor(),
                                     participant=participant, specimen=specimen)
    else:
        kept = {"report": None, "version": None, "status": "draft", "participant": None, "specimen": None,
                "label": "", "signed_by": None, "signed_at": None, "signature_meaning": None,
                "content": service.build_report(_bank_if_any(), settings().data_dir, files, options)}
    _emit(kept, fmt, output)


def _bank_if_any() -> Database | None:
    """The bank whose pointers name the releases in force; None for a data folder with no database yet: an
    unkept report needs no database, and where there is none no release was loaded (the vendored one holds)."""
    cfg = settings()
    if cfg.is_sqlite and not cfg.database_url:
        from sqlalchemy.engine import make_url

        found = make_url(cfg.effective_database_url).database
        if not found or not Path(found).expanduser().is_file():
            return None
    return database()


def _emit(kept: dict, fmt: ReportFormat, output: Path | None) -> None:
    from lifebank.cli.output import cli_language
    from lifebank.precision.render import report_html

    if fmt is ReportFormat.json:
        content = dict(kept["content"])
        if kept.get("report"):
            content["report"] = {"id": kept["report"], "version": kept["version"], "status": kept["status"]}
        if output:
            import json

            output.write_text(json.dumps(content, default=str, indent=1))
        else:
            print_json(content)
        return
    language = cli_language()
    if fmt is ReportFormat.html:
        html = report_html(kept, language)
        if output:
            output.write_text(html, encoding="utf-8")
        else:
            sys.stdout.write(html)
        return
    from lifebank.i18n import translations
    from lifebank.precision.pdf import report_pdf

    gettext = translations(language).gettext if language and language != "en" else (lambda s: s)
    assert output is not None
    output.write_bytes(report_pdf(kept, gettext, chinese=bool(language and language.startswith("zh"))))
    say(Msg("wrote {path}", path=str(output)))


@app.command("reports")
def reports(participant: Annotated[str | None, typer.Option("--participant")] = None,
            fmt: FormatOpt = OutputFormat.table) -> None:
    """Kept reports (latest version of each), newest first."""
    from lifebank.precision import service

    rows = service.list_reports(database(), participant=participant, limit=1000)
    emit_rows(rows, fmt, columns=["report", "version", "status", "participant", "tumour_type", "label", "signed_by"])


@app.command("show")
def show(report_no: Annotated[str, typer.Argument(help="report number, e.g. PR-000001")],
         version: Annotated[int | None, typer.Option("--version")] = None,
         fmt: Annotated[ReportFormat, typer.Option("--format")] = ReportFormat.json,
         output: Annotated[Path | None, typer.Option("--output", "-o")] = None) -> None:
    """One kept report (latest version unless --version) as JSON, HTML or PDF."""
    from lifebank.precision import service

    _emit(service.get_report(database(), report_no, version), fmt, output)


@app.command("sign")
def sign(report_no: Annotated[str, typer.Argument(help="report number")],
         meaning: Annotated[str, typer.Option("--meaning", help="approval, review or responsibility")] = "approval",
         username: Annotated[str | None, typer.Option("--user", help="the signer's LifeBank user name")] = None,
         password_stdin: Annotated[bool, typer.Option("--password-stdin",
                                                      help="read the password from standard input")] = False,
         ) -> None:
    """Sign the latest draft: re-enter your password; the report becomes final and immutable."""
    from lifebank.precision import service

    user = username or cli_actor()
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt(str(Msg("password for {user}", user=user)), hide_input=True)
    done = service.sign_report(database(), settings(), report_no, username=user, password=password, meaning=meaning)
    say(Msg("{report} version {version} signed by {user}: final", report=done["report"], version=done["version"],
            user=done["signed_by"]))


@app.command("rerun")
def rerun(report_no: Annotated[str, typer.Argument(help="report number")], fmt: FormatOpt = OutputFormat.table) -> None:
    """Interpret a report's inputs again with the knowledge base in force: a new version and what changed."""
    from lifebank.precision import service

    done = service.rerun_report(database(), settings().data_dir, report_no, actor=cli_actor())
    if fmt is OutputFormat.json:
        print_json({k: v for k, v in done.items() if k != "content"})
        return
    say(Msg("{report} version {version}: {count} change(s)", report=done["report"], version=done["version"],
            count=len(done["changes"] or [])))
    emit_rows(done["changes"] or [], fmt, columns=["biomarker", "change", "tier_before", "tier_after"])


@app.command("fhir")
def fhir(report_no: Annotated[str, typer.Argument(help="report number")],
         version: Annotated[int | None, typer.Option("--version")] = None) -> None:
    """A final report as a FHIR R4 Bundle (Genomics Reporting IG), validated with fhir.resources."""
    from lifebank.precision import service
    from lifebank.precision.fhir import report_bundle, validate

    found = service.get_report(database(), report_no, version)
    if found["status"] != "final":
        from lifebank.errors import Conflict

        raise Conflict("{report} version {version} is not signed; only a final report is exported",
                       report=report_no, version=found["version"])
    bundle = report_bundle(found)
    validate(bundle)
    print_json(bundle)


@kb_app.command("status")
def kb_status(fmt: FormatOpt = OutputFormat.table) -> None:
    """The knowledge-base files in force: source, origin (vendored or loaded), version, SHA-256."""
    from lifebank.precision import service

    emit_rows(service.kb_status(database(), settings().data_dir), fmt,
              columns=["source", "origin", "version", "evidence", "file", "loaded_at", "loaded_by"])


@kb_app.command("list")
def kb_list(fmt: FormatOpt = OutputFormat.table) -> None:
    """Same as `kb status`."""
    kb_status(fmt)


@kb_app.command("load")
def kb_load(folder: Annotated[Path, typer.Argument(help="a release folder: CIViC nightly TSVs, a MOAlmanac "
                                                        "release, a hotspots export or an OncoTree JSON")],
            fmt: FormatOpt = OutputFormat.table) -> None:
    """Load a knowledge-base release (validated in full first, then written to a new release folder and
    switched to in the transaction that ledgers it: a crash leaves the old release or the new one)."""
    from lifebank.precision import service

    rows = service.kb_load(database(), settings().data_dir, folder, actor=cli_actor())
    emit_rows(rows, fmt, columns=["source", "version", "file", "sha256"])
