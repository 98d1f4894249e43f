# Moim: `make run` serves the app, `make test` runs the whole suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test install install-dev system-deps lint format migrate bench worker clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.installed $@

# Debian packages the app shells out to: ffmpeg/ffprobe for video posters and durations.
system-deps:
	command -v ffmpeg >/dev/null || (apt-get update && apt-get install -y ffmpeg)

install: system-deps $(VENV)/.installed

install-dev: system-deps $(VENV)/.installed-dev

# The development server: DEBUG on, SQLite, in-memory channel layer, eager tasks,
# unless DATABASE_URL / REDIS_URL are set in the environment.
run: install
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py migrate --noinput
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py seed_demo --if-empty
	DEBUG=$${DEBUG:-1} $(BIN)/uvicorn config.asgi:application --host $(HOST) --port $(PORT) --ws websockets

test: install-dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

worker: install
	$(BIN)/celery -A config worker -l info

clean:
	rm -rf $(VENV) .pytest_cache staticfiles
