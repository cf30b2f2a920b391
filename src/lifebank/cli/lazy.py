"""The root `lifebank` Typer app, whose domains' commands load only when they are needed.

Why: a one-shot command paid for the whole command tree twice over. Every domain's `cli` module was imported
(a domain that imports something heavy at module level slowed every command of every other domain), and Typer
turned all ~90 commands' signatures into Click parameters (~110 ms on a quiet 2-core machine) to run one
of them. `LazyRoot.for_args` loads the domains one at a time until the command named on the command line
appears, and hands Click a copy of the root holding that one group or command; `lifebank --help`, an option
before any command, or an unknown name get the full tree, so help listings and "No such command" stay as
they were. Anyone reading `registered_groups`/`registered_commands` (Typer itself, `CliRunner`) sees every
domain: reading them loads the rest.

A domain whose `cli` module fails to import is named on stderr and left out, so one domain's broken
install cannot take every other domain's commands (and `lifebank --help`) down with it.
"""

from __future__ import annotations

import copy
from typing import Any

import typer

from lifebank.messages import Msg


class LazyRoot(typer.Typer):
    """A Typer app that registers the `cli` modules of `domains` on first need (see the module docstring)."""

    def __init__(self, *args: Any, domains: tuple[str, ...] = (), **kwargs: Any) -> None:
        self._pending: list[str] = []  # set before Typer's __init__ assigns the lists below
        self._registering = 0  # > 0 while Typer appends a group or command: that read is not "the whole tree"
        super().__init__(*args, **kwargs)
        self._pending = list(domains)

    def add_typer(self, *args: Any, **kwargs: Any) -> None:
        self._registering += 1
        try:
            super().add_typer(*args, **kwargs)
        finally:
            self._registering -= 1

    def command(self, *args: Any, **kwargs: Any) -> Any:
        decorator = super().command(*args, **kwargs)

        def register(function: Any) -> Any:
            self._registering += 1
            try:
                return decorator(function)
            finally:
                self._registering -= 1

        return register

    # Typer assigns, appends to and reads these; reading them (but for appending) means "the whole tree".
    @property  # type: ignore[override]
    def registered_groups(self) -> list[Any]:
        if not self._registering:
            self.load_all()
        return self._groups

    @registered_groups.setter
    def registered_groups(self, value: list[Any]) -> None:
        self._groups = value

    @property  # type: ignore[override]
    def registered_commands(self) -> list[Any]:
        if not self._registering:
            self.load_all()
        return self._commands

    @registered_commands.setter
    def registered_commands(self, value: list[Any]) -> None:
        self._commands = value

    def load_all(self) -> None:
        while self._pending:
            self._load(self._pending[0])

    def _load(self, domain: str) -> None:
        from lifebank.domains import domain_module

        self._pending.remove(domain)
        self._registering += 1  # a domain's module registering itself loads no other domain
        try:
            self._register(domain, domain_module)
        finally:
            self._registering -= 1

    def _register(self, domain: str, domain_module: Any) -> None:
        try:
            module = domain_module(domain, "cli")
        except Exception as exc:  # another domain's broken module must not take every command down
            from lifebank.cli.output import err_console, text

            err_console.print(text(Msg("warning: the {domain} commands are unavailable: {reason}", domain=domain,
                                       reason=f"{type(exc).__name__}: {exc}")),
                              style="yellow", markup=False, highlight=False, soft_wrap=True)
            return
        if module is None:
            return
        if hasattr(module, "app"):
            self.add_typer(module.app, name=module.app.info.name)
        if hasattr(module, "register"):
            module.register(self)

    def _names(self) -> dict[str, tuple[str, Any]] | None:
        """{name on the command line: (kind, info)} of what is registered so far; None if a name is unknown."""
        found: dict[str, tuple[str, Any]] = {}
        for group in self._groups:
            name = group.name or (group.typer_instance.info.name if group.typer_instance else None)
            if not isinstance(name, str):
                return None  # a nameless group merges its commands into the root: only the full tree knows
            found[name] = ("group", group)
        for command in self._commands:
            name = command.name or (typer.main.get_command_name(command.callback.__name__)
                                    if command.callback else None)
            if not isinstance(name, str):
                return None
            found[name] = ("command", command)
        return found

    def _listing(self) -> typer.Typer:
        """Every domain loaded, each group as a shell: its name and help, none of its commands.

        The root's own options (`--help`, `--version`) are eager and end the run before any group is entered,
        so the root's help needs the groups' names and help texts only; Typer turning the ~130 commands'
        signatures into Click parameters was most of `lifebank --help`."""
        self.load_all()
        shells = []
        for group in self._groups:
            shell = copy.copy(group)
            if group.typer_instance is not None:
                shell.typer_instance = copy.copy(group.typer_instance)
                shell.typer_instance.registered_commands = []
                shell.typer_instance.registered_groups = []
            shells.append(shell)
        listing = copy.copy(self)
        listing._groups = shells
        return listing

    def for_args(self, args: list[str]) -> typer.Typer:
        """The app to run for these command-line arguments: this root pruned to the one group or command they
        name (its domain loaded, and only the domains before it that were needed to find it), or the full
        tree when they name none (a typo), the root with its groups as shells for the root's own options
        (`--help`, `--version`, no arguments: the help)."""
        if not args or args[0].startswith("-"):
            return self._listing()
        name = args[0]
        order = sorted(self._pending, key=lambda domain: domain != name)  # the domain named after itself first
        names = self._names()
        while names is not None and name not in names and order:
            self._load(order.pop(0))
            names = self._names()
        if names is None or name not in names:
            self.load_all()
            return self
        kind, info = names[name]
        pruned = copy.copy(self)
        pruned._pending = []
        pruned._groups = [info] if kind == "group" else []
        pruned._commands = [info] if kind == "command" else []
        return pruned
