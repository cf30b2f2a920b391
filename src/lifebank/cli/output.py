"""How every CLI command prints results: a Rich table for people, `--format json` for programs."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from lifebank.errors import LifeBankError, RowsRejected
from lifebank.messages import Msg, render

console = Console()
err_console = Console(stderr=True)


class OutputFormat(StrEnum):
    table = "table"
    json = "json"


# The `--format` option every listing command takes.
FormatOpt = Annotated[OutputFormat, typer.Option("--format", help="table for people, json for programs")]


def cli_language() -> str | None:
    """The language of the CLI's messages: LIFEBANK_DEFAULT_LOCALE (e.g. zh_Hans), English by default."""
    import os

    code = os.environ.get("LIFEBANK_DEFAULT_LOCALE")
    if not code:
        return None  # English, without importing lifebank.i18n (and Babel) for every message printed
    from lifebank.i18n import normalise

    return normalise(code)


def text(message: Msg | str) -> str:
    """A catalogue message rendered in the CLI's language."""
    return render(message, cli_language())


def say(message: Msg | str) -> None:
    """Print a catalogue message for a person (stdout), in the CLI's language."""
    console.print(text(message), highlight=False, markup=False, soft_wrap=True)


def print_error(exc: LifeBankError) -> None:
    """One line on stderr: `error: <the message in the CLI's language>`."""
    err_console.print(f"[red]{text(Msg('error:'))}[/] ", end="", highlight=False)
    err_console.print(exc.render(cli_language()), highlight=False, markup=False, soft_wrap=True)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def emit_rows(rows: Sequence[Mapping[str, Any]], fmt: OutputFormat, *, columns: Sequence[str] | None = None,
              title: str | Msg | None = None) -> None:
    """Rows as a table for people, or a JSON list with `--format json`.

    A cell is never cut or ellipsized: a barcode or an id that is cut is a wrong barcode. On a terminal,
    long cells fold onto the next line inside their column; when stdout is a pipe or a file, the table is
    printed at its full natural width, one row per line, whatever COLUMNS says.
    """
    if fmt is OutputFormat.json:
        print_json(list(rows))
        return
    columns = list(columns or (rows[0].keys() if rows else []))
    table = Table(title=text(title) if title else None)
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(Text("" if row.get(c) is None else str(row.get(c))) for c in columns))
    if console.is_terminal:
        console.print(table)
        return
    natural = Measurement.get(console, console.options.update(max_width=1_000_000), table).maximum
    Console(width=max(console.width, natural), highlight=False, color_system=None).print(table)


def print_rejection(exc: RowsRejected, fmt: OutputFormat) -> None:
    """A rejected import: the list of bad rows on stdout with `--format json`, one line per row on stderr else."""
    language = cli_language()
    if fmt is OutputFormat.json:
        print_json([e.as_dict(language) for e in exc.errors])
        return
    summary = exc.render(language).split(":", 1)[0].split("：", 1)[0]
    err_console.print(f"{text(Msg('error:'))} {summary}", highlight=False, markup=False, soft_wrap=True)
    for error in exc.errors:
        err_console.print(f"  {error.message().render(language)}", highlight=False, markup=False, soft_wrap=True)
