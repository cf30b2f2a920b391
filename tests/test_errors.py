"""The shared error shapes: row-level rejections render the same way in the API and the CLI."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from lifebank.errors import RowError, RowsRejected
from lifebank.web.problems import install_problem_handlers


def test_rows_rejected_names_every_row_and_caps_the_summary() -> None:
    errors = [RowError(line, "barcode", f"duplicate barcode B{line}") for line in range(2, 15)]
    exc = RowsRejected("specimen import", errors, rows=100)
    assert exc.status == 422
    assert exc.detail.startswith("specimen import rejected, nothing written: 13 errors in 100 rows: "
                                 "line 2, column barcode: duplicate barcode B2;")
    assert exc.detail.endswith("(and 3 more)")
    assert [e.as_dict() for e in exc.errors][0] == {"line": 2, "column": "barcode", "reason": "duplicate barcode B2"}


def test_api_answers_rejections_as_problem_json_with_the_row_list() -> None:
    app = FastAPI()
    install_problem_handlers(app, is_api=lambda request: True)

    @app.post("/import")
    def _import(request: Request) -> None:
        raise RowsRejected("donor import", [RowError(7, "A_1", "unknown allele 'A*01:999'")], rows=9)

    response = TestClient(app).post("/import")
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["title"] == "Import rejected"
    assert body["errors"] == [{"line": 7, "column": "A_1", "reason": "unknown allele 'A*01:999'"}]
