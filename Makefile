# Tack — two commands do all the set-up: `make run` and `make test`.
SHELL := /bin/bash
# Python caches compiled modules (and pytest its rewritten tests) in __pycache__; an
# environment that turns that off makes every test process and every worker or server a
# test starts compile the whole project again.
unexport PYTHONDONTWRITEBYTECODE
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
REQS := requirements.txt requirements-dev.txt
STAMP := $(VENV)/.installed-$(shell cat $(REQS) | sha1sum | cut -c1-12)
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/tack
# Test processes (pytest-xdist). More than the cores: many tests wait on workers and servers.
TEST_WORKERS ?= 6

.PHONY: install run test coverage stress lint fmt messages services browser bench audit durations

install: $(STAMP)

# uv (pinned in requirements-dev.txt) makes a new .venv in about 10 s where pip alone takes
# about 27 s; pip installs uv itself, and installs everything when uv cannot.
$(STAMP): $(REQS)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q "$$(grep -m1 '^uv==' requirements-dev.txt)" || true
	$(BIN)/uv pip install -q --python $(BIN)/python -r requirements-dev.txt || \
	  $(BIN)/python -m pip install -q -r requirements-dev.txt
	@rm -f $(VENV)/.installed-* && touch $@

run: install
	@scripts/run.sh

services:
	@DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} scripts/ensure_services.sh

# The browser tests (tests/e2e) drive Debian's chromium-headless-shell (Chromium's own
# headless build, the one Playwright uses for headless runs: under half the CPU of the whole
# browser in headless mode); install it when it is missing.
browser:
	@test -x /usr/bin/chromium-headless-shell || { \
	  echo "Installing Debian's chromium-headless-shell for the browser tests."; \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y --no-install-recommends chromium-headless-shell; }

# In a new clone pytest rewrites every test module's asserts and Python compiles every module;
# both are cached in __pycache__. One collection first does that once, where the test
# processes would otherwise all do it at the same time (about 5 s of a new clone's run).
COLLECT_ONCE = test -d tests/__pycache__ || $(BIN)/pytest --collect-only -q >/dev/null 2>&1 || true;

test: install services browser
	@export DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)}; \
	echo "Testing against $${DATABASE_URL%%\?*} (PostgreSQL) and Redis at $${TEST_REDIS_URL:-redis://127.0.0.1:6379}"; \
	$(COLLECT_ONCE) \
	$(BIN)/pytest -n $(TEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

# Measure every test once more and rewrite tests/durations.json, which spreads the long tests
# over the test processes (tests/scheduling.py). Worth doing after adding a long test.
durations:
	$(MAKE) test PYTEST_ARGS="--junitxml=$${TMPDIR:-/tmp}/tack-durations.xml $(PYTEST_ARGS)"
	$(BIN)/python scripts/test_durations.py $${TMPDIR:-/tmp}/tack-durations.xml

# The whole suite with a coverage report (about 40% slower, so not part of make test).
coverage:
	$(MAKE) test PYTEST_ARGS="--cov --cov-report=term:skip-covered $(PYTEST_ARGS)"

# The fault suite alone, with many worker-kill trials (make test runs 5).
stress: install services
	@export DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)}; \
	TACK_STRESS_TRIALS=$${TACK_STRESS_TRIALS:-30} $(BIN)/pytest -n $(TEST_WORKERS) --dist worksteal tests/faults $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DJANGO_DEBUG=1 $(BIN)/python manage.py makemigrations --check --dry-run

# Known vulnerabilities in the pinned requirements; skipped (with a line saying so) offline.
audit: install
	@scripts/audit_dependencies.sh

fmt: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Tack against the bare stack at BENCH_SCALE subscriptions (default 1,000,000); prints one
# table and writes bench/results.md. See bench/run.py for the knobs.
bench: install services
	@command -v wrk >/dev/null || { $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get update -q && \
		$$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get install -y --no-install-recommends wrk; }
	$(BIN)/python bench/run.py

# Regenerate the .po catalogues from the code and compile them (needs GNU gettext).
messages: install
	DJANGO_DEBUG=1 $(BIN)/python manage.py makemessages -l sv -l da -l nb --no-location --ignore=.venv --ignore=tests --ignore=bench
	DJANGO_DEBUG=1 $(BIN)/python manage.py compilemessages --ignore=.venv
