"""Test fixtures: every database test runs on SQLite and on PostgreSQL, each test on a fresh copy.

A migrated template is built once per run per backend; each test gets a copy (a file copy for SQLite,
`CREATE DATABASE ... TEMPLATE` for PostgreSQL), so tests are isolated and fast. PostgreSQL is required:
set LIFEBANK_TEST_POSTGRES_URL (default: the local server, trust auth). Only an explicit
LIFEBANK_TEST_SKIP_POSTGRES=1 skips it, and CI never sets that.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import settings as hypothesis_settings
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from lifebank.auth import service as auth
from lifebank.config import Settings
from lifebank.db import migrate
from lifebank.db.engine import Database
from lifebank.web.app import create_app

POSTGRES_URL = os.environ.get("LIFEBANK_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
SKIP_POSTGRES = os.environ.get("LIFEBANK_TEST_SKIP_POSTGRES") == "1"
# Hypothesis' default 200 ms deadline measures the machine, not the code: a first example that loads a message
# catalogue or compiles a pattern on a loaded 2-core host takes longer and the test fails as "unreliable". Tests
# that guard against hangs set their own deadline explicitly, which this default does not override.
hypothesis_settings.register_profile("lifebank", deadline=None)
hypothesis_settings.load_profile("lifebank")

RUN_ID = f"{os.getpid()}_{uuid.uuid4().hex[:6]}"
TEST_PASSWORD = "Correct-horse-battery-9"


def _admin_engine():
    url = make_url(POSTGRES_URL).set(database="postgres")
    return create_engine(url, isolation_level="AUTOCOMMIT")


def _create_pg_database(name: str, template: str | None = None) -> str:
    engine = _admin_engine()
    with engine.connect() as conn:
        clause = f' TEMPLATE "{template}"' if template else ""
        conn.execute(text(f'CREATE DATABASE "{name}"{clause}'))
    engine.dispose()
    return make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)


def _drop_pg_database(name: str) -> None:
    engine = _admin_engine()
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    db = Database(f"sqlite:///{path}")
    migrate.upgrade(db)
    db.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    if SKIP_POSTGRES:
        pytest.skip("LIFEBANK_TEST_SKIP_POSTGRES=1")
    name = f"lbtpl_{RUN_ID}"
    try:
        url = _create_pg_database(name)
    except Exception as exc:
        pytest.fail(f"PostgreSQL is required for the test suite ({POSTGRES_URL}): {exc}".splitlines()[0])
    db = Database(url)
    migrate.upgrade(db)
    db.dispose()
    yield name
    _drop_pg_database(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def db_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of a fresh, migrated database of the current backend."""
    if backend == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        target = tmp_path / "lifebank.db"
        shutil.copyfile(template, target)
        yield f"sqlite:///{target}"
        return
    template_name: str = request.getfixturevalue("postgres_template")
    name = f"lbt_{RUN_ID}_{uuid.uuid4().hex[:8]}"
    url = _create_pg_database(name, template=template_name)
    yield url
    _drop_pg_database(name)


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    yield database
    database.dispose()


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=db_url, secret_key="test-secret-key-0123456789")


@pytest.fixture
def app(settings: Settings, db: Database):
    return create_app(settings, db)


@pytest.fixture
def client(app) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@dataclass
class UserFactory:
    db: Database

    def __call__(self, role: str, username: str | None = None) -> str:
        """Create a user with `role`; return a bearer token for it."""
        name = username or f"{role.replace('_', '')}{uuid.uuid4().hex[:6]}"
        auth.create_user(self.db, name, TEST_PASSWORD, [role])
        return auth.create_token(self.db, name, "test").token

    def headers(self, role: str, username: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self(role, username)}"}


@pytest.fixture
def users(db: Database) -> UserFactory:
    return UserFactory(db)


# --- browser tests -----------------------------------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic"]


@dataclass
class LiveServer:
    url: str
    db: Database
    settings: Settings

    def login(self, page, username: str, password: str = TEST_PASSWORD) -> None:
        page.goto(f"{self.url}/login")
        page.fill("#username", username)
        page.fill("#password", password)
        page.click("form[action='/login'] button[type=submit]")
        page.wait_for_url(f"{self.url}/dashboard")

    def create_user(self, role: str, username: str, locale: str | None = None) -> str:
        auth.create_user(self.db, username, TEST_PASSWORD, [role], locale=locale)
        return username


@pytest.fixture(scope="session")
def browser():
    """A real headless Chromium (Debian's), driven by Playwright; Playwright's own download is never used."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make system-deps` (installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="en-GB")
    page = context.new_page()
    # 30 s: a page that takes longer is broken on any host; under a shared 2-core host's load a first page
    # (templates compiled, catalogue loaded) took more than 15 s and failed tests that pass alone.
    page.set_default_timeout(30000)
    yield page
    context.close()


def _click_nav(page, text: str) -> None:
    """Click the main navigation's link named `text`, first opening the ☰ menu (phone) and the link's area
    (a <details> dropdown on a wider screen): most links are out of sight until their area is opened."""
    import re

    link = page.locator("nav.main-nav a").filter(has_text=re.compile(rf"^\s*{re.escape(text)}\s*$")).first
    if not link.is_visible():
        toggle = page.locator("label.menu-button")
        if toggle.is_visible() and not page.locator("#menu-toggle").is_checked():
            toggle.click()
        if not link.is_visible() and link.locator("xpath=ancestor::details[1]").count():
            link.locator("xpath=ancestor::details[1]/summary").click()
    link.click()


@pytest.fixture
def click_nav():
    """`click_nav(page, "Users")`: follow a main-navigation link as a user would, whatever the screen width."""
    return _click_nav


@pytest.fixture
def live_server(tmp_path: Path, sqlite_template: Path) -> Iterator[LiveServer]:
    """The real app served by uvicorn on a free loopback port, over a fresh SQLite database."""
    import threading
    import time

    import uvicorn

    target = tmp_path / "live.db"
    shutil.copyfile(sqlite_template, target)
    url = f"sqlite:///{target}"
    settings = Settings(data_dir=tmp_path / "data", database_url=url, secret_key="live-secret-key-0123456789")
    database = Database(url)
    server = uvicorn.Server(uvicorn.Config(create_app(settings, database), host="127.0.0.1", port=0,
                                           log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            pytest.fail("live server did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield LiveServer(f"http://127.0.0.1:{port}", database, settings)
    server.should_exit = True
    thread.join(timeout=10)
    database.dispose()
