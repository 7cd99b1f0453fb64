"""Interchangeable heads (issue 17): identity, per-head caps enforced by the supervisor, the eye
head's program, and the output stopping at once when the head goes, changes or is not known.

Judged from outside: the trace's delivered current and events, and the serial responses. Every
run is judged by the oracle too (the `sim` fixture), which learns the head rules from the
scenario.
"""
import json

import numpy as np
import pytest

from roller import heads, led, limits, programs
from tests.traceutil import current_ua, doc, ms

SKIN = {"ohm": 20_000}
EYE_LIMIT_UA = heads.LIMITS_UA[heads.EYE]


def _serial(t, obj):
    return {"t": t, "serial": json.dumps(obj)}


def _responses(events):
    return [json.loads(e["line"]) for e in events if e["kind"] == "serial" and e["dir"] == "out"]


def _run_windows(events):
    """[(start_ms, end_ms)] of the RUN stretches."""
    out, start = [], None
    for e in events:
        if e["kind"] == "state":
            if e["state"] == "RUN" and start is None:
                start = ms(e["t"])
            elif e["state"] != "RUN" and start is not None:
                out.append((start, ms(e["t"])))
                start = None
    return out


def test_head_limits_follow_area_and_density():
    # 0.5 mA/cm2 peak: a quarter of IEC 60601-2-10's 2 mA r.m.s./cm2 warning level
    assert limits.HEAD_UA_PER_CM2 * 4 == 2000
    assert heads.LIMITS_UA[heads.FACE] == limits.HARD_MAX_UA
    assert EYE_LIMIT_UA == limits.EYE_HEAD_AREA_MM2 * limits.HEAD_UA_PER_CM2 // 100 == 200
    assert heads.LIMITS_UA[heads.NONE] == heads.LIMITS_UA[heads.UNKNOWN] == 0
    assert programs.NAMES[programs.EYE] == "eye"


def test_eye_head_caps_every_program_and_level(sim):
    """The eye head on from the start: each face program is refused, the eye program runs at
    every level, and a bench asking 500 uA gets no more than the eye head's limit."""
    events = [{"t": 0.1, "head": "eye"}, {"t": 0.3, "skin": SKIN}]
    t = 2.0
    for name in programs.NAMES:
        events.append(_serial(t, {"cmd": "set", "program": name}))
        t += 0.1
    for level in range(1, 6):
        events.append(_serial(t, {"cmd": "set", "level": level}))
        t += 2.0
    events.append({"t": t, "button": "double"})  # the button asks for the next program: refused
    events.append(_serial(t + 1.0, {"cmd": "bench", "shape": "square", "hz": 10, "ua": 500}))
    trace = sim(doc("eye-caps", t + 4.0, events, program="lift", level=5))
    answers = _responses(trace)
    refused = [a for a in answers if not a["ok"]]
    assert len(refused) == len(programs.NAMES) - 1
    assert all("needs the face head" in a["error"] for a in refused)
    state_programs = {e["program"] for e in trace if e["kind"] == "state" and e["state"] == "RUN"}
    assert state_programs == {"eye"}
    ua = np.abs(current_ua(trace))
    assert ua.max() <= limits.allowed_peak_ua(EYE_LIMIT_UA)
    # the bench really asked for more: the head's limit is what holds it
    assert ua[ms(t + 3.0):].max() >= EYE_LIMIT_UA * 95 // 100
    assert any(e["kind"] == "led" and tuple(e["rgb"]) == led.PATTERNS[led.LED_REFUSED][:3] for e in trace)


@pytest.mark.parametrize("change", [None, "eye", "unknown", "short", "open"])
def test_head_removed_or_changed_mid_session_stops_within_5_ms(sim, change):
    t_change = 4.0
    # the eye head's run lasts until a zone cue (every 10 s of contact) shows its zones
    trace = sim(doc("head-change", 12.5 if change == "eye" else 6.0,
                    [{"t": 0.3, "skin": SKIN}, {"t": t_change, "head": change}], level=5, cue_s=10))
    ua = np.abs(current_ua(trace))
    assert ua[ms(t_change) - 200: ms(t_change)].max() > 300  # it was stimulating
    assert ua[ms(t_change) + 5: ms(t_change) + 200].max() == 0
    if change == "eye":  # the new head is accepted after it settles: the eye program, capped
        assert ua[ms(t_change) + 5:].max() <= limits.allowed_peak_ua(EYE_LIMIT_UA)
        assert any(e["kind"] == "state" and e["state"] == "RUN" and e["program"] == "eye"
                   and e["t"] > t_change for e in trace)
        zones = [e["zone"] for e in trace if e["kind"] == "cue" and e["t"] > t_change]
        assert zones and set(zones) <= set(programs.PROGRAMS[programs.EYE].zones)  # its zones too
    else:
        assert ua[ms(t_change) + 5:].max() == 0


@pytest.mark.parametrize("head", ["unknown", "short", "open", None])
def test_unknown_or_missing_head_never_stimulates(sim, head):
    trace = sim(doc("no-head", 4.0, [{"t": 0.1, "head": head}, {"t": 0.3, "skin": SKIN}], level=5))
    ua = np.abs(current_ua(trace))
    selftest = [ms(e["t"]) for e in trace if e["kind"] == "state" and e["state"] in ("SELFTEST", "STANDBY")]
    assert ua[selftest[1]:].max() == 0  # after the self-test, nothing at all
    assert "RUN" not in [e["state"] for e in trace if e["kind"] == "state"]
    no_head = led.PATTERNS[led.LED_NO_HEAD][:3]
    assert any(e["kind"] == "led" and tuple(e["rgb"]) == no_head for e in trace)
    status = _responses(sim(doc("no-head-status", 1.0, [{"t": 0.1, "head": head},
                                                        _serial(0.5, {"cmd": "status"})])))[-1]
    assert status["head"] == (None if head in (None, "open") else "unknown")


def test_wobbling_head_never_stimulates_and_a_steady_one_does(sim):
    """A head rocking on its contact (face, none, face ... every 60 ms, shorter than the settle
    time) never gets to stimulate; held still, it does."""
    events = [{"t": 0.1, "head": None}, {"t": 0.3, "skin": SKIN}]
    t = 0.5
    while t < 3.9:
        events.append({"t": round(t, 3), "head": "face"})
        events.append({"t": round(t + 0.06, 3), "head": None})
        t += 0.12
    events.append({"t": 4.0, "head": "face"})
    trace = sim(doc("wobble", 6.0, events, level=3))
    ua = np.abs(current_ua(trace))
    assert ua[ms(0.9): ms(4.0)].max() == 0
    runs = _run_windows(trace) or [(ms(6.0), None)]
    assert runs[0][0] >= ms(4.0) + limits.HEAD_SETTLE_MS
    assert ua[ms(5.0):].max() > 100


def test_face_head_back_restores_the_face_program(sim):
    trace = sim(doc("eye-and-back", 6.0, [
        {"t": 0.1, "head": "eye"}, {"t": 1.0, "head": "face"}, _serial(2.0, {"cmd": "status"})],
        program="sculpt"))
    assert _responses(trace)[-1]["program"] == "sculpt"
    programs_seen = [e["program"] for e in trace if e["kind"] == "state"]
    assert "eye" in programs_seen and programs_seen[-1] == "sculpt"


def test_scenario_head_values_are_checked(tmp_path):
    from tests.conftest import run_cli

    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"name": "x", "duration_s": 1, "events": [{"t": 0.1, "head": "nose"}]}))
    code, _, err = run_cli("sim", str(path), "--runtime", "cpython")
    assert code == 2 and "events[0].head" in err and "nose" in err
