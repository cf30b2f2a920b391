"""The import page answers every mistake on the page, in the reader's language: no file, an empty file, a
spreadsheet instead of CSV, and bad rows (all listed, translated, with the count's plural right)."""

from __future__ import annotations

from lifebank.biobank import service

from .biobank_fixtures import SPECIMEN_HEADER
from .manage_helpers import log_in


def _post(client, token: str, files=None, kind: str = "specimens"):
    return client.post("/biobank/import", data={"csrf_token": token, "kind": kind}, files=files)


def test_no_file_empty_file_and_spreadsheet_are_inline_errors(bank, client):
    token = log_in(client, bank, locale="zh_Hans")
    none = _post(client, token)
    assert none.status_code == 422 and "text/html" in none.headers["content-type"]
    assert 'id="import-problem"' in none.text and "请选择要导入的 CSV 文件" in none.text
    blank = _post(client, token, files={"file": ("", b"", "application/octet-stream")})
    assert blank.status_code == 422 and 'id="import-problem"' in blank.text
    empty = _post(client, token, files={"file": ("tubes.csv", b"", "text/csv")})
    assert "tubes.csv 是空文件" in empty.text
    sheet = _post(client, token, files={"file": ("tubes.xlsx", b"PK\x03\x04rest", "application/zip")})
    assert "tubes.xlsx 不是 CSV 文件" in sheet.text


def test_every_bad_row_is_listed_translated_with_the_right_plural(bank, client):
    token = log_in(client, bank, locale="zh_Hans")
    one = SPECIMEN_HEADER + "S1,P000777,SER,1,mL,,,,\n"
    answer = _post(client, token, files={"file": ("one.csv", one.encode(), "text/csv")})
    assert answer.status_code == 422 and "未知参与者 P000777" in answer.text
    assert "one.csv 被拒绝：1 处错误" in answer.text
    rows = "".join(f"S{i},P000777,SER,1,mL,,,,\n" for i in range(3))
    three = _post(client, token, files={"file": ("three.csv", (SPECIMEN_HEADER + rows).encode(), "text/csv")})
    assert three.text.count("未知参与者 P000777") == 3
    assert service.search_specimens(bank, service.SpecimenFilter())[0] == 0


def test_english_plurals_and_success(bank, client):
    token = log_in(client, bank, locale="en")
    one = _post(client, token, files={"file": ("one.csv", (SPECIMEN_HEADER + "S1,P000777,SER,1,mL,,,,\n").encode(),
                                               "text/csv")})
    assert "one.csv was rejected: 1 error. Nothing was written." in one.text
    two = (SPECIMEN_HEADER + "S1,P000777,SER,1,mL,,,,\nS2,P000001,BANANA,1,mL,,,,\n").encode()
    answer = _post(client, token, files={"file": ("two.csv", two, "text/csv")})
    assert "two.csv was rejected: 2 errors. Nothing was written." in answer.text
    assert "unknown specimen type &#39;BANANA&#39;" in answer.text
    good = _post(client, token, files={"file": ("good.csv", (SPECIMEN_HEADER + "S1,P000001,SER,1,mL,,,,\n").encode(),
                                                "text/csv")})
    assert good.status_code == 200 and "Imported 1 row from good.csv." in good.text
