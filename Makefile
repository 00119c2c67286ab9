# The two commands: `make run` and `make test`. Everything else is a helper for them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test install lint format check vendor services clean help messages audit

help:
	@echo "make run    - install, migrate, load the demo data once, start web + worker + beat"
	@echo "make test   - the whole suite on PostgreSQL and Redis at 127.0.0.1"
	@echo "make lint   - ruff check and format check"
	@echo "make audit  - pip-audit: known vulnerabilities in the installed dependencies"
	@echo "make vendor - refresh the vendored front-end files from npm"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	DJANGO_SETTINGS_MODULE=prm.settings.local $(BIN)/python manage.py migrate --noinput
	DJANGO_SETTINGS_MODULE=prm.settings.local $(BIN)/python manage.py seed_demo --if-empty
	scripts/run.sh

services:
	scripts/services.sh

test: install services
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DJANGO_SETTINGS_MODULE=prm.settings.test $(BIN)/python manage.py makemigrations --check --dry-run
	DJANGO_SETTINGS_MODULE=prm.settings.test $(BIN)/python manage.py spectacular --validate --fail-on-warn --file /dev/null
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Known vulnerabilities (PyPI's advisory data) in every installed dependency. --strict fails
# when a package could not be checked, so a pass means each one was (docs/reliability.md).
audit: install
	$(BIN)/pip-audit --strict --skip-editable --progress-spinner off

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

vendor:
	scripts/vendor.sh

clean:
	rm -rf var/

# Refresh the Simplified Chinese catalogue: extract, fill from scripts/translations_zh.py
# (it lists any string still untranslated), compile. Needs GNU gettext (msgfmt).
messages: install
	DJANGO_SETTINGS_MODULE=prm.settings.test $(BIN)/python manage.py makemessages -l zh_Hans --ignore=.venv --ignore='bench/*' --ignore='tests/*'
	$(BIN)/python scripts/translations_zh.py
	DJANGO_SETTINGS_MODULE=prm.settings.test $(BIN)/python manage.py compilemessages --ignore=.venv
