"""Languages of every message a user reads (UI, API `detail`, CLI): gettext catalogs (Babel .po files),
English source strings, Simplified Chinese shipped.

Each domain keeps its own catalog in `<domain>/locale/<lang>/LC_MESSAGES/messages.po`, merged here, so
domains add strings without touching one another's files. Catalogs are read from the .po text at start
(no compiled .mo to keep in sync).
"""

from __future__ import annotations

from functools import cache
from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

from lifebank.domains import DOMAINS

LANGUAGES: dict[str, str] = {"en": "English", "zh_Hans": "简体中文"}
DEFAULT_LANGUAGE = "en"
_PACKAGE_ROOT = Path(__file__).resolve().parent


def catalog_files(language: str) -> list[Path]:
    roots = [_PACKAGE_ROOT / "web"] + [_PACKAGE_ROOT / d for d in DOMAINS]
    # Several .po files per domain are allowed (messages.po, specimens.po…), so that people working on one
    # domain's parts do not edit one file; they merge into one catalogue.
    return [f for root in roots for f in sorted((root / "locale" / language / "LC_MESSAGES").glob("*.po"))]


@cache
def translations(language: str) -> NullTranslations:
    merged: NullTranslations | None = None
    for po_file in catalog_files(language):
        with po_file.open("rb") as handle:
            catalog = read_po(handle, locale=language.replace("_Hans", ""))
        buffer = BytesIO()
        write_mo(buffer, catalog)
        buffer.seek(0)
        loaded = Translations(buffer)
        if merged is None or not isinstance(merged, Translations):
            merged = loaded
        else:
            merged.merge(loaded)
    return merged or NullTranslations()


def normalise(code: str | None) -> str | None:
    """Map what browsers and users say ('zh-CN', 'zh', 'zh_Hans', 'en-GB') to a shipped language."""
    if not code:
        return None
    code = code.strip().replace("-", "_").lower()
    if code.startswith("zh"):
        return "zh_Hans" if not code.startswith(("zh_tw", "zh_hk", "zh_hant")) else "zh_Hans"
    if code.startswith("en"):
        return "en"
    return None


def from_accept_language(header: str | None) -> str | None:
    """Pick the best shipped language from an Accept-Language header, honouring q-values."""
    if not header:
        return None
    choices: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if (language := normalise(tag)) and quality > 0:
            choices.append((-quality, index, language))
    return sorted(choices)[0][2] if choices else None
