# The whole set-up on a fresh machine is `make demo` or `make test`: each creates .venv on
# first use and installs what it needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test lint bench clean janus

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Debian's Chromium, for the headless-browser test of report.html (no browser download).
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null

# Debian's Janus, the third-party media target of tests/targets (run in the test's own network
# namespaces; installing it starts no service here).
JANUS := /usr/bin/janus
$(JANUS):
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq janus >/dev/null

janus: $(JANUS)

# The main job on the embedded default: the reference stack on loopback.
demo: install
	$(BIN)/livelab run scenarios/demo.toml --out runs/demo

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Every test, slow and media ones included (`-m ''` lifts the default `not slow`).
test: install $(CHROMIUM) $(JANUS)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest -m ''

# Speed and size targets named by the issues; not part of `make test`.
bench: install
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
