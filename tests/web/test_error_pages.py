"""Error pages: a refused UI request is a page in the reader's language naming the field, never problem+json;
the API keeps answering problem+json."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import HTMLResponse
from hypothesis import given
from hypothesis import strategies as st

from lifebank.messages import Msg
from lifebank.web.problems import VALIDATION_REASONS, field_name, validation_messages


def _main(html: str) -> str:
    return html.split('<main id="main">', 1)[1].split("</main>", 1)[0]


def _probe_pages(app) -> None:
    """Two pages that leave validation to FastAPI (a typed query value, a required file), as any page may."""
    router = APIRouter(include_in_schema=False)

    @router.get("/probe/search")
    def search(max_mismatches: int = 0, donor_type: Literal["adult", "cord"] | None = None) -> HTMLResponse:
        return HTMLResponse("ok")

    @router.post("/probe/import")
    async def upload(file: Annotated[UploadFile, File()], kind: Annotated[str, Form()] = "") -> HTMLResponse:
        return HTMLResponse("ok")

    app.include_router(router)


def test_a_bad_query_value_is_a_page_naming_the_field(app, client, users) -> None:
    _probe_pages(app)
    headers = users.headers("clinician")
    page = client.get("/probe/search", params={"max_mismatches": "abc"}, headers=headers)
    assert page.status_code == 422
    assert page.headers["content-type"].startswith("text/html")
    main = _main(page.text)
    assert "Maximum mismatches: must be a whole number" in main
    assert 'href="/probe/search"' in main  # back to the form
    assert "Input should be" not in main and '"detail"' not in main
    chinese = client.get("/probe/search", params={"max_mismatches": "abc", "donor_type": "x"},
                         headers={**headers, "Accept-Language": "zh-CN"})
    assert chinese.status_code == 422
    assert "最大错配数：必须是整数" in _main(chinese.text)
    assert "donor_type：必须是以下之一：&#39;adult&#39; or &#39;cord&#39;" in _main(chinese.text)
    assert "请检查您输入的内容" in _main(chinese.text)


def test_a_form_posted_without_its_file_is_a_page(app, client, users) -> None:
    _probe_pages(app)
    headers = {**users.headers("technician"), "Referer": "http://testserver/biobank/import"}
    page = client.post("/probe/import", data={"kind": "specimens"}, headers=headers)
    assert page.status_code == 422
    assert page.headers["content-type"].startswith("text/html")
    main = _main(page.text)
    assert "File: this field is required" in main
    assert 'href="/biobank/import"' in main


def test_the_real_pages_named_in_the_issue_never_answer_json(client, users) -> None:
    hla = client.get("/hla/search", params={"max_mismatches": "abc"}, headers=users.headers("clinician"))
    bank = client.post("/biobank/import", data={"kind": "specimens"}, headers=users.headers("technician"))
    for response in (hla, bank):
        assert response.headers["content-type"].startswith("text/html"), response.text[:200]


def test_the_api_still_answers_problem_json(client, users) -> None:
    response = client.get("/api/v1/hla/search", params={"patient": "A*01:01", "max_mismatches": "abc"},
                          headers=users.headers("clinician"))
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["errors"][0]["field"] == "max_mismatches"


def test_not_found_and_forbidden_pages_are_translated(client, users) -> None:
    headers = {**users.headers("researcher"), "Accept-Language": "zh-CN"}
    missing = client.get("/no/such/page", headers=headers)
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")
    assert "此地址没有页面。" in _main(missing.text) and "Not Found" not in missing.text
    assert 'action="/find"' in missing.text  # the shell knows who is reading even where no route matched
    forbidden = client.get("/admin/users", headers=headers)
    assert forbidden.status_code == 403
    assert "您没有权限打开此页面。" in _main(forbidden.text)
    english = client.get("/no/such/page", headers=users.headers("researcher"))
    assert "There is no page at this address." in _main(english.text)
    api = client.get("/api/v1/no/such/thing", headers=users.headers("researcher"))
    assert api.status_code == 404 and api.headers["content-type"].startswith("application/problem+json")


def test_known_pydantic_errors_get_catalogue_sentences_in_both_languages() -> None:
    errors = [{"type": "missing", "loc": ("body", "file")},
              {"type": "literal_error", "loc": ("query", "donor_type"), "ctx": {"expected": "'adult' or 'cord'"}},
              {"type": "string_too_long", "loc": ("body", "name"), "ctx": {"max_length": 64}},
              {"type": "missing", "loc": ("body", "file")}]
    messages = validation_messages(errors)
    assert [str(m) for m in messages] == ["File: this field is required",
                                          "donor_type: must be one of 'adult' or 'cord'",
                                          "name: must be at most 64 characters long"]
    assert [m.render("zh_Hans") for m in messages] == ["文件：此项为必填项",
                                                       "donor_type：必须是以下之一：'adult' or 'cord'",
                                                       "name：最多 64 个字符"]


@given(st.sampled_from([*VALIDATION_REASONS, "some_future_type"]),
       st.lists(st.one_of(st.text(min_size=1, max_size=12), st.integers(0, 5)), min_size=1, max_size=4),
       st.dictionaries(st.sampled_from(["expected", "max_length", "min_length", "ge", "gt", "le", "lt", "x"]),
                       st.one_of(st.integers(), st.text(max_size=10)), max_size=3))
def test_every_validation_error_renders_a_sentence_naming_its_field(kind, loc, ctx) -> None:
    (message,) = validation_messages([{"type": kind, "loc": tuple(loc), "ctx": ctx}])
    field = field_name(tuple(loc))
    for language in (None, "zh_Hans"):
        text = message.render(language)
        name = field.render(language) if isinstance(field, Msg) else field
        assert text.startswith(name)
        reason = text[len(name):]
        assert reason[:1] in {":", "："} and len(reason) > 2
        assert "{" not in reason.replace(str(ctx), "") or any("{" in str(v) for v in ctx.values())
