"""The README and docs/ say what the tables in the code say: programs, faults, the dummy load,
the wiring and parts of docs/hardware.md, and what `make sim` prints."""
import argparse
import json
import os
import re
import subprocess
import sys

import pytest

from boards.sim import DUMMY_LOAD_OHM
from boards.sim.model import FAULT_NAMES, INJECTED
from host_tools import cmd_devsim, cmd_hil, paths
from roller import faults, led, limits, programs, ui
from tests.traceutil import current_ua, doc, states


def read(name):
    with open(os.path.join(paths.ROOT, name), encoding="utf-8") as f:
        return f.read()


def section(text, heading):
    """The text under a markdown heading, up to the next heading of any level."""
    start = text.index(heading + "\n")
    end = text.find("\n#", start + len(heading))
    return text[start:end if end >= 0 else len(text)]


def table(text, header):
    """Rows (lists of cells) of the markdown table whose header line starts with `header`."""
    lines = text[text.index(header):].splitlines()
    rows = []
    for line in lines[2:]:  # header, separator
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def backticked(text):
    return re.findall(r"`([^`]+)`", text)


README = read("README.md")
PROTOCOL = read("docs/protocol.md")
HARDWARE = read("docs/hardware.md")


# --- programs ---------------------------------------------------------------------------------
def test_readme_program_table_is_the_program_table():
    rows = table(README, "| program | waveform |")
    assert [r[0] for r in rows] == list(programs.NAMES)
    for (name, waveform, freq, peaks), p in zip(rows, programs.PROGRAMS, strict=True):
        assert programs.SHAPE_NAMES[p.shape] in waveform, name
        assert freq == "%d Hz" % p.hz, name
        assert peaks == "%d…%d µA" % (limits.level_cap_ua(1, p.peak_ua), limits.level_cap_ua(5, p.peak_ua))


def test_readme_zones_are_the_programs_zones():
    using = " ".join(section(README, "## Using the device").split())
    for sequence in {p.zones for p in programs.PROGRAMS}:
        assert ", ".join(sequence) in using, sequence


def test_protocol_md_lists_the_programs_and_shapes():
    assert "`program` (%s)" % ", ".join("`%s`" % n for n in programs.NAMES) in PROTOCOL
    assert "program must be one of " + ", ".join(programs.NAMES) in PROTOCOL
    assert "`shape` (%s)" % ", ".join("`%s`" % n for n in programs.SHAPE_NAMES) in PROTOCOL
    assert "shape must be one of " + ", ".join(programs.SHAPE_NAMES) in PROTOCOL
    info = next(line[2:] for line in PROTOCOL.splitlines() if line.startswith('< {"ok": true, "board"'))
    assert json.loads(info)["programs"] == list(programs.NAMES)
    assert json.loads(info)["shapes"] == list(programs.SHAPE_NAMES)


# --- faults -----------------------------------------------------------------------------------
_COLOURS = {(255, 0, 0): "red", (255, 0, 255): "magenta"}
_MODES = {led.BLINK: "blink", led.DOUBLE_BLINK: "double blink"}


def _led_words(pattern):
    """A fault's LED pattern as the README's LED table words it: "red double blink, 1 s"."""
    r, g, b, mode, period_ms = led.PATTERNS[pattern]
    period = "%d ms" % period_ms if period_ms < 1000 else "%g s" % (period_ms / 1000)
    return "%s %s, %s" % (_COLOURS[(r, g, b)], _MODES[mode], period)


def test_readme_led_table_shows_each_fault_as_the_fault_table_does():
    rows = [r for r in table(README, "| LED | meaning |") if r[1].startswith("FAULT:")]
    shown = {}
    for words, meaning in rows:
        for code in backticked(meaning):
            assert code not in shown, code
            shown[code] = words
    assert sorted(shown) == sorted(faults.NAMES[1:])
    for code, words in shown.items():
        assert words == _led_words(faults.LED_PATTERNS[getattr(faults, code)]), code


def test_readme_injected_faults_are_the_simulators():
    rows = table(README, "| injected | what the hardware does | firmware reaction |")
    assert [r[0] for r in rows] == ["`%s`" % name for name, _ in INJECTED]
    codes = "|".join(faults.NAMES[1:])
    for (name, _, reaction), (_, code) in zip(rows, INJECTED, strict=True):
        assert re.findall(r"\b(%s)\b" % codes, reaction)[0] == code, name
    listed = re.search(r"`fault` \(`([^`]+)`", README).group(1)
    assert [n.strip() for n in listed.split(",")] == list(FAULT_NAMES)


def test_protocol_md_logs_the_fault_codes():
    sentence = re.search(r"The codes are those of C2:(.*?)logged as", PROTOCOL, re.S).group(1)
    assert backticked(sentence) == list(faults.NAMES[1:])


# --- using the device: gel ------------------------------------------------------------------
def test_readme_says_the_rollers_need_gel_and_what_dry_skin_shows(sim):
    using = section(README, "## Using the device")
    assert "conductive gel" in using
    assert "Dry skin measures 100–500 kΩ" in using
    assert "only below %d kΩ" % (limits.CONTACT_CONFIRM_OHM // 1000) in using
    assert "more than %d kΩ for lift-off" % (limits.LIFTOFF_OHM // 1000) in using
    assert "the %d µA contact probe" % limits.PROBE_UA in using
    assert "keeps breathing blue (STANDBY" in using
    assert "blue breathing | STANDBY" in README  # the LED table agrees
    # ... and the device does so: 300 kOhm of dry skin never gets past the probe
    events = sim(doc("dry", 6, [{"t": 1.0, "skin": {"ohm": 300_000}}], level=5))
    assert [s for _, s in states(events)][-1] == "STANDBY"
    assert abs(current_ua(events)).max() <= limits.PROBE_UA
    standby = led.PATTERNS[led.STATE_PATTERNS[ui.STANDBY]]
    assert standby[3] == led.BREATHE and standby[2] == 255  # blue, breathing


# --- the dummy load ----------------------------------------------------------------------------
def _defaults(module, argv):
    parser = argparse.ArgumentParser()
    module.register(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


def test_one_dummy_load_everywhere():
    assert _defaults(cmd_hil, ["hil", "--port", "P"]).load_ohm == DUMMY_LOAD_OHM
    assert _defaults(cmd_devsim, ["devsim"]).load_ohm == DUMMY_LOAD_OHM
    kohm = DUMMY_LOAD_OHM // 1000
    bench = read("docs/bench.md")
    assert "Put a **%d kΩ** resistor" % kohm in bench
    assert "--load-ohm %d " % DUMMY_LOAD_OHM in bench and "(load %d ohm)" % DUMMY_LOAD_OHM in bench
    mentions = []
    for name in ("README.md", "docs/bench.md", "docs/flashing.md", "docs/hardware.md", "docs/board.md",
                 "docs/protocol.md"):
        text = read(name).replace("\n", " ")
        mentions += re.findall(r"(?<![–\-\d.])(\d+) kΩ (?:\w+ ){0,2}dummy load", text)
        mentions += re.findall(r"dummy load \((\d+) kΩ\)", text)
    assert mentions and set(mentions) == {str(kohm)}, mentions
    protocol_json = read("host_tools/scenarios/protocol.json")
    assert "%d kOhm dummy load" % kohm in protocol_json
    assert '"skin": {"ohm": %d}' % DUMMY_LOAD_OHM in protocol_json


# --- the README's sample summary is what `make sim` prints -------------------------------------
def _make_sim_command():
    makefile = read("Makefile")
    recipe = makefile[makefile.index("\nsim:"):].splitlines()
    line = next(x.strip() for x in recipe if "-m host_tools sim" in x)
    return [sys.executable if a == "$(PY)" else a.replace("$(BUILD)", "build") for a in line.split()]


def _wall(line):
    return re.sub(r"in [\d.]+ s wall \(\d+x real time\)", "in T s wall (Nx real time)", line)


def test_readme_summary_is_what_make_sim_prints(tmp_path):
    (tmp_path / "build").mkdir()
    proc = subprocess.run(_make_sim_command(), capture_output=True, text=True, cwd=tmp_path,
                          env=dict(os.environ, PYTHONPATH=paths.ROOT), timeout=300)
    assert proc.returncode == 0, proc.stderr
    intro = r"prints a\s+summary\s+like\s+the\s+one\s+below\."
    block = re.search(intro + r"(?:.|\n)*?```\n(.*?)```", README, re.S).group(1)
    assert [_wall(x) for x in block.splitlines()] == [_wall(x) for x in proc.stdout.splitlines()]


# --- docs/hardware.md: parts, nets and pins ----------------------------------------------------
BOARDS = ("esp32_devkitc", "rp2040_pico")
# per board: full ADC span (mV) of read_u16 (ESP32 at 11 dB attenuation, RP2040 at 3.3 V)
ADC_FULL_MV = {"esp32_devkitc": 3100, "rp2040_pico": 3300}
# the Pico's GPIO -> physical pin (Raspberry Pi Pico datasheet, pinout)
PICO_PIN = {10: 14, 11: 15, 12: 16, 14: 19, 16: 21, 18: 24, 19: 25, 20: 26, 21: 27, 22: 29, 26: 31,
            27: 32, 28: 34}
TPS61040_REF_MV = 1233
LM4041_REF_MV = 1233
SOURCE_HEADROOM_MV = 300  # the output P-MOSFET's drain-source voltage while it regulates
_UNITS = {"Ω": 1, "kΩ": 1e3, "MΩ": 1e6}
# net -> (board_config name, index into a tuple of pins or None)
NET_PINS = {"ENABLE": ("ENABLE_PIN", None), "LEG_A": ("LEG_A_PIN", None), "LEG_B": ("LEG_B_PIN", None),
            "SETPOINT": ("SETPOINT_PIN", None), "ISENSE": ("ISENSE_PIN", None),
            "VSENSE": ("VSENSE_PIN", None), "VBAT": ("VBAT_PIN", None), "USB": ("USB_PIN", None),
            "BUTTON": ("BUTTON_PIN", None), "LED_R": ("LED_PINS", 0), "LED_G": ("LED_PINS", 1),
            "LED_B": ("LED_PINS", 2), "CUE": ("CUE_PIN", None), "HEAD": ("HEAD_PIN", None)}


def _config(board):
    from tests.test_hal import load_config

    return load_config(board)


def _pin(cfg, net):
    name, index = NET_PINS[net]
    value = getattr(cfg, name)
    return value if index is None else value[index]


def _refs(text):
    """Part references in a cell: "R25-R28" counts R25 to R28; "U6A" is U6."""
    refs = set()
    for prefix, first, last in re.findall(r"\b(BT|LED|SW|[RCDQUMJ])(\d+)(?:[A-D]|\.\d)?(?:-\1?(\d+))?\b",
                                          text):
        refs.update("%s%d" % (prefix, n) for n in range(int(first), int(last or first) + 1))
    return refs


def _bom():
    rows = {}
    for ref_cell, *cells in table(HARDWARE, "| ref | part |"):
        for ref in _refs(ref_cell):
            rows[ref] = cells
    return rows


def _ohm(ref, board):
    """A resistor's value on `board` from the BOM ("150 kΩ / 100 kΩ" is ESP32 / Pico)."""
    value = _bom()[ref][1]
    if " / " in value:
        value = value.split(" / ")[BOARDS.index(board)]
    number, unit = value.split()
    return float(number) * _UNITS[unit]


def test_netlist_connects_every_part_of_the_bom():
    bom = set(_bom())
    netted = set()
    for _, connects, _, _ in table(HARDWARE, "| net | connects |"):
        netted |= _refs(connects)
    assert netted == bom, (sorted(bom - netted), sorted(netted - bom))


@pytest.mark.parametrize("board", BOARDS)
def test_netlist_and_wiring_use_the_boards_pins(board):
    cfg = _config(board)
    column = 2 + BOARDS.index(board)
    nets = {row[0]: row[column] for row in table(HARDWARE, "| net | connects |")}
    for net in NET_PINS:
        gpio = int(re.match(r"\d+", nets[net]).group())
        assert gpio == _pin(cfg, net), (board, net)
        if board == "rp2040_pico" and net != "USB":
            assert "(%d" % PICO_PIN[gpio] in nets[net], net
    wiring = {row[0].split(" (")[0]: row[1 + BOARDS.index(board)] for row in table(HARDWARE, "| signal |")}
    signals = {"ENABLE": "ENABLE", "LEG_A": "LEG_A", "LEG_B": "LEG_B", "SETPOINT": "SETPOINT",
               "ISENSE": "ISENSE", "VSENSE": "VSENSE", "VBAT": "VBAT", "USB": "USB present",
               "BUTTON": "BUTTON", "CUE": "CUE", "HEAD": "HEAD"}
    for net, signal in signals.items():
        assert int(re.search(r"\d+", wiring[signal]).group()) == _pin(cfg, net), (board, signal)
    leds = [int(n) for n in re.findall(r"\d+", wiring["LED R, G, B"].split("(")[0])]
    assert leds == list(cfg.LED_PINS)
    if board == "rp2040_pico":  # the analog switch's select
        assert nets["ADC_SEL"].startswith("%d (%d)" % (cfg.ADC_MUX_PIN, PICO_PIN[cfg.ADC_MUX_PIN]))
        assert "GP%d (%d)" % (cfg.ADC_MUX_PIN, PICO_PIN[cfg.ADC_MUX_PIN]) in wiring["ADC select"]


@pytest.mark.parametrize("board", BOARDS)
def test_bom_values_give_the_boards_calibration_and_the_limits(board):
    cfg = _config(board)
    half_mv = ADC_FULL_MV[board] // 2
    # current sense: R24 gives 1 mV/uA; half the ADC span is ISENSE_UA_PER_32768
    assert cfg.ISENSE_UA_PER_32768 * _ohm("R24", board) / 1000 == half_mv
    # electrode voltage: R29:R31 onto the ADC
    assert half_mv * _ohm("R29", board) / _ohm("R31", board) == cfg.VSENSE_MV_PER_32768
    assert _ohm("R30", board) == _ohm("R29", board) and _ohm("R32", board) == _ohm("R31", board)
    # the sense reference sits at the zero code (within the 1 % parts and the calibration)
    vref_mv = 3300 * _ohm("R34", board) / (_ohm("R33", board) + _ohm("R34", board))
    assert abs(vref_mv - cfg.ISENSE_ZERO_U16 * ADC_FULL_MV[board] / 65536) < 0.02 * vref_mv
    # battery 1:2, USB present 3.0 V from 5 V (ESP32)
    divider = (_ohm("R37", board) + _ohm("R38", board)) / _ohm("R38", board)
    assert ADC_FULL_MV[board] * divider == cfg.VBAT_MV_PER_65536
    assert 5000 * _ohm("R40", board) / (_ohm("R39", board) + _ohm("R40", board)) == 3000
    # setpoint: 3.3 V is SETPOINT_FULL_UA through the two stages (R9, R10, R11)
    set_ohm = _ohm("R9", board) * _ohm("R11", board) / _ohm("R10", board)
    assert round(3300 / set_ohm * 1000) == cfg.SETPOINT_FULL_UA
    # R1 barrier: the clamp on V_set lets through more than the firmware's cap, little more
    clamp_ua = LM4041_REF_MV * (1 + _ohm("R14", board) / _ohm("R15", board)) / set_ohm * 1000
    assert limits.HARD_MAX_UA + limits.CAP_MARGIN_UA < clamp_ua < limits.HARD_MAX_UA * 1.15
    # compliance: the rail less the drops at the hard cap reaches COMPLIANCE_MV at the electrodes
    rail_mv = TPS61040_REF_MV * (1 + _ohm("R2", board) / _ohm("R3", board))
    drops_mv = (_ohm("R11", board) + _ohm("R24", board)) * limits.HARD_MAX_UA / 1000 + SOURCE_HEADROOM_MV
    assert rail_mv - drops_mv >= limits.COMPLIANCE_MV
    assert "%.1f V" % (rail_mv / 1000) in HARDWARE  # the text says the rail it has
    # an open circuit drives the electrodes to the rail: still inside the voltage sense's range
    assert rail_mv - SOURCE_HEADROOM_MV < cfg.VSENSE_MV_PER_32768


@pytest.mark.parametrize("board", BOARDS)
def test_head_table_gives_the_boards_bands_and_the_limits(board):
    """Each head's ID resistor against R45 reads inside its band on this board, also at the
    parts' tolerance and an ADC error of 2 %; the open contact reads the open level; the table's
    areas and limits are roller.limits'."""
    from roller import heads

    cfg = _config(board)
    pullup = _ohm("R45", board)
    rows = {row[0]: row for row in table(HARDWARE, "| head | ID resistor |")}
    for i, (head, area_mm2) in enumerate(heads.HEADS):
        name, resistor, reads, area, limit = rows[heads.NAMES[head]]
        number, unit = resistor.split()[:2]
        ohm = float(number) * _UNITS[unit]
        nominal = 3300 * ohm / (ohm + pullup)
        assert reads == "%d mV" % round(nominal)
        low, high = cfg.HEAD_BANDS_MV[i]
        assert low < nominal * 0.98 * 0.999 and nominal * 1.02 * 1.001 < high, (board, name)
        assert area == "%.2f cm²" % (area_mm2 / 100) and limit == "%d µA" % heads.LIMITS_UA[head]
    assert 3300 * 0.98 >= cfg.HEAD_OPEN_MV > max(high for _, high in cfg.HEAD_BANDS_MV)
    bands = sorted(cfg.HEAD_BANDS_MV)
    assert all(a[1] < b[0] for a, b in zip(bands, bands[1:], strict=False))  # no reading is two heads
