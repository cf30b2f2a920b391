"""Every parser of user input, under hostile generated input: only its documented errors escape, never a crash,
never a hang (each example is time-boxed by hypothesis' deadline), and a refused import writes nothing.

One place lists them all, so a new parser is one more entry here. The documented errors are LifeBank's user
errors (`LifeBankError`: an API problem document or one CLI line) and, for the pure parsers that predate the
catalogue, their own `ValueError` subclasses (`TypingError`, `MacError`, `SprecError`), which the adapters
turn into the same.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lifebank.biobank.sprec import SprecError, parse_sprec
from lifebank.errors import LifeBankError
from lifebank.hla.macs import MacError, parse_mac_lines
from lifebank.hla.typing import TypingError
from lifebank.omics.regions import parse_region

# Text a hostile or careless user sends: control characters, separators of every grammar, huge numbers,
# non-Latin script, lone surrogates excluded (they cannot travel as UTF-8), and very long values.
GRAMMAR = "*:^|/+~-,.;=\t\n\r\"' 0123456789ABCDGHLNPQRSTXYZabcgnqrs%<>{}[]()\\\x00\ufeff\u00a0文字"
HOSTILE = st.one_of(
    st.text(alphabet=GRAMMAR, max_size=80),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=80),
    st.text(alphabet=GRAMMAR, min_size=1000, max_size=5000),
    st.from_regex(r"[A-Z]{1,4}\*\d{1,3}(:\d{1,3}){0,3}[A-Z]?([/+^|~][A-Z]{1,4}\*\d{1,3}(:\d{1,4}){0,3}){0,6}",
                  fullmatch=True),
)
FUZZ = settings(max_examples=150, deadline=timedelta(milliseconds=500), database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def parser():
    from lifebank.hla.nomenclature import vendored
    from lifebank.hla.typing import TypingParser

    return TypingParser(vendored(), parse_mac_lines(["AB\t01/02", "DEF\t02:01/03:01", "NUL\t01:11N/01:15N"]))


def only_documented(parse: Callable[[str], object], documented: tuple[type[BaseException], ...], text: str) -> None:
    try:
        parse(text)
    except documented:
        pass


@FUZZ
@given(text=HOSTILE)
def test_gl_strings(parser, text: str) -> None:
    only_documented(parser.genotype, (TypingError, LifeBankError), text)


@FUZZ
@given(text=HOSTILE)
def test_hla_names_and_typing_tokens(parser, text: str) -> None:
    only_documented(parser.position, (TypingError, LifeBankError), text)


@FUZZ
@given(text=HOSTILE)
def test_mac_dictionary_lines(text: str) -> None:
    only_documented(lambda t: parse_mac_lines(t.splitlines()), (MacError, LifeBankError), text)


@FUZZ
@given(text=HOSTILE)
def test_sprec_codes(text: str) -> None:
    only_documented(parse_sprec, (SprecError, LifeBankError), text)


@FUZZ
@given(text=HOSTILE)
def test_genomic_regions(text: str) -> None:
    only_documented(parse_region, (LifeBankError,), text)


@FUZZ
@given(text=HOSTILE)
def test_isbt128_din_product_code_expiry_and_bag(text: str) -> None:
    isbt128 = pytest.importorskip("lifebank.celltherapy.isbt128")
    for parse in (isbt128.parse_din, isbt128.parse_product_code, isbt128.parse_expiry, isbt128.parse_bag):
        only_documented(parse, (LifeBankError,), text)


CSV_ROW = st.lists(st.one_of(HOSTILE, st.sampled_from(["P000001", "SER", "1.0", "mL", "2024-03-01T08:00:00Z",
                                                         "DUO:0000042", "F", "1980", "SH", "2024-01-02"])),
                   min_size=0, max_size=12).map(lambda cells: ",".join(cells))


@FUZZ
@given(header=st.one_of(st.just("Date/Time,Temperature (°C)"), CSV_ROW), rows=st.lists(CSV_ROW, max_size=6))
def test_cold_chain_logger_traces(header: str, rows: list[str]) -> None:
    coldchain = pytest.importorskip("lifebank.celltherapy.coldchain")
    only_documented(coldchain.parse_trace, (LifeBankError,), "\n".join([header, *rows]))


@pytest.fixture(scope="module")
def import_db(tmp_path_factory: pytest.TempPathFactory, sqlite_template):
    """One SQLite bank for every example (an import that is refused must leave it exactly as it was)."""
    import shutil

    from lifebank.biobank import imports
    from lifebank.db.engine import Database

    target = tmp_path_factory.mktemp("fuzz") / "bank.db"
    shutil.copyfile(sqlite_template, target)
    db = Database(f"sqlite:///{target}")
    imports.import_participants(db, b"participant,sex,birth_year,site,consent_codes,consent_date\n"
                                    b"P000001,F,1980,SH,DUO:0000042,2024-01-02\n", actor="fuzz")
    yield db
    db.dispose()


def _counts(db) -> tuple[int, int, int]:
    from sqlalchemy import text

    with db.engine.connect() as conn:
        return tuple(conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()  # type: ignore[return-value]
                     for t in ("bb_participant", "bb_specimen", "ledger_event"))


@settings(max_examples=60, deadline=timedelta(seconds=3), database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(rows=st.lists(CSV_ROW, max_size=5), which=st.sampled_from(["participants", "specimens"]))
def test_biobank_csv_imports_refuse_cleanly_and_write_nothing_when_refused(import_db, rows: list[str],
                                                                           which: str) -> None:
    from lifebank.biobank import imports

    header = {"participants": "participant,sex,birth_year,site,consent_codes,consent_date",
              "specimens": "barcode,participant,type,quantity,unit,collected_at,parent_barcode,sprec,location"}[which]
    content = "\n".join([header, *rows]).encode("utf-8", "surrogatepass")
    before = _counts(import_db)
    importer = imports.import_participants if which == "participants" else imports.import_specimens
    try:
        importer(import_db, content, actor="fuzz")
    except LifeBankError:
        assert _counts(import_db) == before  # refused: nothing written, not even a ledger event
