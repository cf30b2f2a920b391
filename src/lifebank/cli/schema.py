"""A quick "is the schema current?" for one-shot commands, without importing Alembic.

Every command that touches the database first refuses to run on an outdated schema
(`lifebank.db.migrate.ensure_current`). Asking Alembic costs a fresh process about 130 ms before any
work: `import alembic` loads its whole runtime (every dialect's DDL module, Mako), and its script directory
imports every migration module. The answer needs far less: the revision ids and their links, which the
migration files state as literals (`revision = "…"`, `down_revision = …`, `depends_on = …`), and the rows
of `alembic_version`.

This check can only say "current". Whenever it cannot be sure (a file it cannot read statically, a link to
a branch label instead of a revision id, no `alembic_version` table) or the schema looks outdated, the
caller asks Alembic, which decides and words the refusal. So a mistake here can cost time, never let a
command run on an outdated schema that Alembic would have refused.
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lifebank.db.engine import Database

# The files Alembic reads as revisions: every *.py in a version location except __init__ and editor backups
# (alembic.script.base._only_source_rev_file).
_REVISION_FILE = re.compile(r"(?!\.\#|__init__)(.*\.py)$")
_LINKS = ("revision", "down_revision", "depends_on")
_RELINKED = re.compile(rb"^(revision|down_revision|depends_on)\b", re.MULTILINE)


def _literal_ids(value: object) -> tuple[str, ...] | None:
    """A link's revision ids: None, one id or a sequence of ids; anything else is not understood (None)."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return tuple(value)
    return None


def _read_revision(path: Path) -> tuple[str, tuple[str, ...], tuple[str, ...]] | None:
    """(revision, down revisions, dependencies) as the file states them; None when it is not plain literals.

    The links sit in the module header, above `def upgrade()`; parsing only that part (when it parses and
    states a revision) spares a one-shot command parsing every migration's DDL (~20 ms for 19 files)."""
    source = path.read_bytes()
    header, found_def, rest = source.partition(b"\ndef ")
    if found_def and not _RELINKED.search(rest):  # no link (re)assigned below the header
        try:
            read = _links(ast.parse(header, filename=str(path)))
        except SyntaxError:
            read = None
        if read is not None:
            return read
    return _links(ast.parse(source, filename=str(path)))


def _links(module: ast.Module) -> tuple[str, tuple[str, ...], tuple[str, ...]] | None:
    found: dict[str, object] = {}
    for node in module.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id in _LINKS:
            try:
                found[target.id] = ast.literal_eval(value)
            except ValueError:
                return None
    revision = found.get("revision")
    down, depends = _literal_ids(found.get("down_revision")), _literal_ids(found.get("depends_on"))
    if not isinstance(revision, str) or down is None or depends is None:
        return None
    return revision, down, depends


@cache
def revision_graph() -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]] | None:
    """{revision: (down revisions, dependencies)} of every domain's migrations, or None if not readable."""
    from lifebank.domains import migration_folders

    graph: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
    for folder in migration_folders():
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            if not path.is_file() or not _REVISION_FILE.match(path.name):
                continue
            try:
                read = _read_revision(path)
            except (OSError, SyntaxError, ValueError):
                return None
            if read is None or read[0] in graph:
                return None
            graph[read[0]] = read[1:]
    return graph or None


def heads(graph: dict[str, tuple[tuple[str, ...], tuple[str, ...]]]) -> set[str]:
    """The revisions no other revision builds on (Alembic's heads: dependencies do not count)."""
    below = {down for downs, _ in graph.values() for down in downs}
    return set(graph) - below


def applied(graph: dict[str, tuple[tuple[str, ...], tuple[str, ...]]], current: set[str]) -> set[str] | None:
    """The recorded revisions with all their ancestors and dependencies; None when a link is unknown."""
    pending: list[str] = list(current)
    seen: set[str] = set()
    while pending:
        revision = pending.pop()
        if revision in seen:
            continue
        if revision not in graph:
            return None
        seen.add(revision)
        downs, depends = graph[revision]
        pending.extend(downs)
        pending.extend(depends)
    return seen


def known_current(db: Database) -> bool:
    """True when the database is certainly at every branch head; False means "ask Alembic"."""
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError

    graph = revision_graph()
    if graph is None:
        return False
    try:
        with db.engine.connect() as conn:
            current = {row[0] for row in conn.execute(text("SELECT version_num FROM alembic_version"))}
    except SQLAlchemyError:  # no alembic_version table yet: Alembic says "the schema is empty"
        return False
    return versions_current(current)


def versions_current(current: set[str]) -> bool:
    """True when the rows of `alembic_version` certainly reach every branch head of the migration files."""
    graph = revision_graph()
    if graph is None or not current:
        return False
    reached = applied(graph, current)
    return reached is not None and heads(graph) <= reached
