"""C3 and R6, R7, R11, R12: every row of the UI transition table, driven like a user would."""
import numpy as np
import pytest

from host_tools import statechart
from roller import limits, ui
from tests.traceutil import current_ua, first, ms

SKIN = {"ohm": 20000}
# click at 0.1 s: the gesture is a click once no second press came within 400 ms of release
ON = [{"t": 0.1, "button": "click"}]


def _doc(duration_s, events, **settings):
    d = {"name": "ui", "duration_s": duration_s, "seed": 4, "events": sorted(events, key=lambda e: e["t"])}
    if settings:
        d["settings"] = settings
    return d


def _path(events):
    """The states visited, in order, repeats folded."""
    path = []
    for e in events:
        if e["kind"] == "state" and (not path or path[-1] != e["state"]):
            path.append(e["state"])
    return path


def _contains(path, expected):
    it = iter(path)
    return all(state in it for state in expected)


def _at(events, t_s):
    """The state in force at time t_s."""
    state = "OFF"
    for e in events:
        if e["kind"] == "state" and e["t"] <= t_s:
            state = e["state"]
    return state


def _levels(events):
    """Levels shown, consecutive repeats folded."""
    levels = []
    for e in events:
        if e["kind"] == "state" and (not levels or levels[-1] != e["level"]):
            levels.append(e["level"])
    return levels


RUNNING = ON + [{"t": 1.0, "skin": SKIN}]  # RUN from about 1.15 s

# (id, duration, events, settings, expected subsequence of states)
ROWS = [
    ("off-click-selftest-standby", 3, ON, {}, ["OFF", "SELFTEST", "STANDBY"]),
    ("off-usb-charging-off", 3, [{"t": 0.5, "usb": True}, {"t": 2, "usb": False}], {},
     ["OFF", "CHARGING", "OFF"]),
    ("selftest-low-battery-refuses", 3, [{"t": 0.0, "battery_v": 3.4}] + ON, {}, ["OFF", "SELFTEST", "OFF"]),
    ("selftest-corrupt-flash-fault", 3, [{"t": 0.0, "fault": "flash_corrupt"}] + ON, {},
     ["OFF", "SELFTEST", "FAULT"]),
    ("standby-contact-run", 3, RUNNING, {}, ["STANDBY", "RUN"]),
    ("standby-idle-off", 125, ON, {}, ["STANDBY", "OFF"]),
    ("run-liftoff-paused-contact-run", 6, RUNNING + [{"t": 3, "skin": None}, {"t": 4, "skin": SKIN}], {},
     ["RUN", "PAUSED", "RUN"]),
    ("paused-idle-off", 128, RUNNING + [{"t": 3, "skin": None}], {}, ["RUN", "PAUSED", "OFF"]),
    ("run-session-end-done-off", 75, RUNNING, {"session_s": 60}, ["RUN", "DONE", "OFF"]),
    ("active-hold-off", 6, RUNNING + [{"t": 3, "button": "hold"}], {}, ["RUN", "OFF"]),
    ("standby-hold-off", 4, ON + [{"t": 1.5, "button": "hold"}], {}, ["STANDBY", "OFF"]),
    ("active-usb-charging", 5, RUNNING + [{"t": 3, "usb": True}], {}, ["RUN", "CHARGING"]),
    ("active-low-battery-off", 7, RUNNING + [{"t": 3, "battery_v": 3.2}], {}, ["RUN", "OFF"]),
    ("active-fault", 5, RUNNING + [{"t": 3, "fault": "dac_stuck_high"}], {}, ["RUN", "FAULT"]),
    ("fault-during-paused", 6, RUNNING + [{"t": 3.1, "skin": None}, {"t": 3.5, "fault": "sense_stuck_high"}],
     {}, ["PAUSED", "FAULT"]),
    ("fault-hold-off", 7, RUNNING + [{"t": 3, "fault": "dac_stuck_high"}, {"t": 4, "button": "hold"}], {},
     ["FAULT", "OFF"]),
    ("done-click-off", 70, RUNNING + [{"t": 63, "button": "click"}], {"session_s": 60},
     ["DONE", "OFF"]),
    ("done-usb-charging", 70, RUNNING + [{"t": 63, "usb": True}], {"session_s": 60}, ["DONE", "CHARGING"]),
    ("done-fault", 70, RUNNING + [{"t": 63, "fault": "enable_stuck_on"}], {"session_s": 60},
     ["DONE", "FAULT"]),
    ("off-fault", 3, [{"t": 0.5, "skin": SKIN}, {"t": 1, "fault": "enable_stuck_on"}], {}, ["OFF", "FAULT"]),
    ("charging-fault", 3, [{"t": 0.5, "usb": True}, {"t": 1, "fault": "sense_stuck_high"}], {},
     ["CHARGING", "FAULT"]),
    ("selftest-usb-charging", 3, ON + [{"t": 0.63, "usb": True}], {}, ["SELFTEST", "CHARGING"]),
    ("off-serial-start-selftest", 3, [{"t": 0.5, "serial": '{"cmd": "start"}'}], {},
     ["OFF", "SELFTEST", "STANDBY"]),
    ("active-serial-stop-off", 6, RUNNING + [{"t": 3, "serial": '{"cmd": "stop"}'}], {}, ["RUN", "OFF"]),
    ("selftest-check-passed-off", 3, [{"t": 0.5, "serial": '{"cmd": "selftest"}'}], {},
     ["OFF", "SELFTEST", "OFF"]),
]


@pytest.mark.parametrize(("duration", "events", "settings", "expected"),
                         [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_transition(sim, duration, events, settings, expected):
    trace = sim(_doc(duration, events, **settings))
    assert _contains(_path(trace), expected), _path(trace)


def test_every_table_row_has_a_scenario():
    """Rows without a scenario above are covered by the named tests below."""
    covered_elsewhere = {("ACTIVE", "click"), ("ACTIVE", "double"), ("ACTIVE", "ramped down"),
                         ("RUN", "session end"),
                         ("SELFTEST", "selftest passed"), ("DONE", "5 s"),
                         ("OFF", "double"),  # the pairing window: tests/test_ble.py
                         ("OFF", "hold")}  # forgetting the bonds: tests/test_ble_bonds.py
    slugs = " ".join(r[0] for r in ROWS)
    for source, event, _, _ in ui.TRANSITIONS:
        key = (ui.STATE_NAMES[source], statechart.EVENT_NAMES[event])
        word = statechart.EVENT_NAMES[event].split()[0].lower().replace("lift-off", "liftoff")
        assert key in covered_elsewhere or word in slugs, key


def test_click_steps_level_in_standby_run_and_paused_wrapping_to_1(sim):
    trace = sim(_doc(12, RUNNING + [
        {"t": 0.8, "button": "click"},  # STANDBY: 3 -> 4
        {"t": 3.0, "button": "click"},  # RUN: 4 -> 5
        {"t": 5.0, "skin": None},
        {"t": 6.0, "button": "click"},  # PAUSED: 5 -> 1
        {"t": 8.0, "button": "click"},  # PAUSED: 1 -> 2
    ], level=3))
    assert _levels(trace) == [1, 3, 4, 5, 1, 2]
    assert _at(trace, 1.5) == "STANDBY" or _at(trace, 1.5) == "RUN"


def test_double_click_steps_the_program_and_restarts_soft(sim):
    trace = sim(_doc(8, RUNNING + [{"t": 4.0, "button": "double"}], level=5))
    programs_seen = [e["program"] for e in trace if e["kind"] == "state"]
    assert programs_seen[-1] == "tone"
    switched = first(trace, "state", program="tone")
    ua = np.abs(current_ua(trace))
    t = ms(switched["t"])
    assert ua[t + 1:t + 100].max() <= 60  # starts again from zero
    assert ua[t + 2500:].max() >= 380


@pytest.mark.parametrize(("second_press_after_ms", "expected_levels"), [(380, [1]), (420, [1, 2])])
def test_double_click_at_the_400_ms_edge(sim, second_press_after_ms, expected_levels):
    """A second press within 400 ms of the release is a double click, else two clicks."""
    release = 1.10
    second = release + second_press_after_ms / 1000
    trace = sim(_doc(4, ON + [
        {"t": 1.0, "button": "down"}, {"t": release, "button": "up"},
        {"t": second, "button": "down"}, {"t": second + 0.1, "button": "up"},
    ]))
    programs_seen = [e["program"] for e in trace if e["kind"] == "state"]
    levels = _levels(trace)
    if second_press_after_ms < 400:
        assert programs_seen[-1] == "tone" and levels == expected_levels
    else:
        assert programs_seen[-1] == "lift" and levels[-1] == 3  # two clicks: 1 -> 2 -> 3


def test_button_bounce_gives_one_gesture_per_press(sim):
    presses = [{"t": 1.0 + i, "button": "click"} for i in range(4)]
    trace = sim(_doc(6, ON + presses))
    assert _levels(trace) == [1, 2, 3, 4, 5]
    bounces = [e for e in trace if e["kind"] == "button"]
    assert len(bounces) == 2 * 5  # the trace shows clean edges; the pin itself bounced


def test_hold_during_ramp_up_ramps_down_from_where_it_was(sim):
    trace = sim(_doc(5, RUNNING + [{"t": 1.3, "button": "hold"}], level=5))  # fires at 2.3 s
    ua = np.abs(current_ua(trace))
    before = ua[ms(2.2):ms(2.3)].max()
    assert 100 < before < 380  # mid-ramp
    assert ua[ms(2.3):].max() <= before + 2  # never rises after the hold
    off = first(trace, "state", after_s=2, state="OFF")
    assert off["t"] <= 2.9 and ua[ms(off["t"]):].max() == 0


def test_click_during_done_switches_off_without_restarting(sim):
    trace = sim(_doc(70, RUNNING + [{"t": 62.5, "button": "click"}], session_s=60))
    done = first(trace, "state", state="DONE")
    off = first(trace, "state", after_s=done["t"], state="OFF")
    assert off["t"] < 63.5 and _at(trace, 69) == "OFF"
    assert np.abs(current_ua(trace))[ms(done["t"]):].max() == 0


def test_done_returns_to_off_after_5_s(sim):
    trace = sim(_doc(70, RUNNING, session_s=60))
    done = first(trace, "state", state="DONE")
    off = first(trace, "state", after_s=done["t"], state="OFF")
    assert abs(off["t"] - done["t"] - 5.0) <= 0.011


def test_usb_plugged_mid_session_cuts_at_once_and_unplugging_does_not_restart(sim):
    trace = sim(_doc(8, RUNNING + [{"t": 4.0, "usb": True}, {"t": 5.0, "usb": False}], level=4),
                vbus_interlock=False)  # the firmware's own R6
    ua = np.abs(current_ua(trace))
    assert ua[ms(4.0) - 50:ms(4.0)].max() > 200
    assert ua[ms(4.0) + 10:].max() == 0  # R6: within 10 ms, and nothing after unplugging
    assert _path(trace)[-2:] == ["CHARGING", "OFF"]


def test_battery_sagging_under_load_ramps_down_with_a_low_battery_signal(sim):
    trace = sim(_doc(8, RUNNING + [{"t": 4.0, "battery_v": 3.25}, {"t": 6.0, "battery_v": 3.40}], level=4))
    ua = np.abs(current_ua(trace))
    off = first(trace, "state", after_s=4.0, state="OFF")
    assert 4.0 < off["t"] <= 4.0 + 2.0 + 0.6  # 1 s filter (up to 2 windows), then the 0.5 s ramp
    assert ua[ms(off["t"]):].max() == 0
    assert ua[ms(off["t"]) - 400:ms(off["t"]) - 100].max() > 20  # ramped, not cut
    leds = [e["rgb"] for e in trace if e["kind"] == "led" and e["t"] >= off["t"]]
    assert [255, 0, 0] in leds  # red blink: low battery


def test_start_refused_below_3_45_v_and_allowed_above(sim):
    refused = sim(_doc(3, [{"t": 0.0, "battery_v": 3.44}] + ON))
    allowed = sim(_doc(3, [{"t": 0.0, "battery_v": 3.46}] + ON))
    assert "STANDBY" not in _path(refused)
    assert "STANDBY" in _path(allowed)


def test_cues_follow_the_zone_sequence_every_15_s_of_contact_time(sim):
    trace = sim(_doc(70, RUNNING + [{"t": 20.0, "skin": None}, {"t": 30.0, "skin": SKIN}], session_s=60))
    cues = [(e["t"], e["zone"]) for e in trace if e["kind"] == "cue"]
    assert [zone for _, zone in cues] == ["forehead", "cheeks", "jawline", "neck"]
    run_start = first(trace, "state", state="RUN")["t"]
    paused_s = (first(trace, "state", after_s=30, state="RUN")["t"]
                - first(trace, "state", state="PAUSED")["t"])
    expected = [run_start, run_start + 15, run_start + 30 + paused_s, run_start + 45 + paused_s]
    assert np.allclose([t for t, _ in cues], expected, atol=0.02)  # contact time, not wall time


def test_eye_program_guides_the_eye_area(sim):
    trace = sim(_doc(40, RUNNING, program="eye", session_s=60))
    zones = [e["zone"] for e in trace if e["kind"] == "cue"]
    assert zones[:2] == ["left eye", "right eye"]
    assert np.abs(current_ua(trace)).max() <= 200


def test_led_shows_each_state(sim):
    trace = sim(_doc(8, RUNNING + [{"t": 4, "fault": "dac_stuck_high"}], level=2))
    colors = {}
    for e in trace:
        if e["kind"] == "led" and e["rgb"] != [0, 0, 0]:
            colors.setdefault(_at(trace, e["t"]), e["rgb"])
    assert colors["SELFTEST"] == [255, 255, 255]
    assert colors["STANDBY"][2] > colors["STANDBY"][0]  # blue
    assert colors["FAULT"] == [255, 0, 0]
    run_colors = [e["rgb"] for e in trace if e["kind"] == "led" and _at(trace, e["t"]) == "RUN"]
    assert [0, 102, 0] in run_colors  # green at level 2 brightness


def test_state_diagram_in_docs_is_generated_from_the_table():
    with open(statechart.DOC) as f:
        assert f.read() == statechart.render()


def test_limits_used_by_the_ui_are_the_spec_values():
    assert limits.IDLE_OFF_MS == 120_000 and limits.DONE_TO_OFF_MS == 5000
    assert limits.SESSION_DEFAULT_S == 600 and limits.CUE_DEFAULT_S == 15
    assert limits.BATTERY_START_MIN_MV == 3450 and limits.BATTERY_RUN_MIN_MV == 3300


def test_usb_plugged_during_fault_still_blocks_the_next_start(sim):
    """USB is a level: plugged in while FAULT ignores it, it still holds off a start after."""
    trace = sim(_doc(8, RUNNING + [
        {"t": 3.0, "fault": "dac_stuck_high"},
        {"t": 3.5, "usb": True},
        {"t": 4.0, "button": "hold"},  # FAULT -> OFF, then straight to CHARGING
        {"t": 6.0, "button": "click"},
    ]))
    assert _path(trace)[-3:] == ["FAULT", "OFF", "CHARGING"]
    assert np.abs(current_ua(trace))[ms(3.01):].max() == 0


def test_the_tick_compares_with_the_ui_state_numbers():
    """app.py keeps local copies of roller.ui's states and events, roller.led's patterns and
    roller.contact's results (constants fold, imports do not)."""
    from roller import app, contact, led, ui

    for name in ("OFF", "SELFTEST", "STANDBY", "RUN", "PAUSED", "DONE", "CHARGING", "FAULT",
                 "HOLD", "START", "STOP", "SELFTEST_PASSED", "BATTERY_TOO_LOW", "CONTACT", "LIFTOFF",
                 "SESSION_END", "IDLE_TIMEOUT", "DONE_TIMEOUT", "USB_IN", "USB_OUT", "FAULTED",
                 "RAMPED_DOWN", "CHECK_PASSED"):
        assert getattr(app, "_" + name) == getattr(ui, name), name
    for name in ("LED_RUN", "LED_POOR_CONTACT", "LED_CUE", "LED_CHARGING", "LED_CHARGED",
                 "LED_LOW_BATTERY", "LED_NO_HEAD", "LED_REFUSED", "LED_WEEK_ON_TRACK", "LED_WEEK_DUE",
                 "LED_PAIRING"):
        assert getattr(app, "_" + name) == getattr(led, name), name
    for name in ("CONFIRMED", "LIMITED", "KEPT", "LOST"):
        assert getattr(app, "_CONTACT_" + name) == getattr(contact, name), name
