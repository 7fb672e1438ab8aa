# EstateFlow — two commands: `make run` and `make test`. Both start from nothing.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export FLASK_APP := wsgi.py

.PHONY: help setup translations db demo run test test-sqlite lint format bench clean

help:
	@echo "make run     set up, migrate the SQLite database, load demo data, serve :5000"
	@echo "make test    set up and run the whole test suite"
	@echo "make lint    ruff and mypy"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

setup: $(STAMP) translations

translations: $(STAMP)
	@$(BIN)/pybabel -q compile -d app/translations

db: setup
	$(BIN)/flask db upgrade heads

demo: db
	$(BIN)/flask seed-demo

run: demo
	@echo "EstateFlow at http://127.0.0.1:5000 (demo accounts above)"
	$(BIN)/flask run --host 127.0.0.1 --port 5000

test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check app
	$(BIN)/mypy app

format: $(STAMP)
	$(BIN)/ruff format app tests bench

# Messages: re-extract after adding UI strings, then translate the new empty entries in
# app/translations/zh_CN/LC_MESSAGES/messages.po (zh_Hans_CN is a link to it: Babel's name).
messages: $(STAMP)
	$(BIN)/pybabel -q extract -F babel.cfg -k _l -k lazy_gettext --project=EstateFlow \
		--no-wrap --sort-by-file -o app/translations/messages.pot .
	for lang in zh_CN en; do $(BIN)/pybabel -q update -i app/translations/messages.pot \
		-d app/translations -l $$lang --no-wrap --no-fuzzy-matching --ignore-obsolete; done

clean:
	rm -rf $(VENV) instance .pytest_cache .mypy_cache .ruff_cache
