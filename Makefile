# One entry point for people and CI. Every target installs what it needs.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cksum < requirements-dev.txt | cut -d' ' -f1)
BUILD := build

.PHONY: setup sim test lint bench clean

setup: $(STAMP)

$(STAMP): requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	rm -f $(VENV)/.installed-*
	touch $@

sim: setup
	@mkdir -p $(BUILD)
	$(PY) -m host_tools sim demo --trace $(BUILD)/demo.jsonl --vcd $(BUILD)/demo.vcd --plot $(BUILD)/demo.png

lint: setup
	$(VENV)/bin/ruff check firmware boards host_tools tests

test: setup lint
	$(PY) -m pytest -n 2 -q

# valgrind gives the deterministic instruction counts; a fresh CI machine may lack it
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

bench: setup
	@command -v valgrind >/dev/null || { $(SUDO) apt-get update -qq && \
		$(SUDO) apt-get install -y -qq valgrind; }
	$(PY) -m host_tools perf --record bench

clean:
	rm -rf $(BUILD) .pytest_cache .hypothesis
