"""The `lifebank` command. Every domain adds its own sub-commands from `lifebank.<domain>.cli`.

Start-up is kept cheap (`lifebank --help` and the fixed cost of every one-shot command): at module level
this file and the domains' CLI modules import only Typer, Rich and LifeBank's light modules; SQLAlchemy,
Alembic, the services and their NumPy/pyarrow/DuckDB imports load inside the commands that use them
(tests/cli/test_startup.py keeps it so).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from lifebank.cli import context
from lifebank.cli.context import cli_actor
from lifebank.cli.lazy import LazyRoot
from lifebank.cli.output import (
    FormatOpt,
    OutputFormat,
    console,
    emit_rows,
    err_console,
    print_error,
    print_json,
    print_rejection,
    say,
    text,
)
from lifebank.domains import DOMAINS
from lifebank.errors import ConfigError, LifeBankError, RowsRejected
from lifebank.messages import Msg

# The domains' commands (`lifebank.<domain>.cli`) load when a command line needs them (lifebank.cli.lazy).
app = LazyRoot(name="lifebank", help="LifeBank: biobank, stem-cell registry and genome data platform.",
               no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False, domains=DOMAINS)
db_app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)
user_app = typer.Typer(help="User accounts and roles.", no_args_is_help=True)
token_app = typer.Typer(help="API bearer tokens.", no_args_is_help=True)
audit_app = typer.Typer(help="The tamper-evident ledger.", no_args_is_help=True)
config_app = typer.Typer(help="Configuration (LIFEBANK_* environment variables).", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")
app.add_typer(audit_app, name="audit")
app.add_typer(config_app, name="config")

def _version(value: bool) -> None:
    if value:
        from lifebank import __version__

        say(Msg("lifebank {version}", version=__version__))
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """LifeBank command line."""


# --- serve / demo ------------------------------------------------------------------------------------

@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind (default LIFEBANK_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default LIFEBANK_PORT)")] = None,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes (PostgreSQL: about one per core; "
                                                            "each builds its own in-memory indexes)")] = 1,
) -> None:
    """Serve the web UI and the API (refuses to start on an outdated schema); JSON logs on stderr."""
    import uvicorn

    from lifebank import __version__
    from lifebank.web.operations import log_config

    cfg = context.settings()
    db = context.database()
    host, port = host or cfg.host, port or cfg.port
    say(Msg("LifeBank {version} serving on {url} (API docs: /api/docs)", version=__version__,
            url=f"http://{host}:{port}/"))
    if workers == 1:
        from lifebank.domains import warm_up
        from lifebank.web.app import create_app

        app_ = create_app(cfg, db)
        warm_up(db)  # the HLA index and the like build in the background while the server starts
        uvicorn.run(app_, host=host, port=port, log_config=log_config(), access_log=False)
        return
    import tempfile

    db.dispose()  # the workers open their own connections
    with tempfile.TemporaryDirectory(prefix="lifebank-metrics-") as metrics_dir:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir  # every worker's counters, summed by /metrics
        # uvicorn kills a worker that does not answer its liveness ping within timeout_worker_healthcheck (default
        # 5 s) and drops the worker's open connections: on a saturated host a busy or still-importing worker
        # misses it (benchmarks/concurrency.py saw 19 such kills and a dropped request at load average 22).
        uvicorn.run("lifebank.web.operations:worker_app", factory=True, workers=workers, host=host, port=port,
                    log_config=log_config(), access_log=False, timeout_worker_healthcheck=60)


@app.command()
def demo(
    serve_after: Annotated[bool, typer.Option("--serve/--no-serve", help="Serve once loaded")] = True,
    host: Annotated[str | None, typer.Option()] = None,
    port: Annotated[int | None, typer.Option()] = None,
) -> None:
    """Create the embedded database, load the demo data set (once) and serve it."""
    from lifebank import demo as demo_data
    from lifebank.db import migrate

    db = context.database(require_current=False, create=True)
    migrate.upgrade(db)
    login = demo_data.load(db)
    cfg = context.settings()
    console.print()
    say(Msg("LifeBank demo ready at {url}", url=f"http://{host or cfg.host}:{port or cfg.port}/"))
    say(Msg("Log in as {username} with password {password} (other demo users: {others}; same password)",
            username=login.username, password=login.password, others=", ".join(login.others)))
    console.print()
    if serve_after:
        serve(host=host, port=port)


# --- db ----------------------------------------------------------------------------------------------

@db_app.command("upgrade")
def db_upgrade() -> None:
    """Bring the schema to the newest revision of every domain."""
    from lifebank.db import migrate

    db = context.database(require_current=False, create=True)
    migrate.upgrade(db)
    say(Msg("schema up to date: {revisions}", revisions=", ".join(sorted(migrate.current_revisions(db)))))


@db_app.command("current")
def db_current(fmt: FormatOpt = OutputFormat.table) -> None:
    """Show the schema revisions in the database and the newest ones known; exit 1 when outdated."""
    from lifebank.db import migrate

    db = context.database(require_current=False)
    current, heads = sorted(migrate.current_revisions(db)), sorted(migrate.head_revisions(db))
    up_to_date = set(heads) <= migrate.applied_revisions(db, set(current))
    if fmt is OutputFormat.json:
        print_json({"current": current, "heads": heads, "up_to_date": up_to_date})
    else:
        say(Msg("current: {current}", current=", ".join(current) or text(Msg("(empty)"))))
        say(Msg("newest:  {heads}", heads=", ".join(heads)))
        say(Msg("up to date") if up_to_date else Msg("outdated: run `lifebank db upgrade`"))
    if not up_to_date:
        raise typer.Exit(1)


# --- users and tokens --------------------------------------------------------------------------------

@user_app.command("create")
def user_create(
    username: str,
    role: Annotated[list[str], typer.Option("--role", "-r", help="Role (repeatable)")],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True,
                                          envvar="LIFEBANK_NEW_PASSWORD")],
    display_name: Annotated[str, typer.Option("--name")] = "",
    locale: Annotated[str | None, typer.Option(help="en or zh_Hans")] = None,
    org: Annotated[str | None, typer.Option("--org", help="The organisation the user works for "
                                                          "(`lifebank org create` first)")] = None,
    scope: Annotated[list[str] | None, typer.Option("--scope", help="site:NAME or collection:STORAGE/PATH: the "
                                                                    "roles apply there only (repeatable)")] = None,
) -> None:
    """Create a user with one or more roles, optionally in an organisation and limited to sites/collections."""
    from lifebank.auth import service

    user = service.create_user(context.database(), username, password, role, display_name=display_name,
                               locale=locale, actor=cli_actor(), organisation=org, scopes=scope or None)
    roles = sorted(user.roles) + [f"{g.role}@{g.scope_type}:{g.scope_id}" for g in user.scoped_grants]
    say(Msg("created user {username} ({roles})", username=user.username, roles=", ".join(roles)))


@user_app.command("org")
def user_org(
    username: str,
    organisation: Annotated[str | None, typer.Argument(help="Organisation name; omit it to clear")] = None,
) -> None:
    """Say which organisation a user works for (no name: none)."""
    from lifebank.auth import organisations

    user = organisations.set_user_organisation(context.database(), username, organisation, actor=cli_actor())
    say(Msg("{username}: {organisation}", username=user.username,
            organisation=user.organisation.name if user.organisation else text(Msg("(no organisation)"))))


@user_app.command("scope")
def user_scope(
    username: str,
    role: Annotated[str, typer.Option("--role", "-r", help="The role to limit")],
    add: Annotated[list[str] | None, typer.Option("--add", help="site:NAME or collection:PATH to grant "
                                                                "the role in (repeatable)")] = None,
    remove: Annotated[list[str] | None, typer.Option("--remove", help="Scope to take away (repeatable)")] = None,
) -> None:
    """Grant or take away a role limited to a site or a collection."""
    from lifebank.auth import organisations

    db = context.database()
    for scope in add or []:
        organisations.grant_scoped_role(db, username, role, scope, actor=cli_actor())
    for scope in remove or []:
        organisations.revoke_scoped_role(db, username, role, scope, actor=cli_actor())
    from lifebank.auth import service

    user = service.get_user(db, username)
    grants = [f"{g.role}@{g.scope_type}:{g.scope_id}" for g in user.scoped_grants]
    say(Msg("{username}: {roles}", username=user.username, roles=", ".join(sorted(user.roles) + grants)))


@user_app.command("list")
def user_list(fmt: FormatOpt = OutputFormat.table) -> None:
    """List users (roles as a list with `--format json`)."""
    from lifebank.auth import service

    db = context.database()
    locks = service.lockouts(db)
    rows = [{"username": u.username, "display_name": u.display_name, "roles": sorted(u.roles),
             "active": u.is_active, "locale": u.locale, "time_zone": u.time_zone,
             "last_login_at": u.last_login_at.isoformat() if u.last_login_at else None,
             "locked_until": locks[u.username].isoformat() if u.username in locks else None,
             "organisation": u.organisation.name if u.organisation else None,
             "scoped_roles": [f"{g.role}@{g.scope_type}:{g.scope_id}" for g in u.scoped_grants]}
            for u in service.list_users(db)]
    if fmt is OutputFormat.table:
        rows = [{**row, "roles": ",".join(row["roles"]), "scoped_roles": ",".join(row["scoped_roles"])}
                for row in rows]
    emit_rows(rows, fmt, columns=["username", "display_name", "roles", "active", "locale", "time_zone",
                                  "last_login_at", "locked_until", "organisation", "scoped_roles"])


@user_app.command("roles")
def user_roles(
    username: str,
    add: Annotated[list[str] | None, typer.Option("--add", help="Role to grant (repeatable)")] = None,
    remove: Annotated[list[str] | None, typer.Option("--remove", help="Role to take away (repeatable)")] = None,
) -> None:
    """Show a user's roles, or grant and take away roles (the last active admin keeps the admin role)."""
    from lifebank.auth import service

    db = context.database()
    if add or remove:
        user = service.change_roles(db, username, add=add or [], remove=remove or [], actor=cli_actor())
    else:
        user = service.get_user(db, username)
    say(Msg("{username}: {roles}", username=user.username, roles=", ".join(sorted(user.roles))))


@user_app.command("disable")
def user_disable(username: str) -> None:
    """Disable a user: logins, sessions and tokens stop working (never the last active admin)."""
    from lifebank.auth import service

    service.set_active(context.database(), username, False, actor=cli_actor())
    say(Msg("disabled user {username}", username=username))


@user_app.command("enable")
def user_enable(username: str) -> None:
    """Enable a disabled user again."""
    from lifebank.auth import service

    service.set_active(context.database(), username, True, actor=cli_actor())
    say(Msg("enabled user {username}", username=username))


@user_app.command("reset-link")
def user_reset_link(
    username: str,
    hours: Annotated[int, typer.Option(min=1, max=168, help="How long the link works")] = 24,
    base_url: Annotated[str, typer.Option("--base-url", help="The address users open LifeBank at")]
    = "http://127.0.0.1:8000",
) -> None:
    """Print a one-time link with which the user sets a new password (older links of the user stop)."""
    from lifebank.auth.reset_links import RESET_PATH, issue_reset_link

    token, expires = issue_reset_link(context.database(), username, actor=cli_actor(), hours=hours)
    say(Msg("reset link for {username}, valid once until {time} UTC: {link}", username=username,
            time=expires.strftime("%Y-%m-%d %H:%M"), link=base_url.rstrip("/") + RESET_PATH + token))


@user_app.command("unlock")
def user_unlock(username: str) -> None:
    """Lift a login lockout after too many failed logins."""
    from lifebank.auth import service

    lifted = service.unlock(context.database(), username, actor=cli_actor())
    say(Msg("unlocked user {username}", username=username) if lifted else
        Msg("user {username} was not locked out", username=username))


@user_app.command("password")
def user_password(
    username: str,
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True,
                                          envvar="LIFEBANK_NEW_PASSWORD")],
) -> None:
    """Set a new password for a user; their open browser sessions end."""
    from lifebank.auth import service

    service.reset_password(context.database(), username, password, actor=cli_actor())
    say(Msg("new password set for {username}; their sessions ended", username=username))


@token_app.command("create")
def token_create(
    username: str,
    name: Annotated[str, typer.Option(help="What the token is for")] = "cli",
    days: Annotated[int, typer.Option(help="Lifetime in days")] = 90,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Issue an API token for a user; it is printed once and stored only as a hash."""
    from lifebank.auth import service

    issued = service.create_token(context.database(), username, name, days=days, actor=cli_actor())
    if fmt is OutputFormat.json:
        print_json({"token": issued.token, "prefix": issued.prefix, "expires_at": issued.expires_at.isoformat()})
    else:
        console.print(issued.token, soft_wrap=True, markup=False, highlight=False)
        err_console.print(text(Msg("prefix {prefix}, expires {date}", prefix=issued.prefix,
                                   date=f"{issued.expires_at:%Y-%m-%d}")), markup=False, highlight=False)


@token_app.command("revoke")
def token_revoke(prefix: str) -> None:
    """Revoke a token by its prefix (the part after `lbt_`)."""
    from lifebank.auth import service

    service.revoke_token(context.database(), prefix, actor=cli_actor())
    say(Msg("revoked token {prefix}", prefix=prefix))


@token_app.command("list")
def token_list(username: Annotated[str | None, typer.Argument()] = None, fmt: FormatOpt = OutputFormat.table) -> None:
    """List tokens (never their secret)."""
    from lifebank.auth import service

    rows = [{"prefix": t.prefix, "user": t.user.username, "name": t.name, "expires_at": t.expires_at.isoformat(),
             "revoked": t.revoked_at is not None} for t in service.list_tokens(context.database(), username)]
    emit_rows(rows, fmt, columns=["prefix", "user", "name", "expires_at", "revoked"])


# --- audit -------------------------------------------------------------------------------------------

@audit_app.command("verify")
def audit_verify(
    anchors: Annotated[Path | None, typer.Option(help="Folder of signed anchors (`audit anchor`) to check too")] = None,
    key: Annotated[Path | None, typer.Option(help="Ed25519 public key (PEM) the anchors were signed with")] = None,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Check the whole hash chain; exit 1 and name the first broken event when it was tampered with.

    With --anchors and --key, also check every signed anchor against the stored chain: this catches a chain
    rewritten and consistently re-hashed by someone who could write the database.
    """
    from lifebank.audit import service

    if (anchors is None) != (key is None):
        raise typer.BadParameter(text(Msg("--anchors and --key go together")))
    db = context.database()
    result = service.verify(db)
    report = None
    if anchors is not None and key is not None:
        from lifebank.audit.anchoring import check_anchors

        report = check_anchors(db, anchors, key)
    if fmt is OutputFormat.json:
        body: dict[str, object] = {"ok": result.ok and (report is None or report.ok), "checked": result.checked,
                                   "broken_seq": result.broken.seq if result.broken else None,
                                   "reason": result.broken.reason if result.broken else None}
        if report is not None:
            body["anchors"] = {"checked": report.checked, "newest_seq": report.newest_seq,
                               "problems": [{"file": p.file, "reason": str(p.message)} for p in report.problems]}
        print_json(body)
    else:
        if result.ok:
            say(Msg("ledger intact: {count} event verified", plural="ledger intact: {count} events verified",
                    count=result.checked))
        elif result.broken is not None:
            err_console.print(text(Msg("ledger broken at {where} ({count} events verified before it)",
                                       where=result.broken.describe(), count=result.checked)),
                              style="red", markup=False, highlight=False, soft_wrap=True)
        if report is not None and report.ok:
            say(Msg("{count} anchor agrees with the ledger (newest: event #{seq})",
                    plural="{count} anchors agree with the ledger (newest: event #{seq})",
                    count=report.checked, seq=report.newest_seq))
        for problem in report.problems if report is not None else ():
            err_console.print(text(Msg("anchor {file}: {reason}", file=problem.file, reason=problem.message)),
                              style="red", markup=False, highlight=False, soft_wrap=True)
    if not result.ok or (report is not None and not report.ok):
        raise typer.Exit(1)


@audit_app.command("keygen")
def audit_keygen(
    out: Annotated[Path, typer.Argument(help="Private key file to create (PKCS#8 PEM); FILE.pub gets the public key")],
) -> None:
    """Create an Ed25519 key pair for anchoring; keep the private key off the database server."""
    from lifebank.audit.anchors import new_private_key_pem, public_key_pem

    public = out.with_name(out.name + ".pub")
    for path in (out, public):
        if path.exists():
            raise ConfigError("{path} already exists; a key file is never overwritten", path=str(path))
    private_pem = new_private_key_pem()
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(private_pem)
    public.write_bytes(public_key_pem(private_pem))
    say(Msg("key pair written: {private} (keep it secret) and {public}", private=str(out), public=str(public)))


@audit_app.command("anchor")
def audit_anchor(
    key: Annotated[Path, typer.Option(help="Ed25519 private key (PKCS#8 PEM), kept outside the database")],
    out: Annotated[Path, typer.Option(help="Append-only folder of anchors the operator ships elsewhere")],
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Sign the ledger head and write it as a new anchor file (adds no ledger event)."""
    from lifebank.audit.anchoring import anchor_head

    anchor, path = anchor_head(context.database(), key, out)
    if fmt is OutputFormat.json:
        print_json({"seq": anchor.seq, "hash": anchor.hash, "anchored_at": anchor.anchored_at, "file": str(path)})
    else:
        say(Msg("anchored event #{seq} in {file}", seq=anchor.seq, file=str(path)))


@audit_app.command("log")
def audit_log(
    entity: Annotated[str | None, typer.Option(help="TYPE or TYPE:ID, e.g. user:alice")] = None,
    actor: Annotated[str | None, typer.Option()] = None,
    action: Annotated[str | None, typer.Option(help="Ledger action, e.g. user.roles")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10000)] = 50,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """List ledger events, newest first."""
    from lifebank.audit import service

    entity_type, _, entity_id = (entity or "").partition(":")
    total, events = service.list_events(context.database(), entity_type=entity_type or None,
                                        entity_id=entity_id or None, actor=actor, action=action, limit=limit)
    rows = [service.event_view(e) for e in events]
    if fmt is OutputFormat.json:
        print_json({"total": total, "items": rows})
        return
    for row in rows:
        row["hash"] = row["hash"][:12]
    emit_rows(rows, fmt, columns=["seq", "occurred_at", "actor", "action", "entity_type", "entity_id", "hash"],
              title=Msg("{count} event", plural="{count} events", count=total))


# --- backup -------------------------------------------------------------------------------------------

@app.command("backup")
def backup_command(
    dest: Annotated[Path, typer.Argument(help="Archive to write (.tar.gz); an existing file is never overwritten")],
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Write the database, the data folder and a SHA-256 manifest into one archive."""
    from lifebank.db.backup import backup

    context.database()  # the configured bank exists and is at the current schema
    summary = backup(context.settings(), dest)
    if fmt is OutputFormat.json:
        print_json({"path": str(summary.path), "database": summary.database, "files": summary.files,
                    "bytes": summary.bytes, "sha256": summary.sha256, "tables": summary.tables})
    else:
        say(Msg("backup written: {path} ({files} files, {size} bytes, SHA-256 {sha256})", path=str(summary.path),
                files=summary.files, size=summary.bytes, sha256=summary.sha256))


@app.command("restore")
def restore_command(
    src: Annotated[Path, typer.Argument(help="Archive written by `lifebank backup`")],
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Check an archive against its manifest, restore it into an empty bank, then verify the ledger."""
    from lifebank.audit import service
    from lifebank.db.restore import restore

    summary = restore(context.settings(), src)
    result = service.verify(context.database(create=True))
    if fmt is OutputFormat.json:
        print_json({"database": summary.database, "files": summary.files, "tables": summary.tables,
                    "backup_created_at": summary.created_at, "ledger_ok": result.ok,
                    "ledger_events": result.checked})
    else:
        say(Msg("restored {files} files from the backup of {created}; every table's row count matches",
                files=summary.files, created=summary.created_at))
        if result.ok:
            say(Msg("ledger intact: {count} event verified", plural="ledger intact: {count} events verified",
                    count=result.checked))
    if not result.ok:
        err_console.print(text(Msg("ledger broken at {where} ({count} events verified before it)",
                                   where=result.broken.describe(), count=result.checked)),
                          style="red", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1)


# --- config ------------------------------------------------------------------------------------------

@config_app.command("show")
def config_show(fmt: FormatOpt = OutputFormat.table) -> None:
    """Show the effective settings (secrets masked)."""
    view = context.settings().public_view()
    if fmt is OutputFormat.json:
        print_json(view)
    else:
        emit_rows([{"setting": k, "value": v} for k, v in view.items()], fmt, columns=["setting", "value"])


def main() -> None:
    """Entry point: usage mistakes, domain errors and unreachable databases become one line on stderr.

    Exit codes: 0 done, 1 refused (a domain error, a database problem), 2 a usage mistake (unknown
    command or option, a bad value), 130 interrupted. Never a traceback for anything a user can cause.
    """
    try:
        code = app.for_args(sys.argv[1:])(standalone_mode=False)  # only the command line's own group
    except typer.TyperException as exc:  # Typer's (vendored Click's) usage errors
        _print_usage_error(exc)
        sys.exit(getattr(exc, "exit_code", 2))
    except typer.Abort:
        err_console.print(text(Msg("aborted")), markup=False, highlight=False)
        sys.exit(1)
    except RowsRejected as exc:
        print_rejection(exc, OutputFormat.table)
        sys.exit(1)
    except LifeBankError as exc:
        print_error(exc)
        sys.exit(1)
    except KeyboardInterrupt:
        err_console.print(text(Msg("interrupted")), markup=False, highlight=False)
        sys.exit(130)
    except Exception as exc:
        if not _is_database_error(exc):
            raise
        err_console.print(f"[red]{escape(text(Msg('database error:')))}[/] {escape(str(exc).splitlines()[0])}",
                          highlight=False, soft_wrap=True)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)


def _is_database_error(exc: Exception) -> bool:
    """A SQLAlchemy error, without importing SQLAlchemy: a command that never loaded it cannot raise one."""
    sqlalchemy_exc = sys.modules.get("sqlalchemy.exc")
    return sqlalchemy_exc is not None and isinstance(exc, sqlalchemy_exc.SQLAlchemyError)


def _print_usage_error(exc: Exception) -> None:
    ctx = getattr(exc, "ctx", None)
    if type(exc).__name__ == "NoArgsIsHelpError":
        return  # a group named alone: Typer has already printed its help
    format_message = getattr(exc, "format_message", None)
    problem = format_message() if callable(format_message) else str(exc)
    command = ctx.command_path if ctx is not None else "lifebank"
    err_console.print(text(Msg("usage error: {problem} (see `{command} --help`)", problem=problem,
                               command=command)), markup=False, highlight=False, soft_wrap=True)
