"""The oracle (tests/oracle.py) can fail: hand-built traces that break one rule each, a clean
one that passes, and real simulator runs."""
import json

import pytest

from tests import oracle
from tests.traceutil import doc as scenario

LIFT_HALF_MS = 50
LEVEL5_UA = 400  # lift, level 5
RUN_MS = 1000  # RUN starts here in the hand-built traces
STOP_OK = '{"ok": true, "state": "RUN"}'


class Trace:
    """A hand-built C2 trace: states, per-ms current, serial lines, faults."""

    def __init__(self):
        self.events = [{"kind": "reset", "t": 0, "cause": "power"}]
        self.state(0, "OFF")
        self.values = {}  # ms -> ua

    def add(self, t_ms, kind, **fields):
        self.events.append(dict(kind=kind, t=t_ms / 1000, **fields))
        return self

    def state(self, t_ms, state, level=5, program="lift"):
        return self.add(t_ms, "state", state=state, level=level, program=program)

    def wave(self, t_ms, values):
        for i, ua in enumerate(values):
            self.values[t_ms + i] = ua
        return self

    def done(self, end_ms):
        last = 0
        outs = []
        for t in range(end_ms):
            ua = self.values.get(t, 0)
            if ua != last:
                outs.append({"kind": "out", "t": t / 1000, "ua": ua, "v": 0})
                last = ua
        events = sorted(self.events + outs, key=lambda e: e["t"])  # stable: states first
        return events + [{"kind": "end", "t": end_ms / 1000, "ticks": end_ms, "wall_s": 0}]


def periods(amps, half=LIFT_HALF_MS, negative=None):
    """Square periods: a dead tick, then the amplitude; the negative half mirrors (or `negative`
    per mille of it)."""
    out = []
    for a in amps:
        pos = [0] + [a] * (half - 1)
        out += pos + [-(v * (negative or 1000) // 1000) for v in pos]
    return out


def ramp(count, cap=LEVEL5_UA, half=LIFT_HALF_MS):
    """Amplitudes of `count` periods rising at cap/1200 per positive-half tick."""
    return [min(cap, cap * half * (i + 1) // 1200) for i in range(count)]


def session(end_ms=4000, amps=None, **stimuli):
    """Skin at 50 ms, switched on at 100 ms, RUN from 1000 ms at level 5 lift."""
    t = Trace().state(100, "SELFTEST").state(140, "STANDBY").state(RUN_MS, "RUN")
    t.wave(RUN_MS, periods(amps if amps is not None else ramp((end_ms - RUN_MS) // (2 * LIFT_HALF_MS))))
    d = {"name": "synthetic", "duration_s": end_ms / 1000, "events": [{"t": 0.05, "skin": {"ohm": 20000}}]}
    d["events"] += [dict(t=t_s, **{k: v}) for t_s, k, v in stimuli.get("extra", [])]
    return t, d


def judge(t, d, end_ms=4000):
    return oracle.violations(d, t.done(end_ms))


def expect(found, text):
    assert any(text in v for v in found), "expected %r in %s" % (text, found)


def absent(found, text):
    assert not any(text in v for v in found), "unexpected %r in %s" % (text, found)


def test_a_clean_hand_built_session_passes():
    t, d = session()
    assert judge(t, d) == []


def test_over_the_hard_max_or_the_cap():
    t, d = session()
    t.wave(3000, [451])
    expect(judge(t, d), "R1 451 uA over the cap")
    t, d = session(extra=[(2.9, "fault", "dac_stuck_high")])
    t.wave(3000, [900, 900])  # the 2 ms a trip may take
    absent(judge(t, d), "R1")
    t.wave(3002, [900])
    expect(judge(t, d), "R1 900 uA over the cap")


def test_bench_cap_comes_from_the_accepted_bench_command():
    t, d = session()
    t.add(2000, "serial", dir="in", line='{"cmd": "bench", "shape": "square", "hz": 10, "ua": 480}')
    answer = '{"ok": true, "shape": "square", "hz": 10.0, "ua": 480, "state": "RUN"}'
    t.add(2000, "serial", dir="out", line=answer)
    t.wave(3000, [480, 480])
    absent(judge(t, d), "R1")
    t, d = session()
    t.wave(3000, [480, 480])
    expect(judge(t, d), "R1 480 uA")


def test_current_before_contact_is_confirmed():
    t, d = session()
    d["events"] = [{"t": 1.0, "skin": {"ohm": 20000}}]  # at RUN: not confirmed yet
    expect(judge(t, d), "R4")


def test_current_after_a_lift_off():
    t, d = session(extra=[(2.0, "skin", None)])
    t.wave(2000, [0] * 2000)  # open circuit: no current
    absent(judge(t, d), "R4")
    t.wave(2006, [100])
    expect(judge(t, d), "R4 100 uA more than 5 ms after a lift-off")


def _lift_onto(skin, volts_at, last_ms, ua=30):
    """RUN on 20 kOhm, then at 2000 ms `skin`: `ua` flows until `last_ms` with the electrode at
    volts_at(k) in the k-th ms after the move; judged by the oracle."""
    t, d = session(extra=[(2.0, "skin", skin)])
    t.wave(2000, [0] * 2000)
    for k in range(1, last_ms - 2000 + 1):
        t.add(2000 + k, "out", ua=-ua, v=-volts_at(k), en=1, pol=-1, set_ua=ua)
    t.add(last_ms + 1, "out", ua=0, v=0, en=0, pol=0, set_ua=0)
    return judge(t, d)


@pytest.mark.parametrize("last_ms", [2018, 2019])
def test_a_lift_onto_rc_skin_counts_from_when_the_trace_shows_it(last_ms):
    """581 kOhm || 47 nF charges from where 20 kOhm left it: v/i passes 275 kOhm in the 14th ms
    (0.6 V a ms at 30 uA); from there 5 ms, not one more (the hunt's R||C lift-off)."""
    found = _lift_onto({"ohm": 581_000, "nf": 47}, lambda k: 0.6 * k, last_ms)
    if last_ms == 2018:
        absent(found, "R4")
    else:
        expect(found, "R4 30 uA more than 5 ms after a lift-off (skin 581000 ohm || 47 nF)")


def test_a_lift_onto_rc_skin_that_shows_at_once_gets_5_ms():
    """At a high level the electrode is at compliance at once: the load shows, 5 ms as for a
    resistor (an outside attack: a grace of RC let a firmware slow to drop pass)."""
    skin = {"ohm": 581_000, "nf": 47}
    absent(_lift_onto(skin, lambda k: 15.0, 2004, ua=25), "R4")
    expect(_lift_onto(skin, lambda k: 15.0, 2006, ua=25), "more than 5 ms after a lift-off")


def test_skin_changed_within_a_lift_off_shows_as_itself():
    """R||C for 1 ms, then 600 kOhm: the resistor shows at once (an outside attack: the run took
    the first skin's grace)."""
    t, d = session(extra=[(2.0, "skin", {"ohm": 581_000, "nf": 47}), (2.001, "skin", {"ohm": 600_000})])
    t.wave(2000, [0] * 6 + [25] * 14 + [0] * 1980)
    expect(judge(t, d), "R4 25 uA more than 5 ms after a lift-off")


def test_dry_skin_is_not_contact():
    t, d = session()
    d["events"] = [{"t": 0.3, "skin": {"ohm": 400_000}}]
    expect(judge(t, d), "R4")


def test_current_with_usb_present():
    t, d = session(extra=[(2.0, "usb", True)])
    expect(judge(t, d), "R6")
    t, d = session(amps=ramp(10), extra=[(2.0, "usb", True)])  # stopped at 2000 ms
    absent(judge(t, d), "R6")


def test_an_asymmetric_period_breaks_balance():
    t, d = session(amps=ramp(25) + [LEVEL5_UA] * 5)
    t.wave(RUN_MS, periods(ramp(25) + [LEVEL5_UA] * 5, negative=800))
    expect(judge(t, d), "R3 (a)")


def test_a_restarted_positive_half_is_a_long_stretch():
    t, d = session(amps=ramp(15) + [LEVEL5_UA] * 10)
    start = RUN_MS + 20 * 2 * LIFT_HALF_MS + 30  # 30 ms into a positive half ...
    t.wave(start, [0] + [LEVEL5_UA] * 49 + [-LEVEL5_UA] * 49)  # ... restarts positive
    expect(judge(t, d), "R3 (b)")


def test_leftovers_accumulate_over_cuts():
    t, d = session(amps=[])
    for k in range(8):  # positive halves cut short, each time the skin lost
        t.wave(RUN_MS + 300 * k, [LEVEL5_UA] * 40)
        d["events"].append({"t": (RUN_MS + 300 * k + 40) / 1000, "skin": None})
        d["events"].append({"t": (RUN_MS + 300 * k + 100) / 1000, "skin": {"ohm": 20000}})
    found = judge(t, d)
    expect(found, "R3 (c)")


def stopped(cut_last_half=False):
    """RUN, a serial stop at 2000 ms, a ramp-down over five periods, OFF at 2500 ms."""
    t, d = session(amps=ramp(10))
    t.add(2000, "serial", dir="in", line='{"cmd": "stop"}').add(2000, "serial", dir="out", line=STOP_OK)
    t.wave(2000, periods([130, 100, 70, 40, 10]))
    if cut_last_half:  # OFF early, in the middle of the 40 uA period
        t.wave(2350, [0] * 3 * LIFT_HALF_MS)
        return t.state(2350, "OFF"), d
    return t.state(2500, "OFF"), d


def test_a_session_ended_by_choice_nets_to_zero():
    assert judge(*stopped()) == []
    expect(judge(*stopped(cut_last_half=True)), "R3 (d)")


def test_a_step_to_full_level_is_not_a_soft_start():
    t, d = session(amps=[LEVEL5_UA] * 20)
    expect(judge(t, d), "R5 ramp too steep")


def test_a_serial_stop_must_end_in_off():
    t, d = session()
    t.add(2000, "serial", dir="in", line='{"cmd": "stop"}').add(2000, "serial", dir="out", line=STOP_OK)
    expect(judge(t, d), "stop (serial stop at 2000 ms) not obeyed")
    absent(judge(*stopped()), "stop")


def test_the_amplitude_never_rises_after_a_stop():
    t, d = stopped()
    t.wave(2000, periods([130, 100, 120, 40, 10]))
    expect(judge(t, d), "amplitude rose to 120 uA (from 100)")


def test_a_hold_must_end_in_off():
    t, d = session()
    t.add(1500, "button", pressed=True).add(3000, "button", pressed=False)
    expect(judge(t, d), "stop (hold at 2550 ms) not obeyed")


def test_low_battery_must_end_in_off():
    t, d = session(end_ms=6000, extra=[(1.2, "battery_v", 3.1)])
    expect(judge(t, d, 6000), "stop (battery low")


def test_a_latched_fault_means_no_current():
    t, d = session(extra=[(1.9, "fault", "polarity_stuck")])
    t.add(2000, "fault", code="DC_IMBALANCE")
    expect(judge(t, d), "fault latched but")


@pytest.mark.parametrize("latched", [True, False])
def test_off_with_a_fault_latched_is_no_place_for_an_enable_test(latched):
    """After FAULT, OFF keeps the fault latched until a self-test passes: no test pulse may flow
    (it would be current under a latch), so a stuck enable waits for that self-test (the hunt's
    find: the oracle asked for both)."""
    t, d = session(extra=[(1.9, "fault", "polarity_stuck"), (2.6, "fault", "enable_stuck_on")])
    t.wave(2000, [0] * 2000)
    if latched:
        t.add(2000, "fault", code="DC_IMBALANCE").state(2000, "FAULT")
    t.state(2500, "OFF")
    found = judge(t, d)
    if latched:
        absent(found, "enable_stuck_on injected")
    else:
        expect(found, "enable_stuck_on injected at 2600 not caught")


def test_a_fault_needs_a_cause():
    t, d = session(amps=ramp(10))
    t.add(2000, "fault", code="DC_IMBALANCE").state(2000, "FAULT")
    expect(judge(t, d), "fault DC_IMBALANCE without a cause")
    d["events"].append({"t": 1.9, "fault": "polarity_stuck"})
    absent(judge(t, d), "without a cause")
    d["events"] = [{"t": 0.3, "skin": {"ohm": 500}}]  # outside the declared load range
    absent(judge(t, d), "without a cause")


def test_shoot_through_is_always_a_violation():
    t, d = session()
    t.add(2500, "hw", event="shoot_through")
    expect(judge(t, d), "hardware rule broken: shoot_through")


def test_a_hung_loop_must_be_reset():
    t, d = session(amps=ramp(10), extra=[(2.0, "fault", "loop_hang")])
    expect(judge(t, d), "R9")
    t.add(2250, "reset", cause="watchdog").state(2250, "OFF")
    absent(judge(t, d), "R9")


def test_a_torn_write_excuses_only_the_silence_before_the_next_power_on():
    """The torn write cuts the power at an unknown later write; the device is back at the next
    power-on reset the stimuli do not explain. While it speaks, it is on; a record of the load's
    voltage alone (a capacitance discharging) is not the device speaking."""
    def run(spoke_at_ms=None, load_at_ms=None):
        t = Trace()
        d = {"name": "synthetic", "duration_s": 4, "events": [
            {"t": 0.05, "skin": {"ohm": 20000}}, {"t": 0.5, "power": "cut_during_write"},
            {"t": 0.6, "power": "cut"}, {"t": 0.8, "power": "on"},  # no write yet: the tear waits
            {"t": 1.0, "fault": "enable_stuck_on"}, {"t": 3.0, "power": "on"}]}
        t.add(800, "reset", cause="power").state(800, "OFF")
        t.add(3000, "reset", cause="power").state(3000, "OFF")
        t.add(3050, "fault", code="OUTPUT_STUCK").state(3050, "FAULT")
        if spoke_at_ms:
            t.add(spoke_at_ms, "led", rgb=[0, 0, 0])
        if load_at_ms:
            t.add(load_at_ms, "out", ua=0, v=0.5, en=0, pol=0, set_ua=0)
        return judge(t, d)

    absent(run(), "enable_stuck_on")
    absent(run(load_at_ms=2500), "enable_stuck_on")
    expect(run(spoke_at_ms=2500), "enable_stuck_on injected at 1000 not caught")


def test_a_second_tear_asked_for_while_the_first_cut_the_power_cuts_after_the_next_power_on():
    """The hunt's find: the first tear cut the power at a write; a second, asked for while off,
    cut it again at the first write after the next power-on; the silence from there to the
    following power-on is the device off, not a hung loop the watchdog failed to reset."""
    def run(second_tear):
        t = Trace()
        events = [{"t": 0.05, "skin": {"ohm": 20000}}, {"t": 0.5, "power": "cut_during_write"}]
        events += [{"t": 1.0, "power": "cut_during_write"}] if second_tear else []
        events += [{"t": 1.5, "power": "on"}, {"t": 2.0, "fault": "loop_hang"}, {"t": 3.0, "fault": None},
                   {"t": 3.0, "power": "on"}]
        t.add(1500, "reset", cause="power").state(1500, "OFF")  # then silent: cut again
        t.add(3000, "reset", cause="power").state(3000, "OFF")
        return judge(t, {"name": "synthetic", "duration_s": 4, "events": events})

    absent(run(second_tear=True), "R9")
    expect(run(second_tear=False), "R9 loop hung for 1000 ms")


def test_the_last_power_stimulus_of_a_ms_decides():
    """"on" (already on), "cut", "on" in one ms: the device ends it powered, and the program set
    in that ms counts (the hunt's find); "on", "cut" while off: it ends unpowered."""
    from tests.oracle_timeline import Timeline

    def program_after(powers):
        t = Trace()
        t.add(1000, "reset", cause="power").state(1000, "OFF", program="lift")
        t.state(1000, "OFF", program="sculpt")
        d = {"name": "synthetic", "duration_s": 2,
             "events": [{"t": 1.0, "power": p} for p in powers]}
        return Timeline(d, t.done(2000)).program

    assert program_after(["on", "cut", "on"]) == "sculpt"
    assert program_after(["cut", "on", "cut"]) == "lift"


def test_a_cut_forgets_a_hang_injected_while_off():
    """Off; then in one ms: hang, on (boots hung), cut (forgotten), on: it runs (the hunt's find).
    Without the cut it boots hung and must be reset."""
    def run(powers):
        t = Trace()
        d = {"name": "synthetic", "duration_s": 3, "events": [{"t": 0.5, "power": "cut"},
                                                             {"t": 1.0, "fault": "loop_hang"}]}
        d["events"] += [{"t": 1.0, "power": p} for p in powers]
        for _ in range(powers.count("on")):
            t.add(1000, "reset", cause="power").state(1000, "OFF")
        return judge(t, d, 3000)

    absent(run(["on", "cut", "on"]), "R9")
    expect(run(["on"]), "R9")


def test_assert_safe_names_the_first_violations():
    t, d = session()
    t.wave(3000, [600])
    with pytest.raises(AssertionError, match="3000 ms: R1 600 uA"):
        oracle.assert_safe(d, t.done(4000))


# --- real runs (the firmware on the virtual board) ----------------------------------------------
SKIN = {"t": 0.6, "skin": {"ohm": 20000}}


@pytest.mark.parametrize("program", ["lift", "tone", "eye", "sculpt"])
def test_a_plain_session_stopped_over_serial_passes(sim, program):
    doc = scenario("plain", 6, [SKIN, {"t": 5.0, "serial": '{"cmd": "stop"}'}], level=4, program=program)
    oracle.assert_safe(doc, sim(doc))


def test_a_level_change_up_and_a_hold_pass_and_the_hold_is_seen(sim):
    from tests.oracle_timeline import Timeline

    doc = scenario("up", 7, [SKIN, {"t": 3.0, "button": "click"}, {"t": 5.0, "button": "hold"}], level=2)
    events = sim(doc)
    oracle.assert_safe(doc, events)
    assert Timeline(doc, events).stops == [(6050, "hold")]  # pressed at 5000 ms, + 1 s + debounce


def test_a_bench_session_passes(sim):
    bench = '{"cmd": "bench", "shape": "sine", "hz": 40, "ua": 300}'
    doc = scenario("bench", 6, [SKIN, {"t": 0.7, "serial": bench}, {"t": 5.0, "serial": '{"cmd": "stop"}'}])
    doc["events"] = doc["events"][1:]  # the bench command switches on
    oracle.assert_safe(doc, sim(doc))


def test_a_set_just_before_a_bench_does_not_end_it_but_a_later_click_does(sim):
    """Both apply at the same period end; the state event shows the set's level with the bench
    running (the hunt's find). A click after the bench ends it at the next period end."""
    from tests.oracle_timeline import Timeline

    set_eye = '{"cmd": "set", "program": "eye", "level": 2}'
    bench = '{"cmd": "bench", "shape": "square", "hz": 10, "ua": 212}'
    doc = scenario("set-bench", 6, [SKIN, {"t": 2.0, "serial": set_eye}, {"t": 2.004, "serial": bench},
                                     {"t": 4.0, "button": "click"}], level=1)
    events = sim(doc)
    timeline = Timeline(doc, events)
    assert timeline.cap_ua[3000] == 212 and timeline.half_ms[3000] == 50
    assert timeline.cap_ua[5000] < 212 and timeline.half_ms[5000] < 50


def test_usb_and_faults_pass(sim):
    """Fails on 512a59f (defect 6's kind): USB cuts a positive half, the next session starts
    positive."""
    doc = scenario("faults", 9, [SKIN, {"t": 3.0, "usb": True}, {"t": 3.5, "usb": False},
                                 {"t": 4.0, "button": "click"}, {"t": 6.0, "fault": "dac_stuck_high"},
                                 {"t": 6.5, "fault": None}, {"t": 7.0, "button": "hold"}])
    oracle.assert_safe(doc, sim(doc))


def test_a_lower_level_does_not_cancel_a_stop(sim):
    """Issue 13, defect 1: the level decrease cancels the ramp-down (fails on 512a59f)."""
    doc = scenario("defect1", 6, [SKIN, {"t": 4.0, "serial": '{"cmd": "stop"}'},
                                  {"t": 4.1, "serial": '{"cmd": "set", "level": 3}'}], level=5)
    found = oracle.violations(doc, sim(doc))
    assert not any("stop (serial stop" in v for v in found), found


def test_alternating_levels_make_no_dc(sim):
    """Issue 13, defect 2: set 5 / set 4 every 5 ms (fails on 512a59f: positive for 1.4 s)."""
    lines = [{"t": round(3 + i * 0.005, 3), "serial": json.dumps({"cmd": "set", "level": 5 - i % 2})}
             for i in range(200)]
    doc = scenario("defect2", 5, [SKIN] + lines, level=5)
    oracle.assert_safe(doc, sim(doc))


def test_a_level_decrease_in_tone_is_no_fault(sim):
    """Issue 13, defect 3: a false DC_IMBALANCE (fails on 512a59f)."""
    doc = scenario("defect3", 3.6, [SKIN, {"t": 3.1, "serial": '{"cmd": "set", "level": 3}'}],
                   level=4, program="tone")
    oracle.assert_safe(doc, sim(doc))


def test_the_demo_keeps_polarity_across_a_lift_off(sim):
    """Issue 13, defect 6: the built-in demo lifts off in a positive half (fails on 512a59f)."""
    from host_tools import paths

    with open(paths.SCENARIOS + "/demo.json") as f:
        doc = json.load(f)
    oracle.assert_safe(doc, sim(doc))


def test_low_battery_and_the_session_end_pass_and_are_seen(sim):
    from tests.oracle_timeline import Timeline

    doc = scenario("battery", 8, [SKIN, {"t": 3.0, "battery_v": 3.2}], level=3)
    oracle.assert_safe(doc, sim(doc))
    doc = scenario("session end", 64, [SKIN], level=3, session_s=60)
    events = sim(doc)
    oracle.assert_safe(doc, events)
    assert [why for _, why in Timeline(doc, events).stops] == ["session end"]


def test_skin_drying_into_compliance_is_no_fault(sim):
    """20 kOhm -> 120 kOhm (in the declared range) mid-half at level 3 lift: the current
    becomes compliance-limited. Fails on 512a59f: a false DC_IMBALANCE (found by this oracle)."""
    doc = scenario("drying", 4, [SKIN, {"t": 2.5, "skin": {"ohm": 120_000}}], level=3)
    oracle.assert_safe(doc, sim(doc))


def test_head_rules_no_current_without_a_settled_known_head():
    t, d = session(extra=[(2.0, "head", None)])
    t.wave(2000, [0] * 2000)  # the output stopped at once: clean
    absent(judge(t, d), "heads")
    t, d = session(extra=[(2.0, "head", "unknown")])
    t.wave(2004, [0] * 1996)  # 4 ms to stop: within the lift-off allowance
    absent(judge(t, d), "heads")
    t, d = session(extra=[(2.0, "head", None)])
    t.wave(2010, [0] * 1990)  # 10 ms of current after the head went
    expect(judge(t, d), "uA with head None, not known and settled")
    # the same head back 100 ms later: not settled yet, so no current for HEAD_SETTLE_MS
    t, d = session(extra=[(2.0, "head", None), (2.1, "head", "face")])
    t.wave(2000, [0] * 200)
    expect(judge(t, d), "uA with head face, not known and settled")


def test_the_last_head_of_a_ms_decides():
    """"unknown" then "face" in one ms (the hunt's find): the face head never left, so a session
    under it goes on; "face" then "unknown" in one ms: it did leave."""
    t, d = session(extra=[(2.0, "head", "unknown"), (2.0, "head", "face"), (2.001, "head", "face")])
    absent(judge(t, d), "heads")
    t, d = session(extra=[(2.0, "head", "face"), (2.0, "head", "unknown")])
    expect(judge(t, d), "uA with head unknown, not known and settled")


def test_head_rules_cap_by_the_eye_head():
    t, d = session(extra=[(0.06, "head", "eye")])
    found = judge(t, d)
    expect(found, "uA over the eye head's limit")
    t, d = session(amps=[min(a, 200) for a in ramp(30)], extra=[(0.06, "head", "eye")])
    absent(judge(t, d), "heads")


def test_a_load_jumping_into_compliance_clips_one_half_of_a_chosen_session(sim):
    """20 kOhm -> 200 kOhm as a level-4 lift half ends, and a stop: the mirror half is clipped at
    15 V (-75 uA against +220 uA), so the session nets one half's worth; the envelope then holds
    at what is delivered and the ramp-down balances (the slow hunt's find). (d) allows one half
    at the cap per entry into compliance, and no more."""
    from tests.oracle_timeline import Timeline

    # the first lift half to end after 2.5 s, from a run without the jump: the self-test's
    # length (one tick per firmware file) moves it
    plain = sim(scenario("plain", 2.6, [SKIN], level=4))
    outs = [e for e in plain if e["kind"] == "out" and e["t"] >= 2.5]
    t = next(b["t"] for a, b in zip(outs, outs[1:], strict=False) if a["ua"] > 0 and not b["en"])
    doc = scenario("clipped", 3.5, [SKIN, {"t": t, "skin": {"ohm": 200_000}},
                                    {"t": t, "serial": '{"cmd": "stop"}'}], level=4)
    events = sim(doc)
    timeline = Timeline(doc, events)
    (start, end, _, clipped, half), = timeline.chosen_sessions
    assert clipped == 1 and half == 50
    net = int(timeline.q_cum[end] - timeline.q_cum[start])
    assert 3000 < net < half * 220  # one clipped half: visible, and bounded by it
