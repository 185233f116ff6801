# Two commands: `make run` and `make test`. Both are idempotent.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
export DJANGO_SETTINGS_MODULE := qlaud.settings

.PHONY: run test lint migrate bench bench-streams chaos clean

$(BIN)/.installed: requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@

migrate: $(BIN)/.installed
	$(BIN)/python manage.py migrate --noinput

run: migrate
	@echo "qlaud on http://$(HOST):$(PORT) with DEBUG=$${DEBUG:-1}: a local server, so static files come from the source"
	@echo "tree and errors show tracebacks; production runs DEBUG=0 (README: Running it in production)."
	$(BIN)/python manage.py loadcatalog
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py collectstatic --noinput -v 0
	DEBUG=$${DEBUG:-1} $(BIN)/uvicorn qlaud.asgi:application --host $(HOST) --port $(PORT) --lifespan on

test: $(BIN)/.installed
	$(BIN)/pytest $(ARGS)

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# LiteLLM's proxy, the comparison, lives in its own venv (its pins clash with ours).
bench/.litellm-venv/bin/litellm:
	$(PYTHON) -m venv bench/.litellm-venv
	bench/.litellm-venv/bin/pip install -q 'litellm[proxy]==1.108.7'

bench: $(BIN)/.installed bench/.litellm-venv/bin/litellm
	$(BIN)/python -m bench.run

# Open SSE streams, paced (200, 1,000, 2,000 at once); e.g. ARGS="--stream-concurrency 200,1000".
bench-streams: $(BIN)/.installed
	$(BIN)/python -m bench.run --streams $(ARGS)

# Fault drills on loopback (a private PostgreSQL cluster and redis-server; docs/reliability.md); e.g. ARGS="worker-kill".
chaos: $(BIN)/.installed
	$(BIN)/python -m bench.chaos $(ARGS)

clean:
	rm -rf $(VENV) staticfiles db.sqlite3
