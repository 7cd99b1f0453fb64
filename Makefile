# One entry point for people and CI. Every target installs what it needs.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cksum < requirements-dev.txt | cut -d' ' -f1)
# rp2040js for `emu` (docs/emulation.md), pinned by package-lock.json
NODE_STAMP := node_modules/.installed-$(shell cksum < package-lock.json | cut -d' ' -f1)
BUILD := build

.PHONY: setup valgrind browser sim test lint bench build deploy devsim emu web screenshots uf2 uf2-tools release clean

setup: $(STAMP) $(NODE_STAMP)

$(STAMP): requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	rm -f $(VENV)/.installed-*
	touch $@

$(NODE_STAMP): package-lock.json
	@command -v npm >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq nodejs npm; }
	npm ci --no-audit --no-fund --silent
	touch $@

sim: setup
	@mkdir -p $(BUILD)
	$(PY) -m host_tools sim demo --trace $(BUILD)/demo.jsonl --vcd $(BUILD)/demo.vcd --plot $(BUILD)/demo.png

# ruff everywhere; mypy on the board HALs against each port's MicroPython stubs
lint: setup
	$(VENV)/bin/ruff check firmware boards host_tools tests
	$(PY) -m host_tools.typecheck

# the frozen Pico image first (cached; skipped in one line without ../shared's kit)
test: setup valgrind browser lint uf2-tools
	$(PY) -m host_tools.uf2_build --if-kit
	$(PY) -m pytest -n 2 -q

# valgrind gives the deterministic instruction counts (perf, tests/test_perf.py); a fresh CI
# machine may lack it
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

valgrind:
	@command -v valgrind >/dev/null || { $(SUDO) apt-get update -qq && \
		$(SUDO) apt-get install -y -qq valgrind; }

# headless Chromium and its WebDriver for the companion page's tests (tests/test_web_browser.py)
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium chromium-driver; }

bench: setup valgrind
	$(PY) -m host_tools perf --record bench --rp2040

# cross-compile the firmware for every board: one line each, .mpy bytes against the board's limit
build: setup
	@for b in esp32_devkitc rp2040_pico rp2040_picow sim; do \
		$(PY) -m host_tools deploy --board $$b --size-only --out $(BUILD)/deploy/$$b || exit 1; done

# make deploy BOARD=esp32_devkitc|rp2040_pico|sim PORT=/dev/ttyUSB0
deploy: setup
	@test -n "$(BOARD)" -a -n "$(PORT)" || { echo "usage: make deploy BOARD=<board> PORT=<serial port>"; exit 2; }
	$(PY) -m host_tools deploy --board $(BOARD) --port $(PORT)

# the firmware on the unix port behind a pseudo-terminal; prints the device path first
devsim: setup
	$(PY) -m host_tools devsim --link $(BUILD)/devsim.tty

# the rp2 MicroPython on an emulated Pico behind a pty; the flash survives in build/emu-flash.bin
emu: setup
	$(PY) -m host_tools emu --flash $(BUILD)/emu-flash.bin --link $(BUILD)/emu.tty

# the companion page bridged to devsim: make devsim in one shell, then this (PORT defaults to it)
web: setup
	$(PY) -m host_tools web --port $(or $(PORT),$(BUILD)/devsim.tty)

# the page during a session on devsim, desktop and phone, for the README
screenshots: setup browser
	$(PY) -m tests.web_screens docs/screenshots

# the production image: roller/ and hal/ frozen into the rp2 MicroPython for the Pico, built
# offline from ../shared/micropython's source kit (cached by the hash of the sources and the kit)
UF2_DEBS := gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib cmake build-essential

uf2-tools:
	@dpkg -s $(UF2_DEBS) >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && \
		$(SUDO) apt-get install -y -qq $(UF2_DEBS); }

uf2: setup uf2-tools
	$(PY) -m host_tools.uf2_build

# dist/: the Pico UF2, the ESP32 .mpy bundle + mip package.json, SHA256SUMS, release notes
release: uf2
	$(PY) -m host_tools.release

clean:
	rm -rf $(BUILD) .pytest_cache .hypothesis
