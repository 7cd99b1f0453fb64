"""Hypothesis hunts for any input sequence that breaks the safety rules, judged by tests/oracle.py.

A RuleBasedStateMachine drives one simulated device (the firmware on CPython against the virtual
board) with everything the device can be given: button gestures at any ms, serial commands of
every kind alone or in bursts within a few ms, skin as R or R||C over and beyond the declared
range, contact flicker, heads taken off, swapped, wobbling or faulty (open, short), battery sag,
USB pulses, injected faults and their clearing, power cuts.
Every stimulus goes into a C1 scenario as it is applied, so at teardown the oracle judges the
trace against exactly what was done, and a failure leaves a scenario file that replays it:
`tests.conftest.run_sim(doc, vbus_interlock=False)` exactly (the hunt takes the hardware
charging interlock out, so the current shows the firmware's own R6), or
`python -m host_tools sim FILE --runtime cpython --trace T` then `python -m tests.oracle FILE T`.

`ROLLER_HUNT_LOG=FILE` (tests/hunt_measure.py) records the violations of every example instead
of failing on the first.
"""
import io
import json
import os
import shutil
import tempfile
import time

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule

from boards.sim.model import HEAD_VALUES
from boards.sim.runner import Runner
from boards.sim.scenario import GESTURE_EDGES
from host_tools import paths
from roller import programs, ui
from tests import oracle

SETTLE_MS = 3000  # run on after the last step, so a stop's deadline falls inside the trace
MODEL_FAULTS = ("dac_stuck_high", "polarity_stuck", "enable_stuck_on", "sense_stuck_low",
                "sense_stuck_high", "vsense_stuck", "loop_hang", "flash_corrupt")
COUNTEREXAMPLE = os.path.join(tempfile.gettempdir(), "roller-hunt-counterexample.json")

# --- what can be sent over serial (C4) --------------------------------------------------------
LEVELS = st.integers(1, 5)
SET = st.fixed_dictionaries({}, optional={
    "level": LEVELS,
    "program": st.sampled_from(programs.NAMES),
    "session_s": st.one_of(st.just(60), st.integers(60, 900)),
    "cue_s": st.integers(10, 15),
}).filter(bool).map(lambda fields: dict(cmd="set", **fields))


@st.composite
def _bench(draw):
    shape = draw(st.sampled_from(programs.SHAPE_NAMES))
    top = programs.MAX_SMOOTH_HZ if shape in ("sine", "triangle") else programs.MAX_HZ
    hz = draw(st.one_of(st.sampled_from([0.5, 5, 10, 50, top]), st.integers(1, top),
                        st.floats(0.5, top).map(lambda x: round(x, 2))))
    ua = draw(st.one_of(st.sampled_from([15, 100, 400, 500]), st.integers(15, 500)))
    return {"cmd": "bench", "shape": shape, "hz": hz, "ua": ua}


REQUEST = st.one_of(
    SET, SET, _bench(),
    st.sampled_from([{"cmd": c} for c in ("stop", "stop", "start", "status", "info", "log", "selftest")]),
    st.booleans().map(lambda on: {"cmd": "stream", "on": on}),
    st.integers(1, 20).map(lambda n: {"cmd": "history", "limit": n}),
    st.integers(1_000_000_000, 2_000_000_000).map(lambda s: {"cmd": "clock", "unix": s}),
).map(json.dumps)
BAD_LINE = st.one_of(
    st.sampled_from(['{"cmd": "set", "level": 99}', '{"cmd": "bench", "shape": "sine", "hz": 250, "ua": 9}',
                     "not json", "{}", '{"cmd": "set", "level": true}', "x" * 300]),
    st.text(max_size=40),
)
# --- loads: over and beyond the declared range (1 kOhm..200 kOhm, 0..1 uF) -----------------------
OHM = st.one_of(st.integers(5_000, 135_000), st.integers(500, 2_000_000),
                st.sampled_from([500, 1_000, 2_000, 20_000, 150_000, 200_000, 250_000, 300_000, 2_000_000]))
NF = st.one_of(st.just(0), st.just(0), st.sampled_from([10, 47, 100, 1_000, 10_000]), st.integers(0, 10_000))
SKIN = st.one_of(st.none(), st.builds(lambda ohm, nf: dict(ohm=ohm, nf=nf) if nf else dict(ohm=ohm), OHM, NF))
GOOD_SKIN = st.integers(5_000, 135_000).map(lambda ohm: {"ohm": ohm})
WAIT_MS = st.one_of(st.integers(1, 20), st.integers(1, 300), st.integers(1, 2500))


def _allowed_pairs():
    """(from, to) state pairs the chart allows, superstate rows expanded."""
    active = ("STANDBY", "RUN", "PAUSED")
    pairs = set()
    for source, _, target, action in ui.TRANSITIONS:
        sources = active if source == ui.ACTIVE else (ui.STATE_NAMES[source],)
        targets = [ui.STATE_NAMES[target]] if target is not None else []
        if action == "finish_ramp_down":
            targets += ["OFF", "DONE"]
        pairs.update((s, t) for s in sources for t in targets)
    return pairs


ALLOWED = _allowed_pairs()


def chart_violations(events):
    """C3: every state change is a row of the chart (after a reset: OFF, then FAULT at most)."""
    found, state, after_reset = [], "OFF", True
    for e in events:
        if e["kind"] == "reset":
            state, after_reset = "OFF", True
        elif e["kind"] == "state":
            if e["state"] != state and (state, e["state"]) not in ALLOWED and not (
                    after_reset and e["state"] in ("OFF", "FAULT")):
                found.append("%d ms: C3 transition %s -> %s is not in the chart" % (
                    round(e["t"] * 1000), state, e["state"]))
            state, after_reset = e["state"], after_reset and e["state"] in ("OFF", "FAULT")
    return found


class RollerMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.flash_dir = tempfile.mkdtemp(prefix="roller-hunt-")
        self.out = io.StringIO()
        self.doc = {"name": "hunt", "duration_s": 3600, "seed": 9, "events": []}
        # without the hardware charging interlock: the current shows the firmware's own R6
        self.runner = Runner(self.doc, self.out, "cpython", self.flash_dir + "/fs", paths.FIRMWARE,
                             vbus_interlock=False)
        self.now_ms = 0

    # --- applying stimuli -----------------------------------------------------------------------
    def _at(self, t_ms, key, value):
        """Schedule one C1 event: into the scenario (for the oracle) and the runner's timeline."""
        self.doc["events"].append({"t": t_ms / 1000, key: value})
        items = [(t_ms + dt, "pin", down) for dt, down in GESTURE_EDGES[value]] if key == "button" \
            else [(t_ms, key, value)]
        timeline = self.runner.timeline
        for item in items:
            i = len(timeline)
            while i > self.runner._next_event and timeline[i - 1][0] > item[0]:
                i -= 1
            timeline.insert(i, item)

    def _now(self, key, value):
        self._at(self.now_ms, key, value)

    def _advance(self, ms):
        self.now_ms += ms
        self.runner.advance_to(self.now_ms)

    def judge(self):
        """The oracle and the chart on the whole run; the scenario, sorted by time (stable)."""
        self._advance(SETTLE_MS)
        self.doc["events"].sort(key=lambda e: e["t"])
        self.doc["duration_s"] = self.now_ms / 1000
        events = [json.loads(line) for line in self.out.getvalue().splitlines()]
        return oracle.violations(self.doc, events, end_ms=self.now_ms) + chart_violations(events)

    def teardown(self):
        try:
            found = self.judge()
        finally:
            shutil.rmtree(self.flash_dir, ignore_errors=True)
        log = os.environ.get("ROLLER_HUNT_LOG")
        if log:
            with open(log, "a") as f:
                record = {"t": time.time(), "sim_ms": self.now_ms, "violations": found}
                if found:
                    record["scenario"] = self.doc
                f.write(json.dumps(record) + "\n")
            return
        if found:
            with open(COUNTEREXAMPLE, "w") as f:
                json.dump(self.doc, f)
            listed = "\n  ".join(found[:6])
            raise AssertionError("%d violation(s), replay %s:\n  %s" % (len(found), COUNTEREXAMPLE, listed))

    # --- the user -------------------------------------------------------------------------------
    @initialize(program=st.sampled_from(programs.NAMES), level=LEVELS, run_ms=st.integers(300, 4000),
                then_level=st.none() | LEVELS, start=st.sampled_from([True, True, True, False]))
    def first(self, program, level, run_ms, then_level, start):
        """Most runs start stimulating, so the rules act on a device in RUN."""
        if start:
            self.session(program, level, run_ms, then_level)

    @rule(gesture=st.sampled_from(["click", "double", "hold", "down", "up"]))
    def button(self, gesture):
        self._now("button", gesture)

    @rule(program=st.sampled_from(programs.NAMES), level=LEVELS, run_ms=st.integers(300, 4000),
          then_level=st.none() | LEVELS)
    def session(self, program, level, run_ms, then_level):
        """A typical start: pick a program, switch on, touch good skin, stimulate a while, and
        perhaps adjust the level."""
        self._now("serial", json.dumps({"cmd": "set", "program": program, "level": level}))
        self._now("button", "click")
        self._advance(700)
        self._now("skin", {"ohm": 20_000})
        self._advance(run_ms)
        if then_level is not None:
            self.level_change(then_level)

    @rule(skin=SKIN)
    def skin(self, skin):
        self._now("skin", skin)

    @rule(skin=GOOD_SKIN, hz=st.integers(1, 20), duration_ms=st.integers(200, 2000),
          duty=st.sampled_from([25, 50, 75]))
    def flicker(self, skin, hz, duration_ms, duty):
        """Contact on and off at `hz` for a while (scheduled ahead: other rules interleave)."""
        period_ms = 1000 // hz
        for start in range(0, duration_ms, period_ms):
            self._at(self.now_ms + start, "skin", None)
            self._at(self.now_ms + start + period_ms * (100 - duty) // 100, "skin", skin)

    @rule(head=st.sampled_from(HEAD_VALUES))
    def head(self, head):
        """A head taken off, put on, swapped, or its ID contact open or shorted."""
        self._now("head", head)

    @rule(heads=st.lists(st.sampled_from(HEAD_VALUES), min_size=2, max_size=2, unique=True),
          gap_ms=st.integers(1, 400), count=st.integers(2, 40))
    def head_wobble(self, heads, gap_ms, count):
        """A head rocking on its contact: two readings alternating, then the last one stays."""
        for i in range(count):
            self._at(self.now_ms + i * gap_ms, "head", heads[i % 2])

    @rule(volts=st.one_of(st.floats(3.0, 4.2), st.sampled_from([3.0, 3.25, 3.4, 3.9])))
    def battery(self, volts):
        self._now("battery_v", round(volts, 3))

    @rule(pulse_ms=st.one_of(st.integers(1, 30), st.integers(1, 2000)))
    def usb_pulse(self, pulse_ms):
        self._now("usb", True)
        self._at(self.now_ms + pulse_ms, "usb", False)

    # --- serial ---------------------------------------------------------------------------------
    @rule(line=st.one_of(REQUEST, REQUEST, BAD_LINE))
    def serial(self, line):
        self._now("serial", line)

    @rule(lines=st.lists(REQUEST, min_size=2, max_size=6), gaps=st.lists(st.integers(0, 5), min_size=6))
    def serial_burst(self, lines, gaps):
        """Several requests within a few ms."""
        t = self.now_ms
        for line, gap in zip(lines, gaps, strict=False):
            self._at(t, "serial", line)
            t += gap

    @rule(level=LEVELS)
    def level_change(self, level):
        self._now("serial", json.dumps({"cmd": "set", "level": level}))

    @rule(delay_ms=st.integers(0, 200), level=LEVELS)
    def stop_then_set(self, delay_ms, level):
        """A stop, then a level change while it ramps down."""
        self._now("serial", '{"cmd": "stop"}')
        self._at(self.now_ms + delay_ms, "serial", json.dumps({"cmd": "set", "level": level}))

    @rule(levels=st.lists(LEVELS, min_size=2, max_size=2, unique=True), gap_ms=st.integers(1, 10),
          count=st.integers(4, 200))
    def set_flood(self, levels, gap_ms, count):
        """Two levels alternating every few ms."""
        for i in range(count):
            self._at(self.now_ms + i * gap_ms, "serial", json.dumps({"cmd": "set", "level": levels[i % 2]}))

    # --- hardware -------------------------------------------------------------------------------
    @rule(fault=st.sampled_from(MODEL_FAULTS + (None,)))
    def fault(self, fault):
        # single-fault safety: a new fault replaces the last one. Two at once can be beyond what
        # two sensors can tell apart (docs/hardware.md adds a hardware current limit).
        self._now("fault", None)
        self._now("fault", fault)

    @rule(how=st.sampled_from(["cut", "cut_during_write"]))
    def power_cut(self, how):
        self._now("power", how)

    @rule()
    def power_on(self):
        self._now("power", "on")

    # --- time -----------------------------------------------------------------------------------
    @rule(ms=WAIT_MS)
    def wait(self, ms):
        self._advance(ms)

    @rule(ms=st.integers(4000, 16_000))
    def long_wait(self, ms):
        self._advance(ms)


TestRoller = RollerMachine.TestCase
TestRoller.settings = settings(max_examples=300, stateful_step_count=30, deadline=None,
                               suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.slow
class TestRollerLong(RollerMachine.TestCase):
    """`pytest -m slow`: a longer hunt."""

    settings = settings(max_examples=1000, stateful_step_count=50, deadline=None,
                        suppress_health_check=[HealthCheck.too_slow])
