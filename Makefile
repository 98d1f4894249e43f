# Moim: `make run` serves the app, `make test` runs the whole suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test test-embedded e2e e2e-deps bench-deps install install-dev system-deps messages lint format migrate bench worker beat clean requirements smoke smoke-deps cluster-test cluster-deps

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# requirements.txt is a lock with a hash for every file (compiled from requirements.in by
# `make requirements`): pip refuses anything else. The dev tools go in a second pip call,
# held to the runtime pins by a hash-free copy of the lock as a constraint.
$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes -r requirements.txt
	sed -E '/^[[:space:]]*(--hash|#)/d; s/[[:space:]]*\\$$//' requirements.txt > $(VENV)/runtime-constraints.txt
	$(BIN)/pip install --quiet -c $(VENV)/runtime-constraints.txt -r requirements-dev.txt
	touch $(VENV)/.installed $@

# Recompiles the lock after an edit of requirements.in (README: "Adding a dependency").
requirements: install-dev
	$(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
	  --no-emit-index-url --no-emit-find-links -o requirements.txt requirements.in

# Debian packages the app shells out to: ffmpeg/ffprobe for video posters and durations,
# gettext (msgfmt) to compile the translation catalogs.
system-deps:
	command -v ffmpeg >/dev/null || (apt-get update && apt-get install -y ffmpeg)
	command -v msgfmt >/dev/null || (apt-get update && apt-get install -y gettext)

install: system-deps $(VENV)/.installed

install-dev: system-deps $(VENV)/.installed-dev

# Compiles locale/*/LC_MESSAGES/*.po into the .mo files Django reads (not committed).
messages: install
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py compilemessages --ignore=.venv

# The development server: DEBUG on, SQLite, in-memory channel layer, eager tasks,
# unless DATABASE_URL / REDIS_URL are set in the environment.
run: install messages
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py migrate --noinput
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py seed_demo --if-empty
	DEBUG=$${DEBUG:-1} $(BIN)/uvicorn config.asgi:application --host $(HOST) --port $(PORT) --ws websockets-sansio

# In parallel on two workers (pytest-xdist; the machine and CI have two cores), a test
# file per worker at a time so module-scoped servers start once. Each worker has its own test database, Redis database, media folders and ports; tests
# marked `serial` (process faults, timing) run while the other worker waits.
# PYTEST_WORKERS=0 runs everything in this process.
PYTEST_WORKERS ?= 2
XDIST_ARGS = $(if $(filter 0,$(PYTEST_WORKERS)),,-n $(PYTEST_WORKERS) --dist loadfile)
test: install-dev messages e2e-deps bench-deps
	$(BIN)/python -m pytest $(XDIST_ARGS) $(PYTEST_ARGS)

# The suites that drive sockets and channel-layer events, on the embedded default a fresh
# clone runs (SQLite, the in-memory channel layer, the local-memory cache, eager tasks):
# CI's `make test` runs on PostgreSQL and Redis, where those paths differ. About 1.5 min.
EMBEDDED_TESTS = $(shell grep -rlE 'layer_listener|me_events|WebsocketCommunicator|ready_socket' tests --include='test_*.py' | grep -v '^tests/faults/' | sort)
test-embedded: install-dev messages
	env -u DATABASE_URL -u REDIS_URL -u CELERY_BROKER_URL -u CHANNEL_LAYER_REDIS_URLS \
	  $(BIN)/python -m pytest $(XDIST_ARGS) $(PYTEST_ARGS) $(EMBEDDED_TESTS)

# The end-to-end tests (tests/e2e) drive Debian's Chromium through Playwright; Playwright's
# own browser download is never used (machines are offline). The fonts make Korean,
# Japanese and emoji legible in the screenshots.
E2E_PACKAGES := chromium fonts-noto-cjk fonts-noto-color-emoji
e2e-deps:
	command -v chromium >/dev/null && dpkg -s $(E2E_PACKAGES) >/dev/null 2>&1 \
	  || (apt-get update && apt-get install -y $(E2E_PACKAGES))
	# axe-core (package.json, locked), injected into pages by the accessibility scans.
	command -v npm >/dev/null || (apt-get update && apt-get install -y nodejs npm)
	test -f node_modules/axe-core/axe.min.js || npm ci --no-audit --no-fund

e2e: install-dev messages e2e-deps
	$(BIN)/python -m pytest tests/e2e $(PYTEST_ARGS)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

format: install-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Benchmarks against PostgreSQL and Redis (not part of `make test`); see docs/performance.md.
bench: export DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/moim_bench
bench: export REDIS_URL ?= redis://127.0.0.1:6379/1
bench: install-dev bench-deps
	$(BIN)/python -m bench.run $(BENCH_ARGS)

# wrk drives the HTTP suite and pgbench is the ledger's baseline; `make test` needs them
# too (tests/bench runs every suite in a tiny configuration). Debian 12 ships pgbench in
# the server package, not in postgresql-client: `pgbench --version` fails through the
# wrapper when only the client is there.
bench-deps:
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	pgbench --version >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq postgresql-client postgresql)

# CI's production stage (.ci/smoke): a virtualenv from requirements.txt alone, DEBUG off,
# PostgreSQL, its own Redis, moto's S3 server, two uvicorn processes and a Celery worker,
# driven by deploy/smoke.py. Needs PostgreSQL on 127.0.0.1:5432 (see .ci/run).
PROD_VENV ?= .venv-prod
$(PROD_VENV)/.installed: requirements.txt
	rm -rf $(PROD_VENV)
	$(PYTHON) -m venv $(PROD_VENV)
	$(PROD_VENV)/bin/python -m pip install --quiet --require-hashes -r requirements.txt
	touch $@

smoke-deps:
	command -v redis-server >/dev/null || (apt-get update -qq && apt-get install -y -qq redis-server)
	command -v psql >/dev/null || (apt-get update -qq && apt-get install -y -qq postgresql-client)

smoke: system-deps smoke-deps install-dev $(PROD_VENV)/.installed
	PROD_VENV=$(PROD_VENV) VENV=$(VENV) .ci/smoke

# The cluster test (deploy/cluster/cluster.sh, docs/scaling.md): app hosts, HAProxy, two
# Redis shards, a PostgreSQL primary and streaming replica, a Celery worker and S3, each
# in its own network namespace on this machine. Needs root; prints the figures.
cluster-deps:
	command -v haproxy >/dev/null || (apt-get update -qq && apt-get install -y -qq haproxy)
	command -v ip >/dev/null || (apt-get update -qq && apt-get install -y -qq iproute2)
	ls /usr/lib/postgresql/*/bin/pg_basebackup >/dev/null 2>&1 \
	  || (apt-get update -qq && apt-get install -y -qq postgresql)

cluster-test: system-deps smoke-deps cluster-deps install-dev $(PROD_VENV)/.installed
	PROD_VENV=$(PROD_VENV) VENV=$(VENV) deploy/cluster/cluster.sh

worker: install
	$(BIN)/celery -A config worker -l info

# Periodic tasks (CELERY_BEAT_SCHEDULE: ledger upkeep, digests, the media sweep); run
# exactly one next to the workers.
beat: install
	$(BIN)/celery -A config beat -l info

clean:
	rm -rf $(VENV) $(PROD_VENV) .pytest_cache staticfiles
