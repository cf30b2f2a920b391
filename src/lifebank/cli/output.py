"""How every CLI command prints results: a Rich table for people, `--format json` for programs."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from lifebank.errors import RowsRejected

console = Console()
err_console = Console(stderr=True)


class OutputFormat(StrEnum):
    table = "table"
    json = "json"


# The `--format` option every listing command takes.
FormatOpt = Annotated[OutputFormat, typer.Option("--format", help="table for people, json for programs")]


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def emit_rows(rows: Sequence[Mapping[str, Any]], fmt: OutputFormat, *, columns: Sequence[str] | None = None,
              title: str | None = None) -> None:
    if fmt is OutputFormat.json:
        print_json(list(rows))
        return
    columns = list(columns or (rows[0].keys() if rows else []))
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*("" if row.get(c) is None else str(row.get(c)) for c in columns))
    console.print(table)


def print_rejection(exc: RowsRejected, fmt: OutputFormat) -> None:
    """A rejected import: the list of bad rows on stdout with `--format json`, one line per row on stderr else."""
    if fmt is OutputFormat.json:
        print_json([e.as_dict() for e in exc.errors])
        return
    err_console.print(f"error: {exc.detail.split(':', 1)[0]}", highlight=False, markup=False, soft_wrap=True)
    for error in exc.errors:
        err_console.print(f"  {error}", highlight=False, markup=False, soft_wrap=True)
