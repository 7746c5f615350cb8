# dropdesk — two commands: `make run` and `make test`. Everything else installs itself here.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)
HOST ?= 127.0.0.1
PORT ?= 8000
PG_URL ?= postgres://postgres@127.0.0.1:5432/dropdesk
PUBLIC_URL ?= http://$(HOST):$(PORT)

.PHONY: install run test test-sqlite test-postgres lint typecheck bench fuzz lock clean

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.lock
	@rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

run: export PUBLIC_BASE_URL ?= $(PUBLIC_URL)
run: install
	@mkdir -p var var/broker/queue var/broker/processed
	DJANGO_DEBUG=true $(BIN)/python manage.py migrate --noinput -v0
	DJANGO_DEBUG=true $(BIN)/python manage.py seed_demo
	DJANGO_DEBUG=true $(BIN)/python manage.py setup_schedules
	@DJANGO_DEBUG=true $(BIN)/python manage.py demo_login
	@echo "Worker: celery (embedded filesystem broker under var/broker; log: var/worker.log). Ctrl-C stops both."
	@trap 'kill 0' EXIT INT TERM; \
	  DJANGO_DEBUG=true $(BIN)/celery -A config worker -B -l info -P threads -c 4 \
	    --schedule var/celerybeat-schedule >var/worker.log 2>&1 & \
	  DJANGO_DEBUG=true $(BIN)/python manage.py runserver $(HOST):$(PORT)

# The suite twice: on the embedded SQLite, then on the machine's PostgreSQL (a throwaway
# test database that pytest-django creates and drops).
test: install lint test-sqlite test-postgres

test-sqlite: install
	@echo "== tests on SQLite =="
	$(BIN)/pytest -q -p no:randomly

test-postgres: install
	@if $(BIN)/python -c "import psycopg,sys; psycopg.connect('$(PG_URL)'.replace('/dropdesk','/postgres'), connect_timeout=3).close()" 2>/dev/null; then \
	  echo "== tests on PostgreSQL ($(PG_URL)) =="; \
	  DATABASE_URL=$(PG_URL) $(BIN)/pytest -q -p no:randomly; \
	else echo "== PostgreSQL pass SKIPPED: no server answers at $(PG_URL) =="; fi

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy .

bench: install
	@for script in bench/bench_*.py; do [ -e "$$script" ] && $(BIN)/python $$script; done; true

lock:
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^-e' > requirements.lock

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
