# The national CERT portal: one command to run it, one to test it.
# Needs GNU make, git and python3 (3.11 or newer) with its venv module; nothing else.

PYTHON ?= python3
VENV := .venv
VENV_PY := $(VENV)/bin/python
PIP := $(VENV_PY) -m pip --disable-pip-version-check
# Where the portal reads its local settings from (cert_portal/settings.py uses the same default).
ENV_FILE := $(or $(CERT_PORTAL_ENV_FILE),.env)
# The address `make run` serves on, e.g. `make run ADDR=127.0.0.1:8080`.
ADDR ?= 127.0.0.1:8000
# Extra arguments for pytest, e.g. `make test PYTEST_ARGS="-x -k registry"`.
PYTEST_ARGS ?=

# Stamps: dependencies are installed again only when pyproject.toml is newer than these.
STAMP_RUN := $(VENV)/.installed-run
STAMP_DEV := $(VENV)/.installed-dev
# axe-core for the browser tests' accessibility checks (tests/browser), installed with npm when
# npm exists; without it those checks skip and say what to install. Again when the lock file is newer.
BROWSER_DIR := tests/browser
STAMP_NPM := $(BROWSER_DIR)/node_modules/.installed
# BSI's @secvisogram/csaf-validator-lib for the CSAF mandatory tests (tests/csaf_validator), installed
# the same way; without it those tests skip and say what to install.
CSAF_VALIDATOR_DIR := tests/csaf_validator
STAMP_CSAF_NPM := $(CSAF_VALIDATOR_DIR)/node_modules/.installed
NPM := $(shell command -v npm 2>/dev/null)

.DEFAULT_GOAL := help
.PHONY: help run serve test lint lock clean clean-db venv

help:
	@echo "make run       install, migrate, load the national structure with demo users, serve on $(ADDR)"
	@echo "make serve     serve as production does: DEBUG off, gunicorn, PostgreSQL, a separate worker"
	@echo "make test      run the tests (SQLite, or the database DATABASE_URL names)"
	@echo "make lint      ruff check ."
	@echo "make lock      refresh the hashed lock files in requirements/ from pyproject.toml"
	@echo "make clean     remove $(VENV), collected static files and caches (keeps the database and .env)"
	@echo "make clean-db  remove the local SQLite database"

venv: $(VENV)/bin/pip

# A Debian python3 without python3-venv leaves a half-made environment with no pip behind:
# remove it so that the next try starts clean.
$(VENV)/bin/pip:
	@command -v $(PYTHON) >/dev/null || { echo >&2 "$(PYTHON) not found: install it (apt-get install python3)."; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { \
		echo >&2 "The portal needs Python 3.11 or newer; $(PYTHON) is $$($(PYTHON) --version 2>&1)."; \
		echo >&2 "Use another one with: make PYTHON=/path/to/python3.11 ..."; exit 1; }
	@rm -rf $(VENV)
	@echo "Creating $(VENV) with $$($(PYTHON) --version 2>&1)"
	@$(PYTHON) -m venv $(VENV) || { \
		rm -rf $(VENV); \
		echo >&2 ""; \
		echo >&2 "Could not create $(VENV). On Debian or Ubuntu, install the venv module first:"; \
		echo >&2 "    apt-get install python3-venv"; \
		echo >&2 "then run make again."; \
		exit 1; }

# Installed from the lock files in requirements/, every file checked against its SHA-256 hash
# (issue 13): a changed or substituted package on the index fails the install instead of running.
# The portal itself is then installed editable without its dependencies and without build
# isolation, so that the build backend is the pinned one too; `pip check` proves the lock complete.
LOCK_BUILD := requirements/build.txt
LOCK_RUN := requirements/run.txt
LOCK_DEV := requirements/dev.txt
INSTALL_LOCKED = $(PIP) install --progress-bar off --require-hashes --no-deps -r

$(STAMP_RUN): pyproject.toml $(LOCK_BUILD) $(LOCK_RUN) | $(VENV)/bin/pip
	$(INSTALL_LOCKED) $(LOCK_BUILD)
	$(INSTALL_LOCKED) $(LOCK_RUN)
	$(PIP) install --quiet --no-deps --no-build-isolation -e .
	$(PIP) check
	@touch $@

# The dev extra includes everything the portal needs to run, so it satisfies `make run` too.
$(STAMP_DEV): pyproject.toml $(LOCK_BUILD) $(LOCK_DEV) | $(VENV)/bin/pip
	$(INSTALL_LOCKED) $(LOCK_BUILD)
	$(INSTALL_LOCKED) $(LOCK_DEV)
	$(PIP) install --quiet --no-deps --no-build-isolation -e .
	$(PIP) check
	@touch $@ $(STAMP_RUN)

# Refresh the lock files after a change to pyproject.toml's dependencies (or to take upgrades:
# `make lock UV_FLAGS=--upgrade`, or `UV_FLAGS="--upgrade-package django"`). uv keeps every pin it
# can, resolves for every platform and Python 3.11+ (--universal), and writes each file's hashes.
# Review the diff, run `make test`, and commit the three files with pyproject.toml.
UV_FLAGS ?=
UV_COMPILE = $(VENV)/bin/uv pip compile --universal --generate-hashes --python-version 3.11 --quiet $(UV_FLAGS)
lock: $(STAMP_DEV)
	$(UV_COMPILE) requirements/build.in -o $(LOCK_BUILD)
	$(UV_COMPILE) pyproject.toml -o $(LOCK_RUN)
	$(UV_COMPILE) pyproject.toml --extra dev -o $(LOCK_DEV)

# A local installation: debug mode on, a secret key and an attachment encryption key of its own
# (a Fernet key is 32 random bytes in url-safe base64: the standard library is enough). Never
# overwritten: files encrypted with the key cannot be read without it.
$(ENV_FILE):
	@echo "Writing $@ (DEBUG=1, a new SECRET_KEY and ATTACHMENT_ENCRYPTION_KEYS); see .env.example for every setting."
	@umask 077 && { \
		echo "# Written by 'make run' for a local installation. Every setting: .env.example"; \
		echo "DEBUG=1"; \
		echo "# E-mails are written to var/mail/, one file each, instead of flooding the console."; \
		echo "EMAIL_BACKEND=django.core.mail.backends.filebased.EmailBackend"; \
		$(PYTHON) -c 'import secrets; print("SECRET_KEY=" + secrets.token_urlsafe(50))'; \
		echo "# Attachments and report PDFs are encrypted with this key: without it they are lost."; \
		$(PYTHON) -c 'import base64, os; print("ATTACHMENT_ENCRYPTION_KEYS=" + base64.urlsafe_b64encode(os.urandom(32)).decode())'; \
	} > $@.tmp && mv $@.tmp $@

run: $(STAMP_RUN) $(ENV_FILE)
	$(VENV_PY) manage.py compile_translations
	$(VENV_PY) manage.py migrate --noinput
	$(VENV_PY) manage.py collectstatic --noinput
# The demo logins are printed with the address this target serves on.
	PORTAL_BASE_URL=http://$(ADDR) $(VENV_PY) manage.py load_national_structure --demo
	$(VENV_PY) manage.py load_routing_rules
	$(VENV_PY) manage.py load_demo_incidents
	$(VENV_PY) manage.py load_demo_advisories
# A partner's read key for the API (issue 11), printed the first time only: its secret is stored
# hashed, so later runs say that it exists and how to make a new one.
	$(VENV_PY) manage.py create_api_key --cert banking --scope read --demo-once
# The monthly reports (issue 12): the first of each month, made by the background worker.
	$(VENV_PY) manage.py schedule_monthly_reports
	exec $(VENV_PY) manage.py run_portal --addr $(ADDR)

# The portal as production runs it (README, "Production"): DEBUG off, gunicorn with
# cert_portal/gunicorn_conf.py (WEB_CONCURRENCY workers) serving the static files through
# whitenoise, PostgreSQL, and `manage.py qcluster` as a separate process; run_portal supervises
# both (Ctrl-C stops both; if one stops, so does the other and make fails). SECRET_KEY and
# ATTACHMENT_ENCRYPTION_KEYS come from .env. Plain HTTP on loopback, so the HTTPS-only settings
# are turned off here; production keeps their defaults behind its TLS proxy (BEHIND_TLS_PROXY=1).
SERVE_DATABASE_URL := postgres://postgres@127.0.0.1:5432/cert_portal
SERVE_HOSTS := 127.0.0.1,localhost
serve: export DEBUG := 0
serve: export DATABASE_URL := $(or $(DATABASE_URL),$(SERVE_DATABASE_URL))
serve: export ALLOWED_HOSTS := $(or $(ALLOWED_HOSTS),$(SERVE_HOSTS))
serve: export PORTAL_BASE_URL := $(or $(PORTAL_BASE_URL),http://$(ADDR))
serve: export SECURE_SSL_REDIRECT := 0
serve: export SECURE_COOKIES := 0
serve: export SECURE_HSTS_SECONDS := 0
serve: $(STAMP_RUN) $(ENV_FILE)
	$(VENV_PY) manage.py check_database
	$(VENV_PY) manage.py compile_translations
	$(VENV_PY) manage.py migrate --noinput
	$(VENV_PY) manage.py collectstatic --noinput
	$(VENV_PY) manage.py schedule_monthly_reports
	exec $(VENV_PY) manage.py run_portal --server gunicorn --addr $(ADDR)

# A developer's .env must not change what the tests see; DATABASE_URL from the environment
# still applies, so that CI can run the same tests against PostgreSQL.
test: export CERT_PORTAL_ENV_FILE := /dev/null
test: $(STAMP_DEV) $(if $(NPM),$(STAMP_NPM) $(STAMP_CSAF_NPM))
	$(VENV_PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP_DEV)
	$(VENV)/bin/ruff check .

$(STAMP_NPM): $(BROWSER_DIR)/package.json $(BROWSER_DIR)/package-lock.json
	$(NPM) ci --prefix $(BROWSER_DIR) --no-audit --no-fund
	@touch $@

$(STAMP_CSAF_NPM): $(CSAF_VALIDATOR_DIR)/package.json $(CSAF_VALIDATOR_DIR)/package-lock.json
	$(NPM) ci --prefix $(CSAF_VALIDATOR_DIR) --no-audit --no-fund
	@touch $@

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache build dist *.egg-info $(BROWSER_DIR)/node_modules \
		$(CSAF_VALIDATOR_DIR)/node_modules
	find . -name __pycache__ -type d -prune -not -path './.git/*' -exec rm -rf {} +

# Only the default SQLite database: a PostgreSQL database named by DATABASE_URL is left alone.
clean-db:
	rm -f db.sqlite3 db.sqlite3-wal db.sqlite3-shm db.sqlite3-journal
