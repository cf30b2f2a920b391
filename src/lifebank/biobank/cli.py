"""Terminal commands of the biobank: `lifebank biobank ...`, `lifebank import ...`, `lifebank specimens ...`."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from lifebank.cli.context import cli_actor, database
from lifebank.cli.output import (
    FormatOpt,
    OutputFormat,
    console,
    emit_rows,
    err_console,
    print_json,
    print_rejection,
    say,
    text,
)
from lifebank.messages import Msg

app = typer.Typer(name="biobank", help="Participants, consent, storage, specimens and labels.", no_args_is_help=True)
import_app = typer.Typer(help="Bulk imports from CSV (validated in full, written in one transaction).",
                         no_args_is_help=True)
specimens_app = typer.Typer(help="Find specimens and follow their history.", no_args_is_help=True)



def register(root_app: typer.Typer) -> None:
    root_app.add_typer(import_app, name="import")
    root_app.add_typer(specimens_app, name="specimens")


# --- import ----------------------------------------------------------------------------------------------

def _run_import(kind: str, file: Path, fmt: OutputFormat) -> None:
    from lifebank.biobank import imports
    from lifebank.cli.progress import progress_bar

    if not file.is_file():
        err_console.print(text(Msg("error: {file} is not a file", file=str(file))), markup=False, highlight=False)
        raise typer.Exit(1)
    run = imports.import_participants if kind == "participants" else imports.import_specimens
    try:
        result = run(database(), file.read_bytes(), actor=cli_actor(), progress=progress_bar)
    except imports.ImportRejected as exc:
        print_rejection(exc, fmt)
        raise typer.Exit(1) from None
    if fmt is OutputFormat.json:
        print_json(result.as_dict())
    else:
        say(Msg("imported {count} row ({what}, sha256 {digest}…)", plural="imported {count} rows ({what}, sha256 "
                "{digest}…)", count=result.rows, what=kind, digest=result.sha256[:16]))


@import_app.command("participants")
def import_participants(file: Path, fmt: FormatOpt = OutputFormat.table) -> None:
    """Import participants with their consent: participant,sex,birth_year,site,consent_codes,consent_date."""
    _run_import("participants", file, fmt)


@import_app.command("specimens")
def import_specimens(file: Path, fmt: FormatOpt = OutputFormat.table) -> None:
    """Import specimens: barcode,participant,type,quantity,unit,collected_at,parent_barcode,sprec,location."""
    _run_import("specimens", file, fmt)


# --- specimens ------------------------------------------------------------------------------------------

SPECIMEN_COLUMNS = ["barcode", "participant", "type", "quantity", "unit", "status", "lineage", "parent", "location"]


@specimens_app.command("search")
def specimens_search(
    type: Annotated[str | None, typer.Option("--type", help="specimen type, e.g. PL1, SER, DNA")] = None,
    status: Annotated[str | None, typer.Option(help="available, reserved, in_use, ...")] = None,
    participant: Annotated[str | None, typer.Option(help="participant code")] = None,
    consent: Annotated[str | None, typer.Option(help="DUO code of the consent in force, e.g. DUO:0000042")] = None,
    container: Annotated[str | None, typer.Option(help="container path; its whole subtree matches")] = None,
    limit: Annotated[int, typer.Option(min=1, max=100000)] = 50,
    offset: Annotated[int, typer.Option(min=0)] = 0,
    sort: Annotated[str | None, typer.Option(help="barcode, type, status, participant, collected or location; "
                                                  "-barcode for descending")] = None,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Search specimens; --format json prints {"total": N, "items": [...]}. An unknown type or status is an
    error naming the allowed values (exit 1), never an empty result."""
    from lifebank.biobank import search_direct
    from lifebank.cli import direct

    # Plain SQL through the driver when it can (no ORM to import: issue 10's one-shot cost); else the service.
    found = direct.read(lambda conn: search_direct.search_specimens(
        conn, type=type, status=status, participant=participant, consent=consent, container=container,
        limit=limit, offset=offset, sort=sort))
    if found is None:
        from lifebank.biobank import service

        flt = service.SpecimenFilter(type=type, status=status, participant=participant, consent=consent,
                                     container=container)
        found = service.search_specimens(database(), flt, limit=limit, offset=offset, sort=sort)
    total, items = found
    if fmt is OutputFormat.json:
        print_json({"total": total, "items": items})
        return
    emit_rows(items, fmt, columns=SPECIMEN_COLUMNS,
              title=text(Msg("{count} specimen", plural="{count} specimens", count=total or 0)))


@specimens_app.command("show")
def specimens_show(barcode: str, fmt: FormatOpt = OutputFormat.table) -> None:
    """A specimen's full history: lineage up and down, events, reservations, QC and ledger events."""
    from lifebank.biobank import service

    history = service.specimen_history(database(), barcode)
    if fmt is OutputFormat.json:
        print_json(history)
        return
    emit_rows([history["specimen"]], fmt, columns=SPECIMEN_COLUMNS + ["sprec", "freeze_thaw"])
    if history["ancestors"]:
        emit_rows(history["ancestors"], fmt, title="ancestors")
    if history["descendants"]:
        emit_rows([{k: v for k, v in d.items() if k != "children"} for d in history["descendants"]], fmt,
                  title="children")
    emit_rows(history["events"], fmt, title="events")


# --- biobank: participants and consent ------------------------------------------------------------------

@app.command("participant-add")
def participant_add(code: str, sex: Annotated[str, typer.Option()], site: Annotated[str, typer.Option()],
                    birth_year: Annotated[int | None, typer.Option()] = None) -> None:
    """Register a participant (pseudonymous code only)."""
    from lifebank.biobank import service

    service.register_participant(database(), code, sex=sex.upper(), birth_year=birth_year, site=site,
                                 actor=cli_actor())
    say(Msg("registered participant {code}", code=code))


@app.command("participant-show")
def participant_show(code: str, fmt: FormatOpt = OutputFormat.table) -> None:
    """A participant with their consent versions."""
    from lifebank.biobank import service

    view = service.participant_view(database(), code)
    if fmt is OutputFormat.json:
        print_json(view)
        return
    emit_rows([{k: v for k, v in view.items() if k != "consents"}], fmt)
    emit_rows([{**c, "codes": ";".join(c["codes"])} for c in view["consents"]], fmt, title="consents")


@app.command("participants")
def participants_list(site: Annotated[str | None, typer.Option()] = None,
                      limit: Annotated[int, typer.Option(min=1)] = 50, fmt: FormatOpt = OutputFormat.table) -> None:
    """List participants."""
    from lifebank.biobank import service

    _total, items = service.list_participants(database(), site=site, limit=limit)
    emit_rows(items, fmt, columns=["code", "sex", "birth_year", "site"])


@app.command("consent-add")
def consent_add(code: str, duo: Annotated[str, typer.Option(help="DUO codes separated by ';'")],
                on: Annotated[str, typer.Option("--date", help="YYYY-MM-DD")] = "",
                scope: Annotated[str, typer.Option()] = "") -> None:
    """Record a new consent version with DUO codes."""
    from lifebank.biobank import service

    consent = service.record_consent(database(), code, duo_codes=duo,
                                     consent_date=date.fromisoformat(on) if on else date.today(), scope=scope,
                                     actor=cli_actor())
    say(Msg("consent version {version} recorded for {code}", version=consent.version, code=code))


@app.command("consent-withdraw")
def consent_withdraw(code: str, reason: Annotated[str, typer.Option()] = "") -> None:
    """Withdraw consent: every specimen of the participant becomes not distributable."""
    from lifebank.biobank import service

    blocked = service.withdraw_consent(database(), code, reason=reason, actor=cli_actor())
    say(Msg("consent withdrawn for {code}; {count} specimen no longer distributable",
            plural="consent withdrawn for {code}; {count} specimens no longer distributable", count=blocked,
            code=code))


# --- storage ------------------------------------------------------------------------------------------

@app.command("container-type-add")
def container_type_add(name: str, kind: Annotated[str, typer.Option(help="site, freezer, tank, automated_store, "
                                                                         "rack, box")],
                       rows: Annotated[int | None, typer.Option()] = None,
                       columns: Annotated[int | None, typer.Option()] = None,
                       scheme: Annotated[str | None, typer.Option(help="letter-number, number-number, sequential")]
                       = None) -> None:
    """Define a container type (boxes need rows, columns and a labelling scheme)."""
    from lifebank.biobank import service

    service.define_container_type(database(), name, kind=kind, rows=rows, columns=columns, scheme=scheme,
                                  actor=cli_actor())
    say(Msg("container type {name} defined", name=name))


@app.command("container-add")
def container_add(name: str, type_name: Annotated[str, typer.Option("--type")],
                  parent: Annotated[str | None, typer.Option(help="path of the parent container")] = None,
                  temperature: Annotated[str | None, typer.Option(help="RT, 4C, -20C, -80C, LN2")] = None) -> None:
    """Add a container under a parent (nesting rules are checked)."""
    from lifebank.biobank import service

    container = service.create_container(database(), name, type_name=type_name, parent_path=parent,
                                         temperature_class=temperature, actor=cli_actor())
    say(Msg("container {path} created", path=container.name_path))


@app.command("containers")
def containers(parent: Annotated[str | None, typer.Argument()] = None, fmt: FormatOpt = OutputFormat.table) -> None:
    """List the containers at the top level or inside PARENT."""
    from lifebank.biobank import service

    emit_rows(service.list_containers(database(), parent), fmt,
              columns=["name", "path", "kind", "type", "temperature_class", "capacity"])


@app.command("occupancy")
def occupancy(path: str, fmt: FormatOpt = OutputFormat.table) -> None:
    """Used and free positions of a container and each of its children."""
    from lifebank.biobank import service

    result = service.occupancy(database(), path)
    if fmt is OutputFormat.json:
        print_json(result)
        return
    say(Msg("{path}: {used} / {capacity} positions used in {count} box", plural="{path}: {used} / {capacity} "
            "positions used in {count} boxes", count=result["boxes"], path=result["path"], used=result["used"],
            capacity=result["capacity"]))
    emit_rows(result["children"], fmt, columns=["name", "kind", "used", "capacity"])


@app.command("box-map")
def box_map(path: str, fmt: FormatOpt = OutputFormat.table) -> None:
    """The grid of a box; each cell shows the barcode stored there."""
    from lifebank.biobank import service

    grid = service.box_map(database(), path)
    if fmt is OutputFormat.json:
        print_json(grid)
        return
    rows = []
    for r in range(grid["rows"]):
        cells = grid["cells"][r * grid["columns"]:(r + 1) * grid["columns"]]
        rows.append({c["label"]: (c["specimen"] or {}).get("barcode", "·") for c in cells})
    for row in rows:
        console.print("  ".join(f"{label}:{barcode}" for label, barcode in row.items()), highlight=False)


# --- specimens ------------------------------------------------------------------------------------------

@app.command("specimen-add")
def specimen_add(participant: Annotated[str | None, typer.Option()] = None,
                 type: Annotated[str, typer.Option("--type")] = "SER",
                 quantity: Annotated[float | None, typer.Option()] = None,
                 barcode: Annotated[str | None, typer.Option(help="default: the next house barcode")] = None,
                 parent: Annotated[list[str] | None, typer.Option(help="parent barcode (repeat for a pool)")] = None,
                 sprec: Annotated[str | None, typer.Option()] = None,
                 location: Annotated[str | None, typer.Option(help="box path and position")] = None) -> None:
    """Register one specimen."""
    from lifebank.biobank import service

    specimen = service.register_specimen(database(), barcode, participant=participant, type=type,
                                         quantity=quantity, parents=parent or [], sprec=sprec, location=location,
                                         actor=cli_actor())
    say(Msg("registered {barcode}", barcode=specimen.barcode))


@app.command("split")
def split(barcode: str, count: Annotated[int, typer.Option()], quantity: Annotated[float, typer.Option()],
          type: Annotated[str | None, typer.Option("--type", help="derivative type (default: aliquots)")] = None,
          ) -> None:
    """Make aliquots or derivatives of a specimen."""
    from lifebank.biobank import service

    for child in service.split_specimen(database(), barcode, count=count, quantity=quantity, type=type,
                                        actor=cli_actor()):
        console.print(child)


@app.command("move")
def move(barcode: str, location: str) -> None:
    """Move a tube to LOCATION (box path/position)."""
    from lifebank.biobank import service

    console.print(f"{barcode} -> {service.move_specimen(database(), barcode, location, actor=cli_actor())}")


@app.command("move-container")
def move_container(path: str, new_parent: str) -> None:
    """Move a rack or box (with everything in it) into NEW_PARENT."""
    from lifebank.biobank import service

    console.print(service.move_container(database(), path, new_parent, actor=cli_actor()))


@app.command("place")
def place(barcodes: list[str], temperature: Annotated[str | None, typer.Option()] = None,
          within: Annotated[str | None, typer.Option(help="only boxes under this container")] = None,
          strategy: Annotated[str, typer.Option(help="first or least_used")] = "first",
          fmt: FormatOpt = OutputFormat.table) -> None:
    """Auto-place unstored specimens in boxes of their temperature class."""
    from lifebank.biobank import service

    placed = service.place_specimens(database(), barcodes, temperature_class=temperature, within=within,
                                     strategy=strategy, actor=cli_actor())
    emit_rows([{"barcode": b, "location": loc} for b, loc in placed.items()], fmt)


@app.command("reserve")
def reserve(barcodes: list[str], purpose: Annotated[str, typer.Option()]) -> None:
    """Reserve specimens for a named purpose (all or none)."""
    from lifebank.biobank import service

    service.reserve_specimens(database(), barcodes, purpose=purpose, actor=cli_actor())
    say(Msg("reserved {count} specimen for {purpose}", plural="reserved {count} specimens for {purpose}",
            count=len(barcodes), purpose=purpose))


@app.command("release")
def release(barcode: str) -> None:
    """Release a reservation."""
    from lifebank.biobank import service

    service.release_reservation(database(), barcode, actor=cli_actor())
    say(Msg("released {barcode}", barcode=barcode))


@app.command("status")
def status(barcode: str, new_status: str, note: Annotated[str, typer.Option()] = "") -> None:
    """Change a specimen's status (in_use = check-out; back to available = check-in, one freeze-thaw)."""
    from lifebank.biobank import service

    console.print(f"{barcode}: {service.change_status(database(), barcode, new_status, note=note, actor=cli_actor())}")


@app.command("qc")
def qc(barcode: str, kind: str, value: float, method: Annotated[str, typer.Option()] = "") -> None:
    """Record a QC measurement (DIN, RIN, concentration, viability, A260/280, volume, cell_count)."""
    from lifebank.biobank import service

    service.add_qc(database(), barcode, kind=kind, value=value, method=method, actor=cli_actor())
    say(Msg("{kind}={value} recorded for {barcode}", kind=kind, value=value, barcode=barcode))


@app.command("checkout")
def checkout(barcode: str, note: Annotated[str, typer.Option()] = "") -> None:
    """Check a tube out of storage (status in_use; its position is kept for its return)."""
    from lifebank.biobank import service

    service.check_out(database(), barcode, note=note, actor=cli_actor())
    say(Msg("{barcode} checked out", barcode=barcode))


@app.command("checkin")
def checkin(barcode: str, note: Annotated[str, typer.Option()] = "") -> None:
    """Check a tube back in (available again; one more freeze-thaw cycle)."""
    from lifebank.biobank import service

    service.check_in(database(), barcode, note=note, actor=cli_actor())
    say(Msg("{barcode} checked in", barcode=barcode))


@app.command("discard")
def discard(barcode: str, reason: Annotated[str, typer.Option(help="why the tube is destroyed (required)")]) -> None:
    """Discard (destroy) a tube with the reason; it leaves its box."""
    from lifebank.biobank import service

    service.discard_specimen(database(), barcode, reason=reason, actor=cli_actor())
    say(Msg("{barcode} discarded", barcode=barcode))


@app.command("labels")
def labels(barcodes: list[str], output: Annotated[Path, typer.Option("--output", "-o")],
           symbology: Annotated[str | None, typer.Option(help="code128 or datamatrix (default: the template's)")]
           = None,
           template: Annotated[str | None, typer.Option(help="label template (default: the bank's default)")] = None,
           stock: Annotated[str | None, typer.Option(help="cryo-33x13, cryo-25x13, cryo-38x13 or a4-3x10")] = None,
           ) -> None:
    """Print labels to a file: .pdf, .zpl (Zebra) or .png (one label, for the screen: not ledgered).
    PDF and ZPL are prints and are ledgered, one event per tube."""
    from lifebank.biobank import label_printing, service
    from lifebank.biobank import labels as label_rendering

    db = database()
    suffix = output.suffix.lower().lstrip(".")
    if suffix == "png":
        if len(barcodes) != 1:
            err_console.print(text(Msg("error: a PNG holds one label; use a .pdf or .zpl output for several")),
                              markup=False, highlight=False)
            raise typer.Exit(1)
        service.get_specimen(db, barcodes[0])
        output.write_bytes(label_rendering.render_png(barcodes[0], symbology or "code128"))
        say(Msg("label picture written to {file}", file=str(output)))
        return
    job = label_printing.print_labels(db, barcodes, fmt=suffix, template=template, stock=stock,
                                      symbology=symbology, actor=cli_actor())
    output.write_bytes(job.content)
    if job.reprint:
        say(Msg("reprinted {count} label to {file}", plural="reprinted {count} labels to {file}",
                count=len(barcodes), file=str(output)))
    else:
        say(Msg("printed {count} label to {file}", plural="printed {count} labels to {file}", count=len(barcodes),
                file=str(output)))
