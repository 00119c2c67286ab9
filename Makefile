# The two commands: `make run` and `make test`. Everything else is a helper for them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# Every runtime and dev dependency, and the build backend, pinned with their hashes for
# Python 3.11 on Linux (pip-compile). Installs take exactly these files; `make lock` renews it.
LOCK := requirements.lock

.PHONY: run test install lint format check vendor services clean help messages audit lock backup restore

help:
	@echo "make run    - install, migrate, load the demo data once, start web + worker + beat"
	@echo "make test   - the whole suite on PostgreSQL and Redis at 127.0.0.1"
	@echo "make lint   - ruff check and format check"
	@echo "make audit  - pip-audit: known vulnerabilities in the installed dependencies"
	@echo "make lock   - regenerate requirements.lock from pyproject.toml (UPGRADE=1: newest releases)"
	@echo "make vendor - refresh the vendored front-end files from npm"
	@echo "make backup - the PostgreSQL database, the uploads and a manifest into var/backups/<UTC time>/"
	@echo "make restore BACKUP=var/backups/<time> [FORCE=1] - restore a backup into an empty database, then verify it"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# The lock first, every file checked against its hash (pip and the build backend included),
# then the project itself, editable, with nothing more: no dependency resolved at install time.
$(STAMP): $(LOCK) pyproject.toml | $(BIN)/python
	@echo "==> Installing the locked dependencies into $(VENV) (the first time takes a minute or two)"
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

install: $(STAMP)

run: install
	@echo "==> Bringing the database up to date"
	DJANGO_SETTINGS_MODULE=prm.settings.local $(BIN)/python manage.py migrate --noinput
	@echo "==> Loading the demo program (the first time only)"
	DJANGO_SETTINGS_MODULE=prm.settings.local $(BIN)/python manage.py seed_demo --if-empty
	@echo "==> Starting the web server, a Celery worker and Celery beat"
	scripts/run.sh

services:
	scripts/services.sh

test: install services
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DJANGO_SETTINGS_MODULE=prm.settings.test $(BIN)/python manage.py makemigrations --check --dry-run
	DJANGO_SETTINGS_MODULE=prm.settings.test $(BIN)/python manage.py spectacular --validate --fail-on-warn --file /dev/null
	$(BIN)/pytest -n auto --durations=15

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Regenerate the lock from pyproject.toml, from the package index pip is configured with
# (`pip config list`), with the hashes of every file of each pinned release. Run it after
# changing the dependencies, or after a merge that changed them: take either side's lock,
# then `make lock` keeps the pins it can and adds what is new; `make install` then installs
# it. UPGRADE=1 moves every pin to the newest release pyproject.toml allows.
lock: | $(BIN)/python
	@$(BIN)/python -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11) and "The lock is for Python 3.11: remove .venv and run make lock PYTHON=python3.11")'
	@# pip-tools comes with the dev dependencies; a venv that could not install the lock gets it here.
	test -x $(BIN)/pip-compile || $(BIN)/python -m pip install --quiet pip-tools
	CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/pip-compile --quiet --generate-hashes \
		--allow-unsafe --all-build-deps --extra dev --strip-extras \
		--no-emit-index-url --no-emit-find-links $(if $(UPGRADE),--upgrade) \
		--output-file $(LOCK) pyproject.toml

# Known vulnerabilities (PyPI's advisory data) in every installed dependency. --strict fails
# when a package could not be checked, so a pass means each one was (docs/reliability.md).
audit: install
	$(BIN)/pip-audit --strict --skip-editable --progress-spinner off

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

vendor:
	scripts/vendor.sh

# A backup of DATABASE_URL (PostgreSQL) and MEDIA_ROOT with a manifest of row counts and
# checksums (BACKUP_DIR, BACKUP_CHECKSUMS=0); a restore into an empty database (FORCE=1
# drops a non-empty one), checked against that manifest. See docs/deploy.md.
backup:
	scripts/backup.sh

restore:
	BACKUP="$(BACKUP)" scripts/restore.sh

clean:
	rm -rf var/

# Refresh the Simplified Chinese catalogue: extract, fill from scripts/translations_zh.py
# (it lists any string still untranslated), compile. Needs GNU gettext (msgfmt).
messages: install
	DJANGO_SETTINGS_MODULE=prm.settings.test $(BIN)/python manage.py makemessages -l zh_Hans --ignore=.venv --ignore='bench/*' --ignore='tests/*'
	$(BIN)/python scripts/translations_zh.py
	DJANGO_SETTINGS_MODULE=prm.settings.test $(BIN)/python manage.py compilemessages --ignore=.venv
