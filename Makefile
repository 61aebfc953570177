# Clusterforum — the two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
FLASK := $(VENV)/bin/flask --app app
PG_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
FLASK_RUN_HOST ?= 127.0.0.1
FLASK_RUN_PORT ?= 5000
TEST_WORKERS ?= 2

.PHONY: run lint test test-sqlite test-postgres translations i18n-update clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

# Compiled catalogs are build output, not committed.
translations: $(VENV)/.installed
	$(VENV)/bin/pybabel --quiet compile -d forum/translations -D messages

run: $(VENV)/.installed translations
	$(FLASK) db upgrade
	$(FLASK) forum seed-demo --if-empty
	@# the worker (search index, mails, jobs) runs beside the web server and stops with it
	$(FLASK) forum worker & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT INT TERM; \
	$(FLASK) run --host $(FLASK_RUN_HOST) --port $(FLASK_RUN_PORT)

# ruff with the rules in pyproject.toml; zero findings is the bar.
lint: $(VENV)/.installed-test
	$(PY) -m ruff check .

# The whole suite on SQLite, then on PostgreSQL. Without a reachable PostgreSQL the second
# run is skipped with a reason — except under CI=true, where it is mandatory.
test: $(VENV)/.installed-test translations test-sqlite test-postgres

test-sqlite:
	$(PY) -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS)

test-postgres:
	@if $(PY) -c "import psycopg; psycopg.connect('$(subst postgresql+psycopg,postgresql,$(PG_TEST_URL))', connect_timeout=3).close()" 2>/dev/null; then \
		echo "== PostgreSQL: $(PG_TEST_URL)"; \
		FORUM_TEST_DATABASE_URL=$(PG_TEST_URL) $(PY) -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS) && \
		echo "== PostgreSQL, search backend postgres: tests/test_search_*.py" && \
		FORUM_TEST_DATABASE_URL=$(PG_TEST_URL) FORUM_TEST_SEARCH_BACKEND=postgres \
			$(PY) -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS) tests/test_search_*.py; \
	elif [ "$$CI" = "true" ]; then \
		echo "PostgreSQL at $(PG_TEST_URL) is not reachable, and CI=true requires it." >&2; exit 1; \
	else \
		echo "SKIPPED: the PostgreSQL run (no server at $(PG_TEST_URL))."; \
	fi

clean:
	rm -rf $(VENV) instance search_index/*[!.gitkeep] .pytest_cache

# After changing user-visible text: refresh the catalog template and the English catalog.
i18n-update: $(VENV)/.installed
	$(VENV)/bin/pybabel --quiet extract -F babel.cfg -k _l -k lazy_gettext --ignore-dirs=".venv tests bench" \
		-o forum/translations/messages.pot .
	$(VENV)/bin/pybabel --quiet update -i forum/translations/messages.pot -d forum/translations -l en
