"""Terminal commands of the cell-therapy chain: `lifebank celltherapy din|order|step|chain|trace|labels|fhir|
product-codes|slot`. Heavy modules load inside the commands, so `lifebank --help` stays fast."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from lifebank.celltherapy.chain import STEPS, rule_of
from lifebank.celltherapy.products import PRODUCTS
from lifebank.cli.context import cli_actor, database, settings
from lifebank.cli.output import FormatOpt, OutputFormat, emit_rows, print_json, print_rejection, say, text
from lifebank.errors import RowsRejected, ValidationFailed
from lifebank.messages import Msg


def _steps_help() -> str:
    lines = ["Record the next step of an order's chain of custody, signed by each signer (passwords on stdin, one "
             "line per --signer). Steps in order, with their required fields (car-t; hpc-cord where it differs):"]
    for step in STEPS:
        cart, cord = rule_of(step, PRODUCTS["car-t"]), rule_of(step, PRODUCTS["hpc-cord"])
        fields = ", ".join(cart.required)
        if cord.required != cart.required:
            fields += " | hpc-cord: " + ", ".join(cord.required)
        if cart.optional:
            fields += " (optional: " + ", ".join(cart.optional) + ")"
        lines.append(f"{step}: {fields}; {len(cart.meanings)} signature(s): {', '.join(cart.meanings)}")
    return "\n\n".join(lines)


app = typer.Typer(name="celltherapy", no_args_is_help=True,
                  help="Cell-therapy chain of identity and custody: orders, ISBT 128, custody steps, labels.")
din_app = typer.Typer(help="ISBT 128 Donation Identification Numbers.", no_args_is_help=True)
order_app = typer.Typer(help="Therapy orders and their chain-of-identity (COI) identifier.", no_args_is_help=True)
codes_app = typer.Typer(help="The facility's ISBT 128 product-code table (LifeBank ships none).",
                        no_args_is_help=True)
slot_app = typer.Typer(help="Manufacturing slots apheresis dates are booked against.", no_args_is_help=True)
app.add_typer(din_app, name="din")
app.add_typer(order_app, name="order")
app.add_typer(codes_app, name="product-codes")
app.add_typer(slot_app, name="slot")


@din_app.command("check")
def din_check(din: Annotated[str, typer.Argument(help="13 characters, optionally with the check character or "
                                                       "the two flag characters appended")],
              fmt: FormatOpt = OutputFormat.table) -> None:
    """Check a DIN: its ISO 7064 MOD 37-2 check character and barcode flags; valid only if an appended check
    character or flags match."""
    from lifebank.celltherapy.isbt128 import check_din

    answer = check_din(din)
    reason = answer.pop("reason", None)
    if fmt is OutputFormat.json:
        print_json({**answer, **({"reason": text(reason)} if reason else {})})
    else:
        say(Msg("{din}: valid, check character {check}, flags {flags}", din=answer["din"],
                check=answer["check_character"], flags=answer["flags"]) if answer["valid"] else
            Msg("{din}: not valid: {reason}", din=answer["din"], reason=reason))
    if not answer["valid"]:
        raise typer.Exit(1)


@order_app.command("create")
def order_create(participant: Annotated[str, typer.Option(help="the patient's pseudonymous participant code")],
                 product: Annotated[str, typer.Option(help="car-t or hpc-cord")],
                 centre: Annotated[str, typer.Option(help="the treating centre")],
                 dob: Annotated[str | None, typer.Option(help="second identifier: date of birth YYYY-MM-DD")] = None,
                 mrn: Annotated[str | None, typer.Option(help="second identifier: the hospital's MRN")] = None,
                 cord_unit: Annotated[str | None, typer.Option(help="hpc-cord: the registry's cord unit id")] = None,
                 fmt: FormatOpt = OutputFormat.table) -> None:
    """Create a therapy order and assign its COI (an ISBT 128 DIN); the DOB or MRN is stored encrypted."""
    from lifebank.celltherapy import service

    if bool(dob) == bool(mrn):
        raise ValidationFailed("give the patient's second identifier: --dob or --mrn (one of them)")
    order = service.create_order(database(), participant=participant, product=product, centre=centre,
                                 identity_kind="dob" if dob else "mrn", identity_value=dob or mrn or "",
                                 cord_unit=cord_unit, actor=cli_actor(), settings=settings())
    if fmt is OutputFormat.json:
        print_json({"id": order["id"], "coi": order["coi"]})
    else:
        say(Msg("order {id} created, COI {coi}", id=order["id"], coi=order["coi"]))


@order_app.command("list")
def order_list(open_only: Annotated[bool, typer.Option("--open", help="only orders not yet infused")] = False,
               limit: int = 100, fmt: FormatOpt = OutputFormat.table) -> None:
    """Orders, newest first."""
    from lifebank.celltherapy import service

    items = service.list_orders(database(), limit=limit, open_only=open_only)["items"]
    emit_rows(items, fmt, columns=["id", "coi", "participant", "product", "centre", "next_step", "apheresis_date"])


@order_app.command("book")
def order_book(order: str, day: Annotated[str, typer.Argument(help="apheresis date, YYYY-MM-DD")],
               fmt: FormatOpt = OutputFormat.table) -> None:
    """Book the apheresis on a day with a free manufacturing slot."""
    from lifebank.celltherapy import service

    booked = service.book_apheresis(database(), order, _day(day), actor=cli_actor())
    print_json(booked) if fmt is OutputFormat.json else say(Msg("apheresis of {order} booked on {day}",
                                                                order=booked["order"], day=booked["apheresis_date"]))


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationFailed("{value} is not a date (YYYY-MM-DD)", value=value) from None


@app.command("step", help=_steps_help())
def step(order: Annotated[str, typer.Argument(help="order id or COI")],
         step_name: Annotated[str, typer.Argument(metavar="STEP", help="the step, e.g. collection")],
         field: Annotated[list[str] | None, typer.Option("--field", help="a value, k=v (repeat)")] = None,
         signer: Annotated[list[str] | None, typer.Option("--signer", help="who signs (repeat for two)")] = None,
         password_stdin: Annotated[bool, typer.Option("--password-stdin",
                                                      help="read each signer's password from stdin")] = False,
         fmt: FormatOpt = OutputFormat.table) -> None:
    from lifebank.celltherapy import service

    values: dict[str, str] = {}
    for item in field or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValidationFailed("--field {item} is not k=v", item=item)
        values[key.strip()] = value
    signers = signer or []
    if not signers:
        raise ValidationFailed("a step needs --signer (and --password-stdin): custody is signed")
    if not password_stdin:
        raise ValidationFailed("give the signers' passwords with --password-stdin (one line per --signer)")
    passwords = [sys.stdin.readline().rstrip("\n") for _ in signers]
    db, config = database(), settings()
    signed = [service.sign(db, name, secret, order=order, settings=config) for name, secret in zip(signers, passwords,
                                                                                                   strict=True)]
    result = service.record_step(db, order, step_name, values, signed, actor=signed[0].username, settings=config)
    if fmt is OutputFormat.json:
        print_json(result)
    else:
        say(Msg("{step} recorded for {order}; next: {next}", step=result["step"], order=result["order"],
                next=result["next_step"] or "-"))


@app.command("chain")
def show_chain(order: Annotated[str, typer.Argument(help="order id or COI")],
               fmt: FormatOpt = OutputFormat.table) -> None:
    """The whole chain of an order: every step, its signers, time and values; bags and traces."""
    from lifebank.celltherapy import service

    view = service.chain_view(database(), order)
    if fmt is OutputFormat.json:
        for trace in view["traces"]:
            trace.pop("series")
        print_json(view)
        return
    rows = [{"seq": s["seq"], "step": s["step"], "recorded_at": s["recorded_at"],
             "signatures": "; ".join(f"{g['signer']} ({g['meaning']})" for g in s["signatures"]),
             "values": ", ".join(f"{k}={v}" for k, v in s["values"].items())} for s in view["steps"]]
    emit_rows(rows, fmt, title=Msg("order {coi}: {product} for {participant}", coi=view["order"]["coi"],
                                   product=view["order"]["product"], participant=view["order"]["participant"]))


@app.command("trace")
def trace(order: str, leg: Annotated[str, typer.Argument(help="to-manufacturing or to-centre")],
          file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="the logger's CSV export")],
          fmt: FormatOpt = OutputFormat.table) -> None:
    """Import a shipment's data-logger trace (CSV: time,temperature_c or Date,Time,Temperature) and flag
    excursions outside the product's range."""
    from lifebank.celltherapy import service

    try:
        result = service.import_trace(database(), order, leg, file.read_text(encoding="utf-8-sig"),
                                      actor=cli_actor())
    except RowsRejected as exc:
        print_rejection(exc, fmt)
        raise typer.Exit(1) from None
    if fmt is OutputFormat.json:
        print_json(result)
    else:
        say(Msg("{n} readings, {low}…{high} °C: {count} excursion(s)", n=result["readings"],
                low=result["range_c"][0], high=result["range_c"][1], count=len(result["excursions"])))


@app.command("labels")
def labels(order: str, output: Annotated[Path, typer.Option("--output", "-o", help="file to write")],
           label_format: Annotated[str, typer.Option("--label-format", help="pdf or zpl")] = "pdf") -> None:
    """Print the order's ISBT 128 bag labels (Code 128 per data structure, DataMatrix, boxed check character)."""
    from lifebank.celltherapy.labelling import bag_labels

    printed = bag_labels(database(), order, fmt=label_format, actor=cli_actor())
    output.write_bytes(printed.content)
    say(Msg("labels written to {path}", path=str(output)))


@app.command("fhir")
def fhir(order: str) -> None:
    """The released product as a FHIR R4B BiologicallyDerivedProduct (JSON)."""
    from lifebank.celltherapy import service

    print_json(service.fhir_product(database(), order))


@codes_app.command("load")
def codes_load(file: Annotated[Path, typer.Argument(exists=True, dir_okay=False,
                                                    help="CSV: code,description,product,shelf_life_hours")],
               fmt: FormatOpt = OutputFormat.table) -> None:
    """Replace the product-code table with the facility's file (all rows valid, or nothing changes)."""
    from lifebank.celltherapy import service

    try:
        result = service.load_product_codes(database(), file.read_text(encoding="utf-8-sig"), actor=cli_actor())
    except RowsRejected as exc:
        print_rejection(exc, fmt)
        raise typer.Exit(1) from None
    print_json(result) if fmt is OutputFormat.json else say(Msg("{n} product codes loaded", n=result["loaded"]))


@codes_app.command("list")
def codes_list(fmt: FormatOpt = OutputFormat.table) -> None:
    from lifebank.celltherapy import service

    emit_rows(service.list_product_codes(database()), fmt)


@slot_app.command("define")
def slot_define(day: str, capacity: int, fmt: FormatOpt = OutputFormat.table) -> None:
    """Open (or resize) a day's manufacturing slot."""
    from lifebank.celltherapy import service

    result = service.define_slot(database(), _day(day), capacity, actor=cli_actor())
    print_json(result) if fmt is OutputFormat.json else say(Msg("slot {day}: capacity {capacity}", day=result["day"],
                                                                capacity=result["capacity"]))


@slot_app.command("list")
def slot_list(start: str | None = None, days: int = 60, fmt: FormatOpt = OutputFormat.table) -> None:
    from lifebank.celltherapy import service

    emit_rows(service.list_slots(database(), start=_day(start) if start else None, days=days), fmt)
