"""A seeded schemathesis run over every API operation as every role (the 5,000-case run is benchmarks/api_fuzz.py):
no 5xx, every response as documented, every error an RFC 9457 problem document."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))


def test_generated_requests_as_every_role_get_documented_answers_and_never_a_5xx() -> None:
    from api_fuzz import fuzz, fuzz_app

    with fuzz_app("sqlite") as (app, tokens):
        report = fuzz(app, tokens, cases=400, seed=20261130)
    assert report.operations > 100 and len(report.roles) >= 6
    assert report.cases >= report.operations  # every operation was called at least once per role pair spread
    assert report.server_errors == 0, report.examples
    assert not report.failures, report.examples
