# The whole set-up on a fresh machine is `make demo` or `make test`: each creates .venv on
# first use and installs what it needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install npm-deps demo test lint bench clean constraints janus

# Every version is pinned by constraints.txt (the dev tools too: CI treats warnings as errors).
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[all,dev]'
	touch $(STAMP)

install: $(STAMP)

# Debian's Chromium, for the headless-browser test of report.html (no browser download).
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null

# A WHEP player written by another project, for the browser test of the stack (tests/stack/
# test_watch_browser.py): medooze's whip-whep from npm, pinned, into .npm-test/ (gitignored).
WHEP_JS := .npm-test/node_modules/whip-whep/whep.js
$(WHEP_JS):
	command -v npm >/dev/null || (apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null)
	mkdir -p .npm-test
	npm install --prefix .npm-test --no-audit --no-fund --no-save whip-whep@1.2.0

npm-deps: $(WHEP_JS)

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
test: install $(CHROMIUM) $(WHEP_JS) $(JANUS)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest -m ''

# Speed and size targets named by the issues; not part of `make test`.
bench: install
	$(BIN)/python -m benchmarks

# After a deliberate upgrade (edit pyproject.toml, `pip install -U` in .venv, run the tests):
# pin what is installed now.
constraints: install
	{ sed -n '1,2p' constraints.txt; $(BIN)/python -m pip freeze --exclude-editable \
	  | grep -v '^livelab'; } > constraints.new && mv constraints.new constraints.txt

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .npm-test
