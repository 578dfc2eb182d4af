# make run: set up, build the index if it is missing or stale, serve on http://127.0.0.1:7860
# make test: set up, run the tests (the browser tests need /usr/bin/chromium)
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install index run test eval lint clean

install: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	touch $(STAMP)

index: install
	$(PY) -m bot index

run: install
	$(PY) -m bot index --if-needed
	$(PY) app.py

test: install
	$(PY) -m pytest

eval: install
	$(PY) -m bot eval tests/data/eval.jsonl

lint: install
	$(PY) -m ruff check .

clean:
	rm -rf $(VENV) index .pytest_cache
