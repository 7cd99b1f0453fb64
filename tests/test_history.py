"""The session history and the routine (issue 17): one entry per session that reached RUN,
matching what the trace shows, for every way a session ends; kept through power cuts; the
clock, sessions_7d and the week's LED at switch-on.
"""
import json

import numpy as np
import pytest

from roller import led, limits
from tests.traceutil import current_ua, doc, ms

SKIN = {"ohm": 20_000}
UNIX = 1_764_500_000


def _serial(t, obj):
    return {"t": t, "serial": json.dumps(obj)}


def _responses(events, cmd=None):
    """Responses, paired with the request they answer (`cmd` filters)."""
    out, asked = [], []
    for e in events:
        if e["kind"] == "serial" and e["dir"] == "in":
            asked.append(json.loads(e["line"]).get("cmd"))
        elif e["kind"] == "serial" and e["dir"] == "out" and asked:
            name = asked.pop(0)
            if cmd is None or name == cmd:
                out.append(json.loads(e["line"]))
    return out


def _doc(name, duration_s, events, **settings):
    d = doc(name, duration_s, events, **settings)
    d["events"].sort(key=lambda e: e["t"])
    return d


def _session_from_trace(events, start_ms, end_ms):
    """What the trace shows of the session from its STANDBY (start_ms) to its end: ms in RUN,
    peak |current| and charge (uC)."""
    run_ms, run_start = 0, None
    for e in events:
        t = ms(e["t"])
        if e["kind"] == "state" and start_ms <= t <= end_ms:
            if e["state"] == "RUN" and run_start is None:
                run_start = t
            elif e["state"] != "RUN" and run_start is not None:
                run_ms += t - run_start
                run_start = None
        if e["kind"] == "reset" and start_ms < t <= end_ms and run_start is not None:
            run_ms += t - run_start
            run_start = None
    if run_start is not None:  # still in RUN at end_ms
        run_ms += end_ms - run_start
    ua = np.abs(current_ua(events))[start_ms:end_ms + 1]
    return run_ms, int(ua.max()), float(ua.sum()) / 1000


def _standby_times(events):
    return [ms(e["t"]) for e in events if e["kind"] == "state" and e["state"] == "STANDBY"]


def _close(a, b, percent):
    return abs(a - b) <= max(abs(b) * percent / 100, 1e-9)


ENDINGS = {
    # end: (events after contact, duration_s, settings)
    "done": ([], 66.0, {"session_s": 60, "level": 4}),
    "stop": ([_serial(5.0, {"cmd": "stop"})], 7.0, {"level": 3}),
    "hold": ([{"t": 5.0, "button": "hold"}], 8.0, {"level": 2, "program": "sculpt"}),
    "idle": ([{"t": 4.0, "skin": None}], 127.0, {"level": 5, "program": "tone"}),
    "low_battery": ([{"t": 5.0, "battery_v": 3.2}], 10.0, {"level": 3}),
    "usb": ([{"t": 5.0, "usb": True}], 7.0, {"level": 5}),
    "fault:OVER_CURRENT": ([{"t": 5.0, "fault": "dac_stuck_high"}], 7.0, {"level": 3}),
    "eye": ([{"t": 3.0, "head": "eye"}, _serial(8.0, {"cmd": "stop"})], 10.0, {"level": 5}),
}


@pytest.mark.parametrize("end", sorted(ENDINGS))
def test_history_entry_matches_the_trace(sim, end):
    events, duration_s, settings = ENDINGS[end]
    scenario = _doc("history-" + end, duration_s, [
        _serial(0.05, {"cmd": "clock", "unix": UNIX}), {"t": 0.3, "skin": SKIN}] + events
        + [_serial(duration_s - 0.5, {"cmd": "history"})], **settings)
    trace = sim(scenario)
    sessions = _responses(trace, "history")[-1]["sessions"]
    assert len(sessions) == 1
    entry = sessions[0]
    start_ms = _standby_times(trace)[0]
    end_ms = ms(duration_s - 0.5)
    run_ms, peak_ua, charge_uc = _session_from_trace(trace, start_ms, end_ms)
    assert entry["end"] == ("stop" if end == "eye" else end)
    assert abs(entry["contact_s"] - run_ms / 1000) <= 0.1, (entry, run_ms)
    assert _close(entry["peak_ua"], peak_ua, 2), (entry, peak_ua)
    assert _close(entry["charge_uc"], charge_uc, 2), (entry, charge_uc)
    assert entry["start"] is not None and UNIX <= entry["start"] <= UNIX + 5
    assert entry["head"] == ("eye" if end == "eye" else "face")
    assert entry["program"] == ("eye" if end == "eye" else settings.get("program", "lift"))
    assert entry["level"] == settings["level"]
    assert entry["mean_ua"] == pytest.approx(entry["charge_uc"] / entry["contact_s"], abs=1)
    if end == "done":
        assert entry["zones"] == 60 // limits.CUE_DEFAULT_S


def test_power_cut_session_is_recovered_at_the_next_boot(sim):
    trace = sim(_doc("history-power-cut", 75.0, [
        {"t": 0.3, "skin": SKIN}, {"t": 70.0, "power": "cut"}, {"t": 71.0, "power": "on"},
        _serial(72.0, {"cmd": "history"})], level=2))
    entry = _responses(trace, "history")[-1]["sessions"][0]
    run_ms, _, _ = _session_from_trace(trace, _standby_times(trace)[0], ms(71.0))
    run_ms -= 1000  # RUN ended at the cut (70 s); the trace shows the power coming back (71 s)
    assert entry["end"] == "power_cut" and entry["start"] is None and entry["boot"] == 1
    # saved when RUN began and every HISTORY_CHECKPOINT_MS of contact: what the cut lost is less
    assert run_ms - limits.HISTORY_CHECKPOINT_MS <= entry["contact_s"] * 1000 <= run_ms
    assert entry["contact_s"] >= 59
    # peak and charge as the trace shows them up to the checkpoint the entry was saved at
    run_start = next(ms(e["t"]) for e in trace if e["kind"] == "state" and e["state"] == "RUN")
    saved_ms, peak_ua, charge_uc = _session_from_trace(
        trace, _standby_times(trace)[0], run_start + round(entry["contact_s"] * 1000))
    assert abs(entry["contact_s"] - saved_ms / 1000) <= 0.1, (entry, saved_ms)
    assert _close(entry["peak_ua"], peak_ua, 2), (entry, peak_ua)
    assert _close(entry["charge_uc"], charge_uc, 2), (entry, charge_uc)


def test_a_power_cut_during_the_history_write_keeps_older_entries_and_settings(sim):
    """Session 1 ends (stop) and is written; settings change and are written; session 2's end
    is the write the power cut tears. The next boot has session 1, the settings, and session 2
    as cut (its open record, written when it reached RUN)."""
    trace = sim(_doc("history-torn", 20.0, [
        {"t": 0.3, "skin": SKIN},
        _serial(3.0, {"cmd": "stop"}),
        _serial(5.0, {"cmd": "set", "level": 4, "session_s": 120}),
        _serial(7.0, {"cmd": "start"}),
        {"t": 11.0, "power": "cut_during_write"},
        _serial(11.5, {"cmd": "stop"}),
        {"t": 14.0, "power": "on"},
        _serial(15.0, {"cmd": "history"}),
        _serial(15.1, {"cmd": "status"})]))
    resets = [e for e in trace if e["kind"] == "reset"]
    assert len(resets) == 2  # the torn write cut the power
    history = _responses(trace, "history")[-1]["sessions"]
    status = _responses(trace, "status")[-1]
    assert [s["end"] for s in history] == ["power_cut", "stop"]
    assert history[1]["level"] == 1 and history[0]["level"] == 4
    assert status["level"] == 4 and status["session_s"] == 120


def test_history_limit_newest_first_and_the_ring_bound(sim):
    events = [{"t": 0.3, "skin": SKIN}]
    t = 0.1  # the first session: the click
    n = limits.HISTORY_ENTRIES + 2
    for i in range(n):
        if i:
            events.append(_serial(t - 0.3, {"cmd": "set", "level": 1 + i % 5}))
            events.append(_serial(t, {"cmd": "start"}))
        events.append(_serial(t + 2.5, {"cmd": "stop"}))
        t += 3.6
    events.append(_serial(t + 1.0, {"cmd": "history", "limit": 3}))
    events.append(_serial(t + 1.1, {"cmd": "history"}))
    events.append(_serial(t + 1.2, {"cmd": "history", "limit": 0}))
    trace = sim(_doc("history-ring", t + 2.0, events))
    three, everything, bad = _responses(trace, "history")[-3:]
    assert len(three["sessions"]) == 3 and len(everything["sessions"]) == limits.HISTORY_ENTRIES
    levels = [s["level"] for s in everything["sessions"]]
    assert levels[:3] == [1 + i % 5 for i in (n - 1, n - 2, n - 3)]
    assert three["sessions"] == everything["sessions"][:3]
    assert bad["ok"] is False and "limit" in bad["error"]


def test_clock_sessions_7d_and_the_week_at_switch_on(sim):
    on_track = tuple(led.PATTERNS[led.LED_WEEK_ON_TRACK][:3])
    due = tuple(led.PATTERNS[led.LED_WEEK_DUE][:3])
    trace = sim(_doc("routine", 14.0, [
        _serial(0.05, {"cmd": "status"}),
        {"t": 0.3, "skin": SKIN},
        _serial(2.5, {"cmd": "stop"}),  # session 1: recorded before the clock is set
        _serial(3.5, {"cmd": "clock", "unix": UNIX}),
        _serial(3.6, {"cmd": "clock", "unix": 12}),
        _serial(3.7, {"cmd": "set", "week_target": 1}),
        _serial(4.0, {"cmd": "status"}),
        _serial(5.0, {"cmd": "start"}),  # the week's target is met: on track at switch-on
        _serial(8.0, {"cmd": "stop"}),
        _serial(9.0, {"cmd": "set", "week_target": 3}),
        _serial(10.0, {"cmd": "start"}),  # 2 of 3: due
        _serial(13.0, {"cmd": "history"})]))
    answers = _responses(trace)
    assert answers[0]["sessions_7d"] is None and answers[0]["head"] == "face"
    clock_ok, clock_bad = _responses(trace, "clock")
    assert clock_ok == {"ok": True} and clock_bad["ok"] is False
    status = _responses(trace, "status")[-1]
    assert status["sessions_7d"] == 1 and status["week_target"] == 1 and status["clock"] is True
    assert answers[0]["unix"] is None and UNIX <= status["unix"] <= UNIX + 1
    history = _responses(trace, "history")[-1]["sessions"]
    assert history[-1]["start"] is not None and history[-1]["start"] < UNIX  # dated afterwards
    leds = [(ms(e["t"]), tuple(e["rgb"])) for e in trace if e["kind"] == "led"]
    standby = _standby_times(trace)
    assert not any(rgb in (on_track, due) for t, rgb in leds if t < standby[1])
    assert any(rgb == on_track for t, rgb in leds if standby[1] <= t < standby[1] + 2000)
    assert any(rgb == due for t, rgb in leds if standby[2] <= t < standby[2] + 2000)
    # nothing prevents a session: each switch-on reached RUN
    assert [e["state"] for e in trace if e["kind"] == "state"].count("RUN") == 3


def test_a_bench_run_is_not_a_session(sim):
    """hil's bench into a dummy load reaches RUN, but it is no treatment: not in the history, not
    in the week's count."""
    trace = sim(_doc("history-bench", 5.0, [
        _serial(0.05, {"cmd": "clock", "unix": UNIX}), {"t": 0.05, "skin": SKIN},
        _serial(0.2, {"cmd": "bench", "shape": "square", "hz": 7, "ua": 100}),
        _serial(3.0, {"cmd": "stop"}),
        _serial(4.5, {"cmd": "history"}), _serial(4.6, {"cmd": "status"})]))
    assert "RUN" in [e["state"] for e in trace if e["kind"] == "state"]
    assert _responses(trace, "history")[-1]["sessions"] == []
    assert _responses(trace, "status")[-1]["sessions_7d"] == 0
