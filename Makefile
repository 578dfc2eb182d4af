# make run: set up, build the index if it is missing or stale, serve on http://127.0.0.1:7860
# make test: set up, run the tests (the browser tests need /usr/bin/chromium)
# make test-fast: the tests that need no model, no server and no browser (under a minute)
# make soak: 32 visitors for 60 s on loopback while re-indexing twice (docs/RELIABILITY.md)
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install index run test test-fast eval lint clean bench bench-scale soak crisis-model model

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

test-fast: install
	$(PY) -m pytest -m fast

soak: install
	$(PY) scripts/soak.py --seconds 60 --clients 32 --reindexes 2 --json data/soak.json

# make eval: one table, a row per evaluation corpus (tests/data/corpora/) and the macro average
eval: install
	$(PY) -m bot eval --corpora tests/data/corpora

# make crisis-model: retrain models/crisis/ from training/crisis/ (seeded; about 25 minutes on
# 2 cores). make run and make test never train: they load the folder the repository ships.
crisis-model: install
	$(PY) -m bot.safety train

# make model: retrain models/retrieval/ from training/retrieval/ (seeded; about 25 minutes on 2
# cores), then measure it beside the packaged model on the evaluation corpora into its card.
model: install
	$(PY) -m bot.model train

lint: install
	$(PY) -m ruff check .

# make bench: latency, start-up, throughput, thread settings, scale to 100k passages, replicas
# (under 10 minutes on 2 cores); make bench-scale: the 1M-passage point. Both write
# docs/BENCHMARKS.md and docs/bench/ (servers on 127.0.0.1 only).
bench: install
	$(PY) -m bench.run

bench-scale: install
	$(PY) -m bench.run --scale-large

clean:
	rm -rf $(VENV) index .pytest_cache
