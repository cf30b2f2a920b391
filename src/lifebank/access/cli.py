"""Terminal commands of the access domain: `lifebank access ...` (requests, consent check, committee,
fulfilment, shipment and the HGR report).

The terminal is the bank operator's: commands act with every access permission, as `cli:<account>` in the
ledger. A vote is a person's act, so `vote` takes `--as USER` and acts as that user (their rights, their
name in the ledger, never their own request).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from lifebank.cli.context import cli_actor, database
from lifebank.cli.output import FormatOpt, OutputFormat, emit_rows, print_json, say
from lifebank.messages import Msg

app = typer.Typer(name="access", help="Access requests: consent check, committee, fulfilment, shipment, HGR.",
                  no_args_is_help=True)
request_app = typer.Typer(help="Create, show and list access requests.", no_args_is_help=True)
app.add_typer(request_app, name="request")


@dataclass(frozen=True)
class Operator:
    """The bank operator at the terminal: every access permission."""

    username: str
    organisation_id: int | None = None

    def can(self, permission: str) -> bool:
        return True


def _operator() -> Operator:
    return Operator(cli_actor())


def _show(data: Any, fmt: OutputFormat, message: Msg) -> None:
    if fmt is OutputFormat.json:
        print_json(data)
    else:
        say(message)


@request_app.command("create")
def request_create(
    title: Annotated[str, typer.Option(help="what the study is")],
    org: Annotated[str, typer.Option("--org", help="the requesting organisation's name")],
    purpose: Annotated[list[str], typer.Option("--purpose", help="a DUO permission: DUO:0000042 or GRU, HMB, DS…")],
    disease: Annotated[str | None, typer.Option(help="disease code for DS (ICD-10, MONDO…)")] = None,
    commercial: Annotated[bool, typer.Option("--commercial", help="the use is commercial")] = False,
    ethics_approval: Annotated[str | None, typer.Option(help="ethics approval number (what IRB asks for)")] = None,
    cohort: Annotated[str | None, typer.Option(help="a saved cohort's name")] = None,
    specimen_type: Annotated[list[str] | None, typer.Option(
        "--specimen-type", help="TYPE, TYPE:TUBES or TYPE:TUBES:MIN_VOLUME (per participant)")] = None,
    pi: Annotated[str, typer.Option("--pi", help="principal investigator")] = "",
    country: Annotated[str | None, typer.Option(help="recipient country (default: the organisation's)")] = None,
    data_only: Annotated[bool, typer.Option("--data-only", help="data, no material")] = False,
    declare: Annotated[list[str] | None, typer.Option(
        "--declare", help="publication, collaboration, return_data, genetic_study")] = None,
    sprec: Annotated[str | None, typer.Option(
        "--sprec", help="tubes whose SPREC code starts with this (e.g. SER-SST-A)")] = None,
    max_freeze_thaw: Annotated[int | None, typer.Option(
        "--max-freeze-thaw", min=0, help="tubes thawed at most this many times")] = None,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Submit an access request (--cohort NAME or --specimen-type CODE …); prints its id."""
    from lifebank.access import service
    from lifebank.access.criteria import sprec_prefix

    draft = service.RequestDraft(
        title=title, organisation=org, purposes=purpose, disease=disease, commercial=commercial,
        ethics_approval=ethics_approval, principal_investigator=pi, cohort=cohort,
        items=[service.Item.parse(s) for s in specimen_type or []], wants_material=not data_only,
        wants_data=data_only or cohort is not None, declarations=declare or [], recipient_country=country,
        sprec_prefix=sprec_prefix(sprec or ""), max_freeze_thaw=max_freeze_thaw)
    request_id = service.create_request(database(), draft, principal=_operator())
    _show({"id": request_id}, fmt, Msg("request {id} submitted", id=request_id))


@request_app.command("show")
def request_show(request_id: int, fmt: FormatOpt = OutputFormat.json) -> None:
    """A request with its committee, reviews, documents and history."""
    from lifebank.access import service

    print_json(service.request_view(database(), request_id, _operator()))


@request_app.command("list")
def request_list(state: Annotated[str | None, typer.Option(help="only requests in this state")] = None,
                 fmt: FormatOpt = OutputFormat.table) -> None:
    """Requests, newest first."""
    from lifebank.access import service

    emit_rows(service.list_requests(database(), _operator(), state=state), fmt,
              columns=["id", "title", "organisation", "state", "recipient_country", "created_by"])


@app.command("check")
def check(request_id: int, fmt: FormatOpt = OutputFormat.table) -> None:
    """Consent matching: each candidate participant's consent in force against the request."""
    from lifebank.access import service
    from lifebank.cli.output import cli_language

    result = service.check_request(database(), request_id, _operator()).as_dict(cli_language())
    if fmt is OutputFormat.json:
        print_json({"eligible": result["eligible"], "excluded": result["excluded"]})
        return
    say(Msg("{eligible} eligible, {excluded} excluded", eligible=len(result["eligible"]),
            excluded=len(result["excluded"])))
    emit_rows(result["excluded"], fmt, columns=["participant", "reason"])


@app.command("feasibility")
def feasibility(request_id: int, fmt: FormatOpt = OutputFormat.json) -> None:
    """How many participants and specimens would qualify."""
    from lifebank.access import service

    data = service.feasibility(database(), request_id, _operator())
    data.pop("shown_as", None)
    print_json(data)


@app.command("committee")
def committee(request_id: int, reviewer: Annotated[list[str], typer.Option("--reviewer", help="a reviewer")]) -> None:
    """Appoint the access committee: the request goes under review."""
    from lifebank.access import service

    service.appoint_committee(database(), request_id, reviewer, principal=_operator())
    say(Msg("request {id} is under review by {count} reviewers", id=request_id, count=len(reviewer)))


@app.command("vote")
def vote(request_id: int, as_user: Annotated[str, typer.Option("--as", help="the reviewer who votes")],
         choice: Annotated[str, typer.Option("--vote", help="approve, approve_with_conditions, request_changes, "
                                                            "reject")],
         comment: Annotated[str, typer.Option(help="why (required unless approving)")] = "") -> None:
    """A committee member's vote."""
    from lifebank.access import service
    from lifebank.auth import service as auth

    db = database()
    principal = auth.principal_of(auth.get_user(db, as_user))
    state = service.cast_vote(db, request_id, choice, comment=comment, principal=principal)
    say(Msg("vote recorded; request {id} is {state}", id=request_id, state=state))


@app.command("document")
def document(request_id: int, file: Path,
             kind: Annotated[str, typer.Option(help="ethics, agreement, hgr, certificate, other")]) -> None:
    """Attach a document (ethics approval, signed MTA/DTA, HGR approval, certificate)."""
    from lifebank.access import service

    doc = service.add_document(database(), request_id, kind=kind, filename=file.name, content=file.read_bytes(),
                               content_type="application/pdf" if file.suffix.lower() == ".pdf" else "",
                               principal=_operator())
    say(Msg("document {id} added", id=doc))


@app.command("sign")
def sign(request_id: int) -> None:
    """Record that the MTA/DTA (uploaded as an agreement document) is signed."""
    from lifebank.access import service

    service.sign_agreement(database(), request_id, principal=_operator())
    say(Msg("agreement of request {id} signed", id=request_id))


@app.command("allocate")
def allocate(request_id: int, allow_last_aliquot: Annotated[bool, typer.Option(
        "--allow-last-aliquot", help="allow taking a participant's last tube")] = False,
             fmt: FormatOpt = OutputFormat.table) -> None:
    """Allocate and reserve tubes for the request (one transaction)."""
    from lifebank.access import service

    result = service.allocate(database(), request_id, principal=_operator(), allow_last_aliquot=allow_last_aliquot)
    _show(result, fmt, Msg("{count} tubes allocated", count=result["allocated"]))


@app.command("pick-list")
def pick_list(request_id: int, output: Annotated[Path | None, typer.Option(help="write to this file")] = None,
              as_: Annotated[str, typer.Option("--format", help="table, json, csv (job file), pdf")] = "table") -> None:
    """The pick list in storage-path order (pdf, or the job file for automated stores as csv/json)."""
    from lifebank.access import exports, service

    rows = service.pick_list(database(), request_id, _operator())
    if as_ == "table":
        emit_rows(rows, OutputFormat.table, columns=["barcode", "source", "target_box", "target_position", "state"])
        return
    data = exports.pick_list_bytes(request_id, rows, as_)
    if output is None:
        typer.echo(data.decode() if as_ != "pdf" else "use --output FILE for a PDF")
    else:
        output.write_bytes(data)


@app.command("scan")
def scan(request_id: int, barcode: str) -> None:
    """Confirm a picked tube against the pick list (a wrong tube is refused)."""
    from lifebank.access import service

    result = service.scan(database(), request_id, barcode, principal=_operator())
    say(Msg("{barcode}: {state}, {remaining} left", barcode=barcode, state=result["state"],
            remaining=result["remaining"]))


@app.command("split")
def split(request_id: int, barcode: str,
          quantity: Annotated[float | None, typer.Option(
              min=0, help="the aliquot's volume (default: the request's minimum volume for the type)")] = None) -> None:
    """Split an allocated tube at the scan step: a child aliquot ships in its place, the parent stays."""
    from lifebank.access.splitting import split_and_pick

    result = split_and_pick(database(), request_id, barcode, quantity=quantity, principal=_operator())
    say(Msg("aliquot {child} of {parent}: put it in {box} at {position}; {parent} stays in the bank",
            child=result["barcode"], parent=barcode, box=result["target_box"], position=result["target_position"]))


@app.command("hgr-approval")
def hgr_approval(request_id: int, number: str) -> None:
    """Record the HGR approval number of an international request."""
    from lifebank.access import service

    service.record_hgr_approval(database(), request_id, number, principal=_operator())
    say(Msg("HGR approval {number} recorded", number=number))


@app.command("ship")
def ship(request_id: int, courier: Annotated[str, typer.Option()], tracking: Annotated[str, typer.Option()],
         temperature: Annotated[str, typer.Option(help="ambient, 2-8C, dry_ice, ln2_dry_shipper")],
         un3373: Annotated[bool, typer.Option("--un3373", help="UN3373 biological substance, Category B")] = False,
         fmt: FormatOpt = OutputFormat.table) -> None:
    """Dispatch the scanned tubes (international requests need an HGR approval first)."""
    from lifebank.access import service

    result = service.ship(database(), request_id, courier=courier, tracking_number=tracking,
                          temperature=temperature, un3373=un3373, principal=_operator())
    _show(result, fmt, Msg("{count} tubes shipped", count=result["tubes"]))


@app.command("receive")
def receive(request_id: int, discrepancies: Annotated[str, typer.Option()] = "") -> None:
    """Confirm receipt (with any discrepancies)."""
    from lifebank.access import service

    service.receive(database(), request_id, discrepancies=discrepancies, principal=_operator())
    say(Msg("request {id} received", id=request_id))


@app.command("hgr-report")
def hgr_report(year: Annotated[int, typer.Option(help="the report's year")],
               as_: Annotated[str, typer.Option("--format", help="csv, xlsx or pdf")] = "csv",
               output: Annotated[Path | None, typer.Option(help="write to this file")] = None) -> None:
    """The annual HGR report (holdings, collections, distributions, international projects)."""
    from lifebank.access import service

    data = service.render_report(database(), year, as_)
    if output is not None:
        output.write_bytes(data)
    elif as_ == "csv":
        typer.echo(data.decode("utf-8-sig"), nl=False)
    else:
        say(Msg("use --output FILE for {format}", format=as_))
