# LifeBank: `make demo` and `make test` are the two commands a new machine needs (see README.md).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
export LIFEBANK_TEST_POSTGRES_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/postgres

.PHONY: install dev system-deps demo serve test test-fast lint format bench clean i18n-check

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip wheel

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.dev-installed: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[dev,spark]'
	touch $@

install: $(VENV)/.installed ## LifeBank into .venv

dev: $(VENV)/.dev-installed ## LifeBank and the test/lint tools into .venv

# Debian packages the test suite drives: Chromium (browser tests), a CJK font (so the Chinese pages are laid
# out with real glyph widths when the phone-width tests measure them), bcftools (the omics reference) and a
# Java runtime (the Spark engine's test runs Spark in local mode).
# Installed with apt-get only when missing; needs root (or sudo).
system-deps:
	@missing=""; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v bcftools >/dev/null 2>&1 || missing="$$missing bcftools"; \
	command -v tabix >/dev/null 2>&1 || missing="$$missing tabix"; \
	command -v java >/dev/null 2>&1 || missing="$$missing default-jre-headless"; \
	fc-list :lang=zh 2>/dev/null | grep -q . || missing="$$missing fonts-noto-cjk"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO="sudo"; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

demo: install ## serve LifeBank with the demo data set on an embedded SQLite database
	$(BIN)/lifebank demo --port $(PORT)

serve: install
	$(BIN)/lifebank serve --port $(PORT)

test: dev system-deps ## the whole suite, on SQLite and PostgreSQL, with the browser tests
	$(BIN)/pytest -n 2 --dist loadgroup -q

test-fast: dev
	$(BIN)/pytest -n 2 -q -m "not browser and not slow"

lint: dev
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/lint-imports

format: dev
	$(BIN)/ruff check --fix src tests benchmarks
	$(BIN)/ruff format src tests benchmarks

bench: dev system-deps ## the benchmark scripts (long: minutes to hours)
	@for script in benchmarks/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) data .pytest_cache
