# dropdesk — two commands: `make run` and `make test`. Everything else installs itself here.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
# requirements/prod.txt (production) and requirements/dev.txt (production + tools) are locks
# with hashes compiled from pyproject.toml by uv (`make lock`); pip checks every hash.
LOCK_PROD := requirements/prod.txt
LOCK_DEV := requirements/dev.txt
STAMP := $(VENV)/.installed-$(shell cat $(LOCK_DEV) | cksum | cut -d' ' -f1)
HOST ?= 127.0.0.1
PORT ?= 8000
PG_URL ?= postgres://postgres@127.0.0.1:5432/dropdesk
PUBLIC_URL ?= http://$(HOST):$(PORT)

.PHONY: install run test test-sqlite test-postgres test-topology lint typecheck bench fuzz lock clean

$(STAMP): $(LOCK_DEV)
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q --require-hashes -r $(LOCK_DEV)
	@rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

run: export PUBLIC_BASE_URL ?= $(PUBLIC_URL)
run: install
	@mkdir -p var var/broker/queue var/broker/processed
	DJANGO_DEBUG=true $(BIN)/python manage.py migrate --noinput -v0
	DJANGO_DEBUG=true $(BIN)/python manage.py seed_demo
	DJANGO_DEBUG=true $(BIN)/python manage.py seed_pipeline_demo
	DJANGO_DEBUG=true $(BIN)/python manage.py setup_schedules
	@DJANGO_DEBUG=true $(BIN)/python manage.py demo_login
	@echo "Worker: celery (embedded filesystem broker under var/broker; log: var/worker.log). Ctrl-C stops both."
	@trap 'kill 0' EXIT INT TERM; \
	  DJANGO_DEBUG=true $(BIN)/celery -A config worker -B -l info -P threads -c 4 \
	    --schedule var/celerybeat-schedule >var/worker.log 2>&1 & \
	  DJANGO_DEBUG=true $(BIN)/python manage.py runserver $(HOST):$(PORT)

# The suite twice: on the embedded SQLite, then on the machine's PostgreSQL (a throwaway
# test database that pytest-django creates and drops).
test: install lint test-sqlite test-postgres test-topology

test-sqlite: install
	@echo "== tests on SQLite =="
	$(BIN)/pytest -q -p no:randomly -m "not topology"

# The probe asks the server (its `postgres` database), whatever database PG_URL names; each
# run's test database gets its own name (tests/conftest.py), so two runs can share a server.
test-postgres: install
	@if $(BIN)/python -c "import sys, psycopg, urllib.parse as u; \
	    psycopg.connect(u.urlunsplit(u.urlsplit(sys.argv[1])._replace(path='/postgres')), \
	    connect_timeout=3).close()" '$(PG_URL)' 2>/dev/null; then \
	  echo "== tests on PostgreSQL ($(PG_URL)) =="; \
	  DATABASE_URL=$(PG_URL) $(BIN)/pytest -q -p no:randomly -m "not topology"; \
	else echo "== PostgreSQL pass SKIPPED: no server answers at $(PG_URL) =="; fi

# The production processes on loopback (gunicorn, 2 prefork workers, beat, sandbox server) on
# PostgreSQL and Redis: 200 placements, a worker SIGKILLed mid-run. Skipped, with the reason,
# when either server does not answer (TOPOLOGY_PG_URL, TOPOLOGY_REDIS; Redis db 11).
test-topology: install
	@echo "== production topology (tests/topology) =="
	TOPOLOGY_PG_URL=$(PG_URL) $(BIN)/pytest -q -p no:randomly -m topology tests/topology

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy .

bench: install
	@for script in bench/bench_*.py; do [ -e "$$script" ] && $(BIN)/python $$script; done; true

# Regenerate both locks from pyproject.toml (current pins are kept where they still fit; pass
# LOCK_ARGS=--upgrade to move everything to the newest allowed). dev is compiled against
# prod as constraints, so the versions both share are the same.
LOCK_ARGS ?=
UV_COMPILE = $(BIN)/uv pip compile pyproject.toml --no-config --python-version 3.11 \
	--generate-hashes --no-header --annotation-style line --quiet $(LOCK_ARGS)
lock:
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	@test -x $(BIN)/uv || $(BIN)/python -m pip install -q "uv>=0.9,<1"
	@mkdir -p requirements
	$(UV_COMPILE) -o $(LOCK_PROD)
	$(UV_COMPILE) --extra dev -c $(LOCK_PROD) -o $(LOCK_DEV)

clean:
	rm -rf var staticfiles .pytest_cache .mypy_cache .ruff_cache

# --- admin browser tests ---
# Playwright drives Debian's chromium (apt-get install -y chromium); the e2e tests skip with a
# reason when /usr/bin/chromium is missing. Screenshots land in test-artifacts/screenshots/.
.PHONY: test-e2e
test-e2e: install
	$(BIN)/pytest -q -p no:randomly -m e2e tests/e2e
# The API against its own OpenAPI schema with many more generated cases than `make test`:
# schemathesis, every check and phase, against a seeded live server (tests/api/live_fuzz.py).
fuzz: install
	$(BIN)/python -m tests.api.live_fuzz --examples $${SCHEMATHESIS_MAX_EXAMPLES:-100}
