"""API fuzzing: schemathesis generates requests for every operation of the OpenAPI document, as every role.

For each role (admin and every other role, each with a bearer token) and each operation, schemathesis draws
cases from the operation's schema (valid and invalid inputs alike: hostile strings, huge numbers, missing
fields, wrong types) and sends them through the real ASGI app on a real database. Every response must:

- never be a server error (5xx);
- match its documented status codes and response schema (schemathesis' conformance checks);
- when it is an error (4xx), be an RFC 9457 problem document (`application/problem+json` with `type`, `title`,
  `status` and `detail`) — except under `/api/beacon/v2` (the Beacon framework's own error response) and
  `/fhir/r4` (FHIR OperationOutcome), which their standards define.

    .venv/bin/python benchmarks/api_fuzz.py [--cases 5000] [--postgresql] [--seed 1]

prints the number of cases, of 5xx, and of failed checks per kind, and the first failures with the request.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hypothesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings

STANDARD_ERRORS = ("/api/beacon/v2", "/fhir/r4")
PASSWORD = "Fuzzing-the-api-2026"


@dataclass
class Report:
    cases: int = 0
    server_errors: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)
    operations: int = 0
    roles: list[str] = field(default_factory=list)

    def fail(self, kind: str, where: str, detail: str) -> None:
        self.failures[kind] += 1
        if len(self.examples) < 25 and not any(e.startswith(f"{kind} {where}") for e in self.examples):
            self.examples.append(f"{kind} {where}: {detail[:400]}")


def _is_problem(response: Any) -> str | None:
    """Why a 4xx response is not an RFC 9457 problem document (None when it is one)."""
    content_type = response.headers.get("content-type", "")
    if isinstance(content_type, list):  # schemathesis keeps every value of a header
        content_type = content_type[0] if content_type else ""
    if not content_type.startswith("application/problem+json"):
        return f"content-type {content_type!r}"
    try:
        body = json.loads(response.content)
    except ValueError:
        return "body is not JSON"
    missing = [k for k in ("type", "title", "status", "detail") if k not in body]
    if missing:
        return f"missing {missing}"
    if body["status"] != response.status_code:
        return f"status {body['status']} != {response.status_code}"
    return None


@contextmanager
def fuzz_app(backend: str) -> Iterator[tuple[Any, dict[str, str]]]:
    """A fresh migrated database with a small bank, one user per role; yields the app and role → token."""
    from lifebank.auth import service as auth
    from lifebank.auth.permissions import Role
    from lifebank.config import Settings
    from lifebank.db import migrate
    from lifebank.db.engine import Database
    from lifebank.web.app import create_app

    with tempfile.TemporaryDirectory(prefix="lifebank-fuzz-") as tmp:
        if backend == "sqlite":
            url, cleanup = f"sqlite:///{Path(tmp) / 'lifebank.db'}", None
        else:
            sys.path.insert(0, str(Path(__file__).parent))
            from concurrency import _drop_pg_database, _pg_database

            name, url = _pg_database()
            cleanup = lambda: _drop_pg_database(name)  # noqa: E731
        db = Database(url)
        try:
            migrate.upgrade(db)
            _small_bank(db)
            tokens = {}
            for role in Role:
                username = f"fuzz_{role.value}"
                auth.create_user(db, username, PASSWORD, [role.value])
                tokens[role.value] = auth.create_token(db, username, "fuzz").token
            settings = Settings(data_dir=Path(tmp) / "data", database_url=url, secret_key="f" * 40)
            yield create_app(settings, db), tokens
        finally:
            db.dispose()
            if cleanup:
                cleanup()


def _small_bank(db: Any) -> None:
    """A few real records, so that generated ids sometimes hit something (most will be 404s)."""
    from lifebank.biobank import imports

    people = "participant,sex,birth_year,site,consent_codes,consent_date\n" + "".join(
        f"P{i:06d},{'FM'[i % 2]},{1960 + i},SH,DUO:0000042,2024-01-02\n" for i in range(1, 6))
    imports.import_participants(db, people.encode(), actor="fuzz")
    tubes = "barcode,participant,type,quantity,unit,collected_at,parent_barcode,sprec,location\n" + "".join(
        f"F{i:07d},P{1 + i % 5:06d},SER,1.0,mL,2024-03-01T08:00:00Z,,,\n" for i in range(10))
    imports.import_specimens(db, tubes.encode(), actor="fuzz")


def fuzz(app: Any, tokens: dict[str, str], *, cases: int, seed: int, deadline_s: float | None = None) -> Report:
    """Spread about `cases` generated requests over every (role, operation); return what failed."""
    import schemathesis

    schema = schemathesis.openapi.from_asgi("/api/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    report = Report(operations=len(operations), roles=sorted(tokens))
    per_pair = max(1, cases // max(1, len(operations) * len(tokens)))
    started = time.monotonic()
    for role, token in sorted(tokens.items()):
        for operation in operations:
            if deadline_s is not None and time.monotonic() - started > deadline_s:
                return report
            _fuzz_operation(report, operation, role, token, per_pair, seed)
    return report


def _fuzz_operation(report: Report, operation: Any, role: str, token: str, examples: int, seed: int) -> None:
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

    where = f"{operation.method.upper()} {operation.path} as {role}"

    @hsettings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck),
               phases=[hypothesis.Phase.generate])
    @given(case=operation.as_strategy())
    @hypothesis.seed(seed)
    def run(case: Any) -> None:
        report.cases += 1
        try:
            response = case.call(headers={"Authorization": f"Bearer {token}"})
        except Exception as exc:  # the app raised through the transport: a crash, i.e. a 5xx
            report.server_errors += 1
            report.fail("exception", where, f"{type(exc).__name__}: {exc}")
            return
        if response.status_code >= 500:
            report.server_errors += 1
            report.fail("5xx", where, f"{case.method} {case.formatted_path} -> {response.status_code} "
                                      f"{response.content[:300]!r}")
            return
        for check in (not_a_server_error, status_code_conformance, response_schema_conformance):
            try:
                case.validate_response(response, checks=[check])
            except (Exception, BaseExceptionGroup) as exc:  # a failed check (a FailureGroup): recorded, go on
                first = exc.exceptions[0] if isinstance(exc, BaseExceptionGroup) else exc
                report.fail(check.__name__, where, f"{case.method} {case.formatted_path} -> "
                                                   f"{response.status_code}: {str(first).splitlines()[0]}")
        if 400 <= response.status_code < 500 and not operation.path.startswith(STANDARD_ERRORS):
            why = _is_problem(response)
            if why:
                report.fail("not_a_problem_document", where, f"{response.status_code}: {why}")

    run()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--postgresql", action="store_true")
    args = parser.parse_args()
    started = time.perf_counter()
    with fuzz_app("postgresql" if args.postgresql else "sqlite") as (app, tokens):
        report = fuzz(app, tokens, cases=args.cases, seed=args.seed)
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}")
    print(f"database: {'postgresql' if args.postgresql else 'sqlite'}")
    print(f"operations: {report.operations}")
    print(f"roles: {', '.join(report.roles)}")
    print(f"cases: {report.cases}")
    print(f"server_errors: {report.server_errors}")
    for kind, count in sorted(report.failures.items()):
        print(f"failed_{kind}: {count}")
    print(f"seconds: {time.perf_counter() - started:.1f}")
    for example in report.examples:
        print(f"  {example}")
    sys.exit(1 if report.server_errors or report.failures else 0)


if __name__ == "__main__":
    main()
