# OpenCodex — the README's commands. Needs only Python 3.11 on the machine.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
WEB_CONCURRENCY ?= 2
STAMP := $(VENV)/.installed

.PHONY: help install lock messages run serve test lint format migrate release clean

help:
	@echo "make run    - set up and serve the whole product on embedded defaults (http://127.0.0.1:$(PORT))"
	@echo "make test   - set up and run ruff and every test (PostgreSQL and Redis on 127.0.0.1)"
	@echo "make serve  - the production ASGI server (config.settings.prod) on \$$PORT"
	@echo "make format - apply ruff's formatting and fixes"
	@echo "make lock   - re-resolve requirements.lock after changing pyproject.toml (LOCK_ARGS=--upgrade)"

# Everything installed comes from requirements.lock: every package, pinned, with its hashes
# (pip refuses anything else). The project itself is installed in place without build isolation,
# so even its build backend is the locked one.
$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	$(BIN)/python -m pip check
	@touch $(STAMP)

install: $(STAMP)

# Translations: compile locale/*/LC_MESSAGES/*.po into .mo (pure Python, no gettext needed).
# After changing strings: manage.py makemessages -l zh_Hans -l zh_Hant, translate them in
# locale/zh_hans_translations.py, scripts/zh_hant.py (Traditional from it), scripts/messages.py --fill.
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

# Re-resolve the lock after changing pyproject.toml (keeps every other pin), or upgrade:
#   make lock LOCK_ARGS='--upgrade-package httpx2'    make lock LOCK_ARGS=--upgrade
lock:
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m uv --version >/dev/null 2>&1 || $(BIN)/python -m pip install --quiet \
		"$$(grep -o '"uv==[^"]*"' pyproject.toml | tr -d '"')"
	$(BIN)/python scripts/lock.py compile $(LOCK_ARGS)

lint: install
	$(BIN)/python scripts/lock.py check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: lint messages
	@scripts/ensure-chromium.sh
	@scripts/ensure-clis.sh >/dev/null
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .grimp_cache .import_linter_cache
