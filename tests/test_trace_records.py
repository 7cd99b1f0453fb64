"""Issue 14: the trace's `out` records tell the truth about the electrode voltage of an R||C
load (it moves while the current holds still), and about the output pins."""
import math

import numpy as np
import pytest

from boards.sim.model import COMPLIANCE_MV
from boards.sim.trace import OUT_STEP_MV
from tests.traceutil import current_ua, doc, first, ms

R_OHM, C_NF = 20_000, 470  # tau 9.4 ms: the voltage keeps moving for tens of ms after each step
SETTLED_S = 1.0  # after contact: the comparison starts from a record here
HOLD_S = 4.0  # a hold ramps down to OFF
RC_MODEL_MV = 1  # the model's integer arithmetic (uV, rounded to mV) against exact floats


def voltage_mv(events, n_ms):
    """Electrode voltage per ms, held between `out` records (as current_ua holds the current)."""
    series = np.zeros(n_ms)
    last_t, last_mv = 0, 0.0
    for e in events:
        if e["kind"] == "out":
            t = ms(e["t"])
            series[last_t:t] = last_mv
            last_t, last_mv = t, e["v"] * 1000
    series[last_t:] = last_mv
    return series


def rc_load_mv(ua, start_ms, start_mv):
    """The R||C load computed here, in floats: each ms the voltage moves towards I*R by
    1 - exp(-1 ms / RC), from `start_mv` at `start_ms`."""
    decay = math.exp(-1.0 / (R_OHM * C_NF * 1e-6))  # RC in ms
    mv = np.empty(len(ua))
    mv[start_ms] = v = start_mv
    for t in range(start_ms + 1, len(ua)):
        target = ua[t] * R_OHM / 1000
        v = target + (v - target) * decay
        mv[t] = v
    return mv


def _run(sim, runtime):
    events = sim(doc("rc", 6, [{"t": 0.5, "skin": {"ohm": R_OHM, "nf": C_NF}},
                               {"t": HOLD_S, "button": "hold"}], level=5), runtime=runtime)
    n = ms(events[-1]["t"])
    return events, current_ua(events, n), voltage_mv(events, n)


@pytest.mark.parametrize("runtime", ["cpython", "micropython"])
def test_rc_electrode_voltage_follows_the_model_and_is_zero_after_off(sim, runtime):
    events, ua, trace_mv = _run(sim, runtime)
    assert np.abs(ua).max() * R_OHM // 1000 < COMPLIANCE_MV  # never compliance-limited: I*R holds
    start = first(events, "out", after_s=SETTLED_S)
    model_mv = rc_load_mv(ua, ms(start["t"]), start["v"] * 1000)
    late = slice(ms(start["t"]), len(ua))
    error_mv = np.abs(trace_mv[late] - model_mv[late])
    worst = int(np.argmax(error_mv)) + ms(start["t"])
    assert error_mv.max() <= OUT_STEP_MV + RC_MODEL_MV, "at %d ms: trace %.0f mV, model %.0f mV" % (
        worst, trace_mv[worst], model_mv[worst])
    off = first(events, "state", after_s=HOLD_S, state="OFF")
    assert abs(trace_mv[ms(off["t"]) + 500:]).max() <= OUT_STEP_MV
    assert trace_mv[-1] == 0


def test_out_records_stay_few_on_a_square_wave(sim):
    """The step keeps the trace small: on lift (10 Hz square) into R||C, a record per ms only
    while the voltage moves after an edge (about 6 tau), not every ms."""
    events, ua, _ = _run(sim, "cpython")
    run = first(events, "state", state="RUN")
    stop = first(events, "state", after_s=HOLD_S, state="OFF")
    outs = [e for e in events if e["kind"] == "out" and run["t"] + 1.5 <= e["t"] < stop["t"] - 1]
    edges = np.count_nonzero(np.diff(np.sign(ua[ms(run["t"] + 1.5):ms(stop["t"] - 1)])))
    tau_ms = R_OHM * C_NF * 1e-6
    assert edges > 0
    assert len(outs) <= edges * (2 + tau_ms * math.log(2 * 8000 / OUT_STEP_MV))


def test_out_records_carry_the_output_pins(sim):
    """Enable, bridge polarity and setpoint as the supervisor wrote them: the setpoint shows
    what the current source was asked for where the skin (none here) delivers nothing."""
    events = sim(doc("pins", 3, [{"t": 1.0, "serial": '{"cmd": "start"}'}]))
    outs = [e for e in events if e["kind"] == "out"]
    assert all(set(e) >= {"ua", "v", "en", "pol", "set_ua"} for e in outs)
    assert all(e["ua"] == 0 for e in outs)  # no skin: nothing flows
    probing = [e for e in outs if e["en"] and e["set_ua"] > 0]
    assert probing and {e["pol"] for e in probing} == {-1, 1}  # the contact probe, both ways
    assert all(abs(e["v"]) * 1000 == COMPLIANCE_MV for e in probing if e["pol"])


def test_cue_pin_records_pulse_with_each_zone_cue_and_fall_with_the_power(sim):
    events = sim(doc("cue", 12, [{"t": 0.5, "skin": {"ohm": R_OHM}}, {"t": 10.95, "power": "cut"}],
                     cue_s=10))
    cues = [e["t"] for e in events if e["kind"] == "cue"]
    pins = [(e["t"], e["on"]) for e in events if e["kind"] == "cue_pin"]
    assert len(cues) == 2 and [t for t, on in pins if on] == cues
    assert [on for _, on in pins] == [True, False, True, False]
    assert 0.1 <= pins[1][0] - pins[0][0] <= 0.5  # a short buzz
    assert pins[3][0] == 10.95  # cut mid-buzz: the pin falls with the power
