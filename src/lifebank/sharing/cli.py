"""Terminal commands of the sharing domain: `lifebank beacon …` (datasets' security levels, privacy settings,
record grants, the query log, BFF import) and `lifebank share …` (de-identified exports).

Mounted by `register(root_app)` as two top-level groups; heavy imports stay inside the commands so that
`lifebank --help` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lifebank.cli.context import cli_actor, database
from lifebank.cli.output import FormatOpt, OutputFormat, emit_rows, print_json, print_rejection, say
from lifebank.errors import RowsRejected
from lifebank.messages import Msg

beacon_app = typer.Typer(name="beacon", help="The GA4GH Beacon v2 at /api/beacon/v2: security levels, privacy "
                         "settings, record grants, the query log and BFF import.", no_args_is_help=True)
share_app = typer.Typer(name="share", help="De-identified exports for recipients (pseudonyms, k-anonymity).",
                        no_args_is_help=True)


def register(root_app: typer.Typer) -> None:
    root_app.add_typer(beacon_app, name="beacon")
    root_app.add_typer(share_app, name="share")


@beacon_app.command("dataset")
def dataset(name: Annotated[str, typer.Argument(help="dataset: an omics dataset, or 'biobank' (the whole bank)")],
            security_level: Annotated[str, typer.Option("--security-level",
                                                        help="PUBLIC, REGISTERED or CONTROLLED")],
            description: Annotated[str | None, typer.Option(help="what the dataset holds, shown by /datasets")] = None,
            ) -> None:
    """Set a dataset's Beacon security level (PUBLIC: anyone; REGISTERED: logged-in users; CONTROLLED: users
    granted record access)."""
    from lifebank.sharing import beacon

    result = beacon.set_level(database(), name, security_level, actor=cli_actor(), description=description)
    say(Msg("dataset {dataset} is now {level}", dataset=result["dataset"], level=result["security_level"]))


@beacon_app.command("datasets")
def datasets(fmt: FormatOpt = OutputFormat.table) -> None:
    """List the Beacon's datasets and their security levels."""
    from lifebank.sharing import beacon

    emit_rows([{"dataset": k, "security_level": v} for k, v in beacon.levels(database()).items()], fmt)


@beacon_app.command("settings")
def settings(threshold: Annotated[int | None, typer.Option(help="smallest count shown to callers without "
                                                                "record access (default 5)")] = None,
             budget: Annotated[int | None, typer.Option(help="variant queries per caller per window "
                                                             "(default 200)")] = None,
             window_hours: Annotated[int | None, typer.Option(help="budget window in hours (default 24)")] = None,
             anonymous_granularity: Annotated[str | None, typer.Option(
                 help="what anonymous callers get: boolean (default) or count")] = None,
             fmt: FormatOpt = OutputFormat.table) -> None:
    """Show, or change, the Beacon's privacy settings."""
    from lifebank.sharing import beacon

    db = database()
    if any(v is not None for v in (threshold, budget, window_hours, anonymous_granularity)):
        conf = beacon.change_settings(db, actor=cli_actor(), threshold=threshold, budget=budget,
                                      window_hours=window_hours, anonymous_granularity=anonymous_granularity)
    else:
        conf = beacon.settings(db)
    if fmt is OutputFormat.json:
        print_json(conf.as_dict())
    else:
        emit_rows([{"setting": k, "value": v} for k, v in conf.as_dict().items()], fmt)


@beacon_app.command("grant")
def grant(dataset_name: Annotated[str, typer.Argument(metavar="DATASET")],
          user: Annotated[str, typer.Argument(help="the recipient's user name")],
          purpose: Annotated[str, typer.Option(help="DUO terms of the use, e.g. HMB or 'DS;IRB'")],
          reason: Annotated[str, typer.Option(help="why the release was made")] = "",
          request: Annotated[str | None, typer.Option(help="the approved access request's id")] = None) -> None:
    """Release a dataset's records to one user (an admin's explicit release, ledgered)."""
    from lifebank.sharing import beacon

    grant_id = beacon.grant_records(database(), dataset_name, user, purposes=purpose, actor=cli_actor(),
                                    reason=reason, request_id=request)
    say(Msg("record access {id}: {user} may read records of {dataset}", id=grant_id, user=user,
            dataset=dataset_name))


@beacon_app.command("revoke")
def revoke(dataset_name: Annotated[str, typer.Argument(metavar="DATASET")],
           user: Annotated[str, typer.Argument()]) -> None:
    """Withdraw a user's record access to a dataset."""
    from lifebank.sharing import beacon

    beacon.revoke_records(database(), dataset_name, user, actor=cli_actor())
    say(Msg("record access of {user} to {dataset} withdrawn", user=user, dataset=dataset_name))


@beacon_app.command("grants")
def grants(fmt: FormatOpt = OutputFormat.table) -> None:
    """List record grants."""
    from lifebank.sharing import beacon

    emit_rows(beacon.grants(database()), fmt, columns=["id", "dataset", "user", "purposes", "request", "granted_at"])


@beacon_app.command("queries")
def queries(caller: Annotated[str | None, typer.Option(help="'user:NAME' or 'ip:ADDRESS'")] = None,
            limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50, fmt: FormatOpt = OutputFormat.table) -> None:
    """The latest Beacon queries (each is also in the ledger)."""
    from lifebank.sharing import beacon

    emit_rows(beacon.query_log(database(), caller=caller, limit=limit), fmt,
              columns=["id", "at", "caller", "endpoint", "variant", "granularity", "refused"])


@beacon_app.command("import-bff")
def import_bff(folder: Annotated[Path, typer.Argument(metavar="DIR", help="folder with individuals.json, "
                                                                         "biosamples.json, genomicVariations.json")],
               dataset_name: Annotated[str, typer.Option("--dataset", help="name of the new omics dataset")],
               site: Annotated[str | None, typer.Option(help="collection site of the participants "
                                                             "(default: the dataset name)")] = None,
               consent: Annotated[str, typer.Option(help="consent permission recorded for the individuals (the "
                                                         "folder's datasets.json DUO terms are added)")] = "GRU",
               fmt: FormatOpt = OutputFormat.table) -> None:
    """Load a Beacon-Friendly Format folder as participants, specimens and an omics dataset (all checked
    first; nothing is written when a record is wrong)."""
    from lifebank.cli.context import settings as cli_settings
    from lifebank.sharing import bff

    try:
        result = bff.import_bff(database(), cli_settings().data_dir, folder, dataset=dataset_name,
                                actor=cli_actor(), site=site, consent=consent)
    except RowsRejected as exc:
        print_rejection(exc, fmt)
        raise typer.Exit(1) from None
    if fmt is OutputFormat.json:
        print_json(result.as_dict())
    else:
        say(Msg("imported {individuals} individuals, {biosamples} biosamples and {variants} variants as dataset "
                "{dataset}", **result.as_dict()))


@share_app.command("export")
def export(fmt_name: Annotated[str, typer.Option("--format", help="csv, parquet, fhir (Bulk NDJSON) or "
                                                                "phenopackets (GA4GH v2)")],
           out: Annotated[Path, typer.Option("--out", help="folder to write the files into (also kept in the "
                                                           "bank's export store for the recipient)")],
           request: Annotated[int | None, typer.Option("--request", help="an approved access request's id")] = None,
           release: Annotated[int | None, typer.Option("--release", help="an admin's release (record grant) id, "
                                                                         "from `lifebank beacon grant`")] = None,
           dataset_name: Annotated[str, typer.Option("--dataset", help="the dataset a request draws on "
                                                                        "(default: the whole bank)")] = "biobank",
           k: Annotated[int, typer.Option("--k", help="k-anonymity: smallest group released")] = 5,
           output: Annotated[OutputFormat, typer.Option("--report-format",
                                                        help="table for people, json for programs")]
           = OutputFormat.table) -> None:
    """Write a de-identified export for the recipient of an approved access request (or of a release):
    per-recipient pseudonyms, generalised quasi-identifiers, k-anonymity, consent re-checked; ledgered."""
    from lifebank.cli.context import settings as cli_settings
    from lifebank.errors import ValidationFailed
    from lifebank.sharing import exports

    if (request is None) == (release is None):
        raise ValidationFailed("give either --request or --release")
    db = database()
    source = exports.from_request(db, request, dataset_name) if request is not None else \
        exports.from_release(db, release)  # type: ignore[arg-type]
    result = exports.export(db, cli_settings().data_dir, source, fmt_name, actor=cli_actor(), out=out, k=k)
    if output is OutputFormat.json:
        print_json(result)
        return
    report = result["report"]
    say(Msg("export {id} for {recipient}: {rows} participants, {specimens} specimens; {suppressed} suppressed "
            "below k = {k}, {refused} excluded by consent", id=result["id"], recipient=result["recipient"],
            rows=result["rows"], specimens=result["specimens"], suppressed=report["suppressed"], k=report["k"],
            refused=report["consent_refused"]))
    emit_rows(result["files"], output, columns=["name", "sha256", "bytes"])


@share_app.command("list")
def list_exports(recipient: Annotated[str | None, typer.Option(help="only this recipient's exports")] = None,
                 fmt: FormatOpt = OutputFormat.table) -> None:
    """Exports written so far, with recipient, rows and suppression."""
    from lifebank.sharing import exports

    emit_rows(exports.list_exports(database(), recipient=recipient), fmt,
              columns=["id", "recipient", "request", "release", "format", "rows", "suppressed", "created_at"])
