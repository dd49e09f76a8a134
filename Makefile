# OpenCodex — the README's commands. Needs only Python 3.11 on the machine.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
WEB_CONCURRENCY ?= 2
STAMP := $(VENV)/.installed

.PHONY: help install messages run serve test lint format migrate release clean

help:
	@echo "make run    - set up and serve the whole product on embedded defaults (http://127.0.0.1:$(PORT))"
	@echo "make test   - set up and run ruff and every test (PostgreSQL and Redis on 127.0.0.1)"
	@echo "make serve  - the production ASGI server (config.settings.prod) on \$$PORT"
	@echo "make format - apply ruff's formatting and fixes"

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip 2>/dev/null || true
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

# Translations: compile locale/*/LC_MESSAGES/*.po into .mo (pure Python, no gettext needed).
# After changing strings: manage.py makemessages -l zh_Hans, then scripts/messages.py --fill.
messages: install
	$(BIN)/python scripts/messages.py

migrate: messages
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py sync_catalog

# Embedded defaults: SQLite and a filesystem Celery broker under var/, mail written to var/mail/.
# SITE_URL (links in e-mails and the docs) follows PORT unless set; DEBUG is off, so the site's
# own 404/500 pages show (DEBUG=1 make run for Django's debug pages).
run: migrate
	@echo "OpenCodex on http://127.0.0.1:$(PORT)  (e-mails land in var/mail/; Ctrl-C stops everything)"
	WEB_PORT=$(PORT) SITE_URL="$${SITE_URL:-http://127.0.0.1:$(PORT)}" \
		DEMO_UPSTREAM_BASE_URL=http://127.0.0.1:$(PORT)/_demo/v1 \
		exec $(BIN)/honcho -f Procfile start

# Production: settings from the environment (DATABASE_URL, REDIS_URL, SECRET_KEY, ALLOWED_HOSTS...).
release: messages
	DJANGO_SETTINGS_MODULE=config.settings.prod $(BIN)/python manage.py migrate --noinput
	DJANGO_SETTINGS_MODULE=config.settings.prod $(BIN)/python manage.py sync_catalog
	DJANGO_SETTINGS_MODULE=config.settings.prod $(BIN)/python manage.py collectstatic --noinput

serve: release
	DJANGO_SETTINGS_MODULE=config.settings.prod exec $(BIN)/uvicorn config.asgi:application \
		--host 0.0.0.0 --port $(PORT) --workers $(WEB_CONCURRENCY) --proxy-headers \
		--forwarded-allow-ips="$${FORWARDED_ALLOW_IPS:-127.0.0.1}" --no-access-log

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: lint messages
	@scripts/ensure-chromium.sh
	@scripts/ensure-clis.sh >/dev/null
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
