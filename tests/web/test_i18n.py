"""Every UI string has a Simplified Chinese translation, and the language is chosen as users expect."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from lifebank.web.i18n import catalog_files, from_accept_language, normalise
from lifebank.web.templating import navigation

SRC = Path(__file__).resolve().parents[2] / "src" / "lifebank"
METHOD_MAP = [("**/templates/**.html", "jinja2"), ("**.py", "python")]
OPTIONS = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}}


def _ui_msgids() -> set[str]:
    found: set[str] = set()
    for _file, _line, message, _comments, _ctx in extract_from_dir(str(SRC), METHOD_MAP, OPTIONS,
                                                                  keywords={"_": None, "gettext": None}):
        found.add(message if isinstance(message, str) else message[0])
    return found | {item.label for item in navigation()}


def _translated(language: str) -> dict[str, str]:
    table: dict[str, str] = {}
    for po_file in catalog_files(language):
        with po_file.open("rb") as handle:
            for message in read_po(handle):
                if message.id and message.string:
                    table[message.id if isinstance(message.id, str) else message.id[0]] = str(message.string)
    return table


def test_every_ui_string_has_a_chinese_translation() -> None:
    msgids = _ui_msgids()
    assert len(msgids) > 40
    missing = sorted(msgids - set(_translated("zh_Hans")))
    assert not missing, f"{len(missing)} UI strings lack a zh_Hans translation: {missing[:20]}"


def test_language_negotiation() -> None:
    assert from_accept_language("zh-CN,zh;q=0.9,en;q=0.8") == "zh_Hans"
    assert from_accept_language("en-GB,en;q=0.9,zh;q=0.5") == "en"
    assert from_accept_language("fr-FR,zh;q=0.4") == "zh_Hans"
    assert from_accept_language("fr-FR") is None
    assert from_accept_language("zh;q=0,en") == "en"
    assert normalise("zh_Hans") == "zh_Hans" and normalise("EN-us") == "en" and normalise("de") is None


def test_login_page_follows_accept_language(client) -> None:
    zh = client.get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert zh.status_code == 200 and "登录" in zh.text and 'lang="zh-Hans"' in zh.text
    en = client.get("/login", headers={"Accept-Language": "en-US"})
    assert "Log in" in en.text and "登录" not in en.text.split("<main")[1]
