"""The report page's body as a standalone HTML file (CLI `--format html`), from the same template fragment
the app's report page includes, so the two never disagree."""

from __future__ import annotations

from pathlib import Path
from typing import Any

TEMPLATES = Path(__file__).parent / "templates"


def report_html(report: dict[str, Any], language: str | None = None) -> str:
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(["html"]),
                      extensions=["jinja2.ext.i18n"])
    if language and language != "en":
        from lifebank.i18n import translations

        env.install_gettext_translations(translations(language), newstyle=False)  # type: ignore[attr-defined]
    else:
        env.install_null_translations()  # type: ignore[attr-defined]
    return env.get_template("precision/standalone.html").render(report=report, content=report["content"],
                                                                lang=language or "en")
