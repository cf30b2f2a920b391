"""The message catalogue: one template per sentence, rendered in the reader's language, never an f-string.

The source scan below is the catalogue's guard: every error a service raises and every `Msg` it builds is
a literal template with named parameters, and every template has its Simplified Chinese translation.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
from functools import cache
from pathlib import Path

from babel.messages.pofile import read_po
from hypothesis import given
from hypothesis import strategies as st

import lifebank
from lifebank.errors import LifeBankError, NotFound, RowError, RowsRejected
from lifebank.i18n import catalog_files
from lifebank.messages import Msg, label, register_labels

SRC = Path(__file__).resolve().parents[1] / "src" / "lifebank"


# Exceptions whose user-facing message is not their first argument (0-based position).
MESSAGE_ARG = {"RowError": 2, "TypingError": 1, "SprecError": 2}


@cache
def error_class_names() -> frozenset[str]:
    """Names of every exception class the package defines (LifeBankError's subclasses, pure modules' errors)."""
    for module in pkgutil.walk_packages(lifebank.__path__, "lifebank."):
        if ".migrations" in module.name or module.name.endswith("__main__"):
            continue
        importlib.import_module(module.name)
    names: set[str] = set()
    stack: list[type] = [Exception]
    while stack:
        cls = stack.pop()
        if cls.__module__.startswith("lifebank"):
            names.add(cls.__name__)
        stack.extend(cls.__subclasses__())
    return frozenset(names | {LifeBankError.__name__})


def _call_name(node: ast.Call) -> str | None:
    func = node.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _message_args(node: ast.Call) -> list[ast.expr]:
    """The arguments of a call that are user-facing templates."""
    name = _call_name(node)
    if name in MESSAGE_ARG:
        position = MESSAGE_ARG[name]
        found = node.args[position:position + 1] + [k.value for k in node.keywords if k.arg == "reason"]
    elif name in error_class_names() or name == "Msg":
        found = node.args[:1]
    else:
        return []
    return found + [k.value for k in node.keywords if k.arg == "plural"]


def _error_init_calls(tree: ast.AST) -> set[int]:
    """`super().__init__(…)` calls inside LifeBankError subclasses: their first argument is a message too."""
    found: set[int] = set()
    for cls in ast.walk(tree):
        if isinstance(cls, ast.ClassDef) and cls.name in error_class_names():
            for node in ast.walk(cls):
                if isinstance(node, ast.Call) and _call_name(node) == "__init__":
                    found.add(id(node))
    return found


def _scan() -> tuple[set[str], list[str]]:
    templates: set[str] = set()
    built: list[str] = []
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        init_calls = _error_init_calls(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _call_name(node) == "N_" and node.args:
                if isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                    templates.add(node.args[0].value)
            if not isinstance(node, ast.Call):
                continue
            args = node.args[:1] if id(node) in init_calls else _message_args(node)
            for arg in args:
                where = f"{path.relative_to(SRC)}:{node.lineno}"
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    templates.add(arg.value)
                elif isinstance(arg, ast.JoinedStr) or (isinstance(arg, ast.BinOp)) or (
                        isinstance(arg, ast.Call) and isinstance(arg.func, ast.Attribute)
                        and arg.func.attr == "format"):
                    built.append(where)
    return templates, built


def _translated(language: str) -> dict[str, str]:
    table: dict[str, str] = {}
    for po_file in catalog_files(language):
        with po_file.open("rb") as handle:
            for message in read_po(handle):
                if message.id and message.string:
                    ids = [message.id] if isinstance(message.id, str) else list(message.id)  # plural: both ids
                    text = str(message.string if isinstance(message.string, str) else message.string[0])
                    for msgid in ids:
                        table[msgid] = text
    return table


def test_no_user_message_is_built_with_an_fstring() -> None:
    _templates, built = _scan()
    assert not built, f"{len(built)} messages built from f-strings/format/concatenation (use a template " \
                      f"with named parameters): {built[:30]}"


def test_every_message_template_has_a_chinese_translation() -> None:
    templates, _built = _scan()
    assert len(templates) > 50
    table = _translated("zh_Hans")
    missing = sorted(t for t in templates if t not in table)
    assert not missing, f"{len(missing)} message templates lack a zh_Hans translation: {missing[:30]}"


def test_every_translation_keeps_the_templates_placeholders() -> None:
    import string

    fields = string.Formatter()
    bad = []
    for msgid, text in _translated("zh_Hans").items():
        if "{" not in msgid:
            continue
        try:
            wanted = {f for _, f, _, _ in fields.parse(msgid) if f}
            got = {f for _, f, _, _ in fields.parse(text) if f}
        except ValueError:
            continue
        if wanted != got:
            bad.append((msgid, text))
    assert not bad, bad[:10]


def test_a_message_renders_in_english_and_chinese() -> None:
    exc = NotFound("specimen {barcode} does not exist", barcode="LB000001X")
    assert exc.detail == "specimen LB000001X does not exist"
    assert exc.render("zh_Hans") != exc.detail
    assert "LB000001X" in exc.render("zh_Hans")


def test_a_count_without_a_plural_still_fills_the_template() -> None:
    assert str(Msg("{count} donors found", count=3)) == "3 donors found"


def test_plural_agrees_with_the_count() -> None:
    one = RowsRejected("specimen import", [RowError(2, "barcode", "duplicate barcode")], rows=3)
    assert "1 error in 3 rows" in one.detail
    two = RowsRejected("specimen import", [RowError(2, "a", "x"), RowError(3, "a", "y")])
    assert "2 errors:" in two.detail


def test_nested_messages_render_in_the_same_language() -> None:
    outer = Msg("line {line}, column {column}: {reason}", line=3, column="type",
                reason=Msg("unknown specimen type {code}", code="BANANA"))
    assert str(outer) == "line 3, column type: unknown specimen type BANANA"
    chinese = outer.render("zh_Hans")
    assert "BANANA" in chinese and "line" not in chinese


def test_labels_translate_codes_and_leave_unknown_codes_alone() -> None:
    register_labels("test_kind", {"biobank_manager": "Biobank manager"})
    assert label("test_kind", "biobank_manager") == "Biobank manager"
    assert label("test_kind", "no_such_code", "zh_Hans") == "no_such_code"


@given(st.text(), st.dictionaries(st.from_regex(r"[a-z]{1,8}", fullmatch=True), st.text()))
def test_rendering_never_raises_on_any_template(template: str, params: dict[str, str]) -> None:
    """A template with stray braces or a missing parameter must not turn a user error into a crash."""
    for language in (None, "zh_Hans"):
        text = Msg(template, **params).render(language)
        assert isinstance(text, str)
        if not params:
            assert text == template or language
