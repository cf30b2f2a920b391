"""Terminal commands of the clinical domain: `lifebank clinical import|export-omop|vocabulary`."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from lifebank.cli.context import cli_actor, database
from lifebank.cli.output import FormatOpt, OutputFormat, emit_rows, print_json, print_rejection, say
from lifebank.errors import RowsRejected, ValidationFailed
from lifebank.messages import Msg

app = typer.Typer(name="clinical", help="Clinical records: FHIR R4 and OMOP CDM 5.4 in and out, vocabulary.",
                  no_args_is_help=True)
vocabulary_app = typer.Typer(help="The site's own OHDSI vocabulary (an Athena download).", no_args_is_help=True)
app.add_typer(vocabulary_app, name="vocabulary")


class TableFormat(StrEnum):
    csv = "csv"
    parquet = "parquet"


def _is_omop_folder(path: Path) -> bool:
    return path.is_dir() and any((path / name).is_file() for name in ("PERSON.csv", "person.csv"))


@app.command("import")
def import_(path: Annotated[Path, typer.Argument(help="a FHIR Bundle, an NDJSON file, a folder of them, "
                                                      "or an OMOP CDM 5.4 folder (recognised by PERSON.csv)")],
            create_participants: Annotated[bool, typer.Option(
                "--create-participants", help="create a biobank participant for a patient that maps to none")]
            = False,
            fmt: FormatOpt = OutputFormat.table) -> None:
    """Import clinical data, all-or-nothing per file; prints the counts per resource type (or OMOP table).

    A FHIR Patient links to the participant named by its `urn:lifebank:participant` identifier; an OMOP person
    to the participant whose code is its person_source_value. Re-importing a file updates, never duplicates.
    """
    if not path.exists():
        raise ValidationFailed("{path} does not exist", path=str(path))
    db = database()
    try:
        if _is_omop_folder(path):
            from lifebank.clinical import omop_import

            result = omop_import.import_omop_folder(db, path, actor=cli_actor(),
                                                    create_participants=create_participants)
            counts = result["tables"]
        else:
            from lifebank.clinical import fhir_import

            result = fhir_import.import_fhir_path(db, path, actor=cli_actor(),
                                                  create_participants=create_participants)
            counts = result["resources"]
    except RowsRejected as exc:
        print_rejection(exc, fmt)
        raise typer.Exit(1) from None
    if fmt is OutputFormat.json:
        print_json(result)
        return
    emit_rows([{"type": k, "count": v} for k, v in counts.items()], fmt)


@app.command("export-omop")
def export_omop(folder: Annotated[Path, typer.Argument(help="folder to write the CDM tables into "
                                                            "(created; may exist if empty)")],
                table_format: Annotated[TableFormat, typer.Option("--format", help="csv or parquet")]
                = TableFormat.csv) -> None:
    """Export clinical data and the biobank's specimens as OMOP CDM 5.4 tables (person_source_value holds the
    participant code; source ids are kept as the OMOP ids where they are numbers)."""
    from lifebank.clinical import omop_export

    counts = omop_export.export_omop(database(), folder, table_format=table_format.value)
    emit_rows([{"table": k, "rows": v} for k, v in counts.items()], OutputFormat.table)


@vocabulary_app.command("load")
def vocabulary_load(folder: Annotated[Path, typer.Argument(help="folder with CONCEPT.csv, CONCEPT_ANCESTOR.csv "
                                                                "and CONCEPT_RELATIONSHIP.csv (Athena or Eunomia)")],
                    fmt: FormatOpt = OutputFormat.table) -> None:
    """Replace the loaded vocabulary with an Athena download (LifeBank ships none: SNOMED CT, LOINC and RxNorm
    need their owners' licences)."""
    from lifebank.clinical import vocabulary_load as loader

    if not folder.is_dir():
        raise ValidationFailed("{path} is not a folder", path=str(folder))
    try:
        result = loader.load_vocabulary(database(), folder, actor=cli_actor())
    except RowsRejected as exc:
        print_rejection(exc, fmt)
        raise typer.Exit(1) from None
    if fmt is OutputFormat.json:
        print_json(result)
        return
    say(Msg("loaded {concepts} concepts, {relationships} relationships, {ancestors} ancestor rows "
            "({derived} derived from Is a)", concepts=result["concepts"], relationships=result["relationships"],
            ancestors=result["ancestors"], derived=result["ancestors_derived"]))
