"""The message catalogue: every sentence a user reads is an English template with named parameters.

A service never builds an English f-string for a user: it raises `NotFound("specimen {barcode} does not
exist", barcode=b)` or returns `Msg(...)`, and the edge renders it once, in the reader's language — the UI
in the user's language, the API `detail` in the request's (Accept-Language), the CLI in
`LIFEBANK_DEFAULT_LOCALE`. The templates are gettext msgids, so the translations live in the same .po
catalogues as the page strings (`<domain>/locale/zh_Hans/LC_MESSAGES/messages.po`); a test extracts every
template from the source and fails when one lacks its Chinese translation, or when an error is raised with
an f-string instead of a template.

Values a user reads that are codes (a role, a specimen status, a ledger action) are shown by their label:
domains register `{code: N_("English label")}` tables with `register_labels(kind, table)`, and
`label(kind, code, language)` translates them (an unregistered code is shown as it is).

Pure: no I/O, no web framework; Babel is imported only when a non-English rendering is asked for, so the
CLI's start-up does not pay for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

ENGLISH = "en"


def N_(text: str) -> str:
    """Mark a label for the catalogue without translating it here (gettext's no-op marker)."""
    return text


def _gettext(language: str | None) -> Any:
    if not language or language == ENGLISH:
        return None
    from lifebank.i18n import translations

    return translations(language)


class Msg:
    """A catalogue message: an English template (the gettext msgid) and its named parameters.

    `plural` and `count` make a message that agrees with a number ("1 error", "3 errors"); Chinese has one
    form. Parameters that are themselves `Msg` (or lists of them) render in the same language.
    """

    __slots__ = ("count", "params", "plural", "template")

    def __init__(self, template: str, /, *, plural: str | None = None, count: int | None = None,
                 **params: Any) -> None:
        self.template = template
        self.plural = plural
        self.count = count
        self.params: dict[str, Any] = params

    def render(self, language: str | None = None) -> str:
        """The text in `language` (a shipped language code such as 'zh_Hans'; None or 'en' for English)."""
        catalogue = _gettext(language)
        if self.plural is not None:
            n = self.count if self.count is not None else 0
            text = catalogue.ngettext(self.template, self.plural, n) if catalogue else \
                (self.template if n == 1 else self.plural)
        else:
            text = catalogue.gettext(self.template) if catalogue else self.template
        if not self.params and self.count is None:
            return text
        values = {key: _render_value(value, language) for key, value in self.params.items()}
        if self.count is not None:
            values.setdefault("count", self.count)
        for candidate in (text, self.template):  # a translation with a wrong placeholder falls back to English
            try:
                return candidate.format(**values)
            except (KeyError, IndexError, ValueError, AttributeError, TypeError):
                continue
        return text  # a template that is not a format string at all: shown as written

    def __str__(self) -> str:
        return self.render(None)

    def __repr__(self) -> str:
        return f"Msg({self.template!r}, {self.params!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            return str(self) == other
        if isinstance(other, Msg):
            return (self.template, self.plural, self.count, self.params) == \
                (other.template, other.plural, other.count, other.params)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(str(self))


def _render_value(value: Any, language: str | None) -> Any:
    if isinstance(value, Msg):
        return value.render(language)
    if isinstance(value, list | tuple) and any(isinstance(v, Msg) for v in value):
        return "; ".join(str(_render_value(v, language)) for v in value)
    return value


def render(message: Msg | str, language: str | None = None) -> str:
    """Render a message or a plain (already user-facing, untranslatable) string."""
    return message.render(language) if isinstance(message, Msg) else message


# --- labels of codes --------------------------------------------------------------------------------------

_LABELS: dict[str, dict[str, str]] = {}


def register_labels(kind: str, table: Mapping[str, str]) -> None:
    """Register English labels (marked with `N_`) for the codes of one kind: 'role', 'specimen_status', …"""
    _LABELS.setdefault(kind, {}).update(table)


def label(kind: str, code: Any, language: str | None = None) -> str:
    """The label of a code in `language`; a code nobody registered is shown as it is."""
    if code is None:
        return ""
    english = _LABELS.get(kind, {}).get(str(code))
    if english is None:
        return str(code)
    catalogue = _gettext(language)
    return catalogue.gettext(english) if catalogue else english


def labels_of(kind: str) -> dict[str, str]:
    """Every registered code of a kind with its English label (for building select boxes)."""
    return dict(_LABELS.get(kind, {}))


__all__ = ["ENGLISH", "Msg", "N_", "label", "labels_of", "register_labels", "render"]
