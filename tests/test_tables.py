"""One table per concept: programs and faults are each defined once, the rest derives from them
(or, where viper needs a local copy, is checked against them here and in tests/test_hot.py)."""
import numpy as np

from boards.sim import scenario_check
from boards.sim.model import FAULT_NAMES, INJECTED
from roller import faults, led, limits, programs, settings, supervisor
from tests.traceutil import current_ua, doc, ms, states


def test_programs_have_named_fields():
    lift = programs.PROGRAMS[programs.index_of("lift")]
    assert (lift.name, lift.shape, lift.hz, lift.peak_ua, lift.zones) == (
        "lift", programs.SQUARE, 10, 400, programs.FACE_ZONES)
    assert tuple(p.name for p in programs.PROGRAMS) == programs.NAMES


def test_a_program_added_to_the_table_alone_runs(sim, monkeypatch):
    """The edit a new program needs: one row in programs.PROGRAMS. The scenario checker, the
    settings, the app and the oracle take it from there."""
    row = programs.Program("contour", programs.TRIANGLE, 8, 300, programs.FACE_ZONES)
    monkeypatch.setattr(programs, "PROGRAMS", programs.PROGRAMS + (row,))
    monkeypatch.setattr(programs, "NAMES", tuple(p.name for p in programs.PROGRAMS))
    events = sim(doc("contour", 5, [{"t": 1.0, "skin": {"ohm": 20_000}}], program="contour", level=5))
    assert [s for _, s in states(events)][-1] == "RUN"
    assert {e["program"] for e in events if e["kind"] == "state" and e["t"] > 0} == {"contour"}
    ua = current_ua(events)[ms(4.0):ms(5.0)]  # past the soft start
    assert limits.level_cap_ua(5, 300) - 15 <= ua.max() <= limits.allowed_peak_ua(300)
    # triangle at 8 Hz: the current crosses zero upwards once per 126 ms period
    ups = np.flatnonzero((ua[:-1] <= 0) & (ua[1:] > 0))
    assert set(np.diff(ups)) <= {125, 126, 127}


def test_the_scenario_checker_takes_programs_and_ranges_from_the_firmware(monkeypatch):
    monkeypatch.setattr(programs, "NAMES", programs.NAMES + ("contour",))
    assert scenario_check.check_settings({"program": "contour"}) == {"program": "contour"}
    assert scenario_check.SETTING_RANGES is settings.RANGES


def test_the_fault_table_is_in_code_order():
    assert faults.NAMES[faults.NONE] == "" and faults.LED_PATTERNS[faults.NONE] == led.LED_OFF
    for code, name in enumerate(faults.NAMES[1:], 1):
        assert getattr(faults, name) == code, name
        assert faults.LED_PATTERNS[code] > led.LED_LOW_BATTERY, name  # a fault's own pattern
        assert led.PATTERNS[faults.LED_PATTERNS[code]][0] == 255, name  # red or magenta


def test_viper_copies_of_the_fault_codes_agree():
    copied = [name for name in faults.NAMES[1:] if hasattr(supervisor, "_" + name)]
    assert copied == ["OVER_CURRENT", "DC_IMBALANCE", "SENSE_FAULT", "OUTPUT_STUCK"]
    for name in copied:
        assert getattr(supervisor, "_" + name) == getattr(faults, name), name
    assert supervisor._NONE == faults.NONE


def test_every_injected_fault_names_a_firmware_fault():
    assert tuple(name for name, _ in INJECTED) == FAULT_NAMES
    assert len(set(FAULT_NAMES)) == len(FAULT_NAMES)
    assert {code for _, code in INJECTED} == set(faults.NAMES[1:])  # each fault can be provoked
