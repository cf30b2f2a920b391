"""`lifebank org …`: the organisations users work for (users themselves are `lifebank user …`).

Heavy imports (SQLAlchemy, the services) load inside the commands, so `lifebank --help` stays fast.
"""

from __future__ import annotations

from typing import Annotated

import typer

from lifebank.cli import context
from lifebank.cli.context import cli_actor
from lifebank.cli.output import FormatOpt, OutputFormat, emit_rows, print_json, say
from lifebank.messages import Msg

app = typer.Typer(name="org", help="Organisations: the bank, hospitals, companies, universities.",
                  no_args_is_help=True)


def _row(org: object) -> dict[str, object]:
    return {"id": org.id, "name": org.name, "country": org.country, "kind": org.kind,  # type: ignore[attr-defined]
            "for_profit": org.for_profit}  # type: ignore[attr-defined]


@app.command("create")
def org_create(
    name: str,
    country: Annotated[str | None, typer.Option("--country", help="ISO 3166-1 alpha-2 code (default CN)")] = None,
    kind: Annotated[str, typer.Option("--kind", help="bank, hospital, company or university")] = "company",
    for_profit: Annotated[bool | None, typer.Option("--for-profit/--not-for-profit",
                                                    help="Default: a company is for-profit, the other kinds "
                                                         "not-for-profit")] = None,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Register an organisation users can belong to (ledgered)."""
    from lifebank.auth import organisations

    org = organisations.create_organisation(context.database(), name, country=country, kind=kind,
                                            for_profit=for_profit, actor=cli_actor())
    if fmt is OutputFormat.json:
        print_json(_row(org))
        return
    say(Msg("created organisation {name} ({kind}, {country}, {profit})", name=org.name, kind=org.kind,
            country=org.country, profit=Msg("for-profit") if org.for_profit else Msg("not-for-profit")))


@app.command("list")
def org_list(fmt: FormatOpt = OutputFormat.table) -> None:
    """List organisations."""
    from lifebank.auth import organisations

    rows = [_row(o) for o in organisations.list_organisations(context.database())]
    emit_rows(rows, fmt, columns=["id", "name", "country", "kind", "for_profit"])
