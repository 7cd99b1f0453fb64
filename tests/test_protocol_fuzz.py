"""R13 fuzz: serial input can never crash the firmware, exceed a cap, or change the output
except through a valid command.

Lockstep oracle: device A gets every fuzzed line; device B, identical otherwise, gets only the
lines A accepted, in the same millisecond. Any difference in outputs, state or settings means
a refused line changed something.
"""
import json
import random
import shutil
import tempfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from simdevice import Device

from roller import programs
from roller.jsonline import parse
from roller.limits import HARD_MAX_UA, LINE_MAX_BYTES, allowed_peak_ua, level_cap_ua
from roller.protocol import COMMANDS

FIELDS = ("cmd", "level", "program", "session_s", "cue_s", "on", "shape", "hz", "ua", "x", "")
NAMES = programs.NAMES + programs.SHAPE_NAMES + tuple(COMMANDS) + ("", "LIFT", "sine ")
SCALARS = st.one_of(
    st.integers(-5, 1000), st.integers(-(2**70), 2**70), st.booleans(), st.none(),
    st.floats(allow_nan=True, allow_infinity=True), st.floats(0, 300), st.sampled_from(NAMES),
    st.text(max_size=12),
)
VALUES = st.one_of(
    SCALARS,
    st.lists(SCALARS, max_size=3),
    st.dictionaries(st.text(max_size=4), SCALARS, max_size=2),
)


def _dump(obj):
    return json.dumps(obj, allow_nan=True).encode()  # NaN and Infinity tokens included


ARGS = {
    "set": st.fixed_dictionaries({}, optional={
        "level": st.integers(0, 6), "program": st.sampled_from(NAMES),
        "session_s": st.integers(50, 950), "cue_s": st.integers(9, 16)}),
    "bench": st.fixed_dictionaries({}, optional={
        "shape": st.sampled_from(NAMES), "hz": st.one_of(st.integers(0, 300), st.floats(0, 300)),
        "ua": st.integers(-5, 600)}),
    "stream": st.fixed_dictionaries({}, optional={"on": VALUES}),
}
COMMAND = st.sampled_from(sorted(COMMANDS) * 2 + ["bench", "set"] * 3).flatmap(
    lambda c: ARGS.get(c, st.just({})).map(lambda a: dict(a, cmd=c)))

SMOOTH = st.sampled_from(("sine", "triangle"))
VALID = st.one_of(
    st.fixed_dictionaries({"cmd": st.just("set")}, optional={
        "level": st.integers(1, 5), "program": st.sampled_from(programs.NAMES),
        "session_s": st.integers(60, 900), "cue_s": st.integers(10, 15)}),
    st.fixed_dictionaries({"cmd": st.just("bench"), "shape": st.sampled_from(("square", "burst")),
                           "hz": st.floats(0.5, 250), "ua": st.integers(10, 500)}),
    st.fixed_dictionaries({"cmd": st.just("bench"), "shape": SMOOTH,
                           "hz": st.integers(1, 100), "ua": st.integers(10, 500)}),
    st.sampled_from(("info", "status", "start", "stop", "log", "selftest")).map(
        lambda c: {"cmd": c}),
    st.booleans().map(lambda on: {"cmd": "stream", "on": on}),
)


def _mutate(data):
    line, pos, byte, kind = data
    pos %= len(line) + 1
    if kind == 0:
        return line[:pos] + bytes([byte]) + line[pos:]
    if kind == 1:
        return line[:pos] + line[pos + 1:]
    return line[:pos] + bytes([byte]) + line[pos + 1:]


LINES = st.one_of(
    VALID.map(_dump),
    VALID.map(_dump),
    VALID.map(_dump),
    COMMAND.map(_dump),
    st.dictionaries(st.sampled_from(FIELDS), VALUES, max_size=4).map(_dump),
    st.tuples(COMMAND.map(_dump), st.integers(0, 300), st.integers(0, 255), st.integers(0, 2)).map(
        _mutate),
    st.integers(1, 150).map(lambda n: b'{"cmd": "set", "level": ' + b"[" * n + b"]" * n + b"}"),
    st.integers(1, 400).map(lambda n: b"[" * n),
    st.integers(8, 300).map(
        lambda n: b'{"cmd": "bench", "shape": "square", "hz": 10, "ua": ' + b"9" * n + b"}"),
    st.sampled_from(
        [b"NaN", b"Infinity", b"-Infinity", b"1e999", b"-1e400", b"1e-400", b"-0.0", b"4.2e1"]).map(
        lambda x: b'{"cmd": "bench", "shape": "sine", "hz": ' + x + b', "ua": 100}'),
    st.integers(LINE_MAX_BYTES - 20, LINE_MAX_BYTES + 40).map(
        lambda n: (b'{"cmd": "set", "level": 2}' + b" " * n)[:n]),
    st.binary(max_size=600),
)
GAPS_MS = (1, 3, 40, 150, 700, 2000)


class Lockstep:
    def __init__(self, skin_ohm, start):
        self.dir = tempfile.mkdtemp(prefix="roller-fuzz-")
        self.a = Device(self.dir + "/a", skin_ohm=skin_ohm)
        self.b = Device(self.dir + "/b", skin_ohm=skin_ohm)
        self.asked_ua = 0  # the bench current asked for by the line in flight
        # (ms, cap) of every cap accepted: a change applies at the end of the period running,
        # so an older cap may hold for up to one period (2 s at 0.5 Hz)
        self.caps = [(0, level_cap_ua(1, programs.PROGRAMS[0].peak_ua))]
        self.now_ms = 0
        self.lines = 0
        self.accepted = 0  # lines A accepted, so B got them too
        if start:
            self.both(b'{"cmd": "start"}')
            self.step(1500)

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def both(self, line):
        self.a.send(line)
        self.b.send(line)
        self.step(1)

    def send(self, line):
        """One line to A; to B only when A accepted it; both in the same ms."""
        a, b = self.a, self.b
        n_text = len(a.text)
        n_resp = len(a.responses())
        request, _ = parse(line)
        asked = request.get("ua") if isinstance(request, dict) and request.get("cmd") == "bench" else 0
        self.asked_ua = asked if isinstance(asked, int) else 0
        a.send(line)
        a.step(1, self.check)
        new = a.responses()[n_resp:]
        assert len(new) == 1, (line, new)  # exactly one response, at once
        response = new[0]
        assert isinstance(response["ok"], bool)
        assert response["ok"] or (isinstance(response["error"], str) and response["error"])
        for text in a.text[n_text:]:
            text.encode("ascii")
        if response["ok"]:
            self.accepted += 1
            b.send(line)
            s = a.app.settings
            if request["cmd"] == "bench":
                self.caps.append((self.now_ms, min(request["ua"], HARD_MAX_UA)))
            elif request["cmd"] == "set":
                self.caps.append((self.now_ms, level_cap_ua(s.level, programs.PROGRAMS[s.program].peak_ua)))
        self.asked_ua = 0
        b.step(1)
        self.compare()
        self.lines += 1

    def step(self, ms):
        for _ in range(ms):
            self.a.step(1, self.check)
            self.b.step(1)
            self.compare()

    def check(self, dev):
        """Caps (R1) on A after every ms, whatever it was sent: the newest cap accepted, or one
        accepted within the last period."""
        self.now_ms += 1
        ua = abs(dev.model.delivered_ua)
        assert ua <= HARD_MAX_UA
        caps = self.caps
        # a cap replaced at `replaced_ms` may still run for one period after that
        recent = [caps[i][1] for i in range(len(caps) - 1) if self.now_ms - caps[i + 1][0] <= 2 * 1000 + 2]
        cap = max(recent + [caps[-1][1], self.asked_ua])
        assert ua <= allowed_peak_ua(cap), (ua, cap)

    def compare(self):
        a, b = self.a, self.b
        ma, mb = a.model, b.model
        assert (ma.delivered_ua, list(ma.pins), ma.electrode_mv) == (
            mb.delivered_ua, list(mb.pins), mb.electrode_mv)
        for name in ("state", "fault", "bench_ua", "pending"):
            assert getattr(a.app, name) == getattr(b.app, name), name
        assert a.app.settings.as_dict() == b.app.settings.as_dict()

    def finish(self):
        self.step(50)
        accepted = [x for x in self.a.lines if x.get("ok") is not False]
        assert accepted == self.b.lines  # same answers to the same valid lines, same telemetry


def test_fuzzed_lines_never_crash_exceed_a_cap_or_change_output():
    sent = {"lines": 0, "accepted": 0}

    @settings(max_examples=160, deadline=None, suppress_health_check=list(HealthCheck))
    @given(script=st.lists(st.tuples(LINES, st.sampled_from(GAPS_MS)), min_size=1, max_size=12),
           start=st.booleans(), skin_ohm=st.sampled_from((0, 20_000, 10_000)))
    def fuzz(script, start, skin_ohm):
        run = Lockstep(skin_ohm, start)
        try:
            for line, gap_ms in script:
                run.send(line.replace(b"\n", b" "))
                run.step(gap_ms)
            run.finish()
        finally:
            run.close()
        sent["lines"] += run.lines
        sent["accepted"] += run.accepted

    fuzz()
    # the fuzz's reach: refused lines are what R13 is about, and the lockstep compares A with B
    # only as far as B is sent accepted lines; each kind must be a fair share of what was sent
    refused = sent["lines"] - sent["accepted"]
    assert min(sent["accepted"], refused) >= sent["lines"] // 10 > 0, sent


@settings(max_examples=3000, deadline=None)
@given(st.binary(max_size=300))
def test_the_parser_never_raises(line):
    obj, error = parse(line)
    assert (obj is None) != (error is None)


# --- the same through the MicroPython unix port, as scenario serial events ----------------------
def _scenario_lines(rng, n):
    """Text lines (a scenario's serial events are text) of every kind above."""
    words = [json.dumps(x) for x in programs.NAMES + programs.SHAPE_NAMES + tuple(COMMANDS)]
    atoms = words + ["1", "3", "-1", "2.5", "1e999", "NaN", "-Infinity", "true", "null", "[]", "{}",
                     '"\\u00e9"', "99999999999", '"x"', "100", "0.5", "250", "500", "501"]
    keys = ['"%s"' % f for f in FIELDS]
    lines = []
    for _ in range(n):
        kind = rng.random()
        if kind < 0.5:
            cmd = rng.choice(sorted(COMMANDS))
            parts = ['"cmd": "%s"' % cmd] + ["%s: %s" % (rng.choice(keys), rng.choice(atoms))
                                              for _ in range(rng.randint(0, 3))]
            line = "{" + ", ".join(parts) + "}"
        elif kind < 0.6:
            line = '{"cmd": "bench", "shape": %s, "hz": %s, "ua": %d}' % (
                rng.choice(words), rng.choice(["10", "50", "100", "0.5", "33.3"]),
                rng.randint(1, 500))
        elif kind < 0.7:
            line = '{"cmd": "set", "level": %d, "program": %s}' % (
                rng.randint(1, 5), rng.choice(words))
        elif kind < 0.8:
            chars = '{}[]":, 0123456789abcdeflnrstu\\\té€'
            line = "".join(rng.choice(chars) for _ in range(rng.randint(0, 40)))
        elif kind < 0.9:
            depth = rng.randint(1, 200)
            line = '{"cmd": "set", "level": ' + "[" * depth + "]" * depth + "}"
        else:
            line = '{"cmd": "status", "x": "%s"}' % ("a" * rng.randint(200, 400))
        lines.append(line)
    return lines


def test_micropython_fuzz_matches_cpython(sim):
    rng = random.Random(13)
    lines = _scenario_lines(rng, 160)
    events = [{"t": 0.1, "skin": {"ohm": 20000}}, {"t": 0.2, "serial": '{"cmd": "start"}'}]
    t = 2.0
    for line in lines:
        events.append({"t": round(t, 3), "serial": line})
        t += rng.choice((0.005, 0.02, 0.1, 0.4))
    doc = {"name": "fuzz", "duration_s": round(t + 1, 3), "seed": 4, "events": events}
    traces = {rt: sim(doc, rt) for rt in ("cpython", "micropython")}
    strip = [[e for e in traces[rt] if e["kind"] not in ("header", "end")] for rt in traces]
    assert strip[0] == strip[1]
    trace = traces["micropython"]
    pending = 0
    answered = 0
    for e in trace:
        if e["kind"] == "serial" and e["dir"] == "in":
            assert pending == 0
            pending = 1
        elif e["kind"] == "serial":
            line = json.loads(e["line"])
            if "ok" in line:
                assert pending == 1 and isinstance(line["ok"], bool)
                pending = 0
                answered += 1
        elif e["kind"] == "out":
            assert abs(e["ua"]) <= HARD_MAX_UA
    assert answered == len(lines) + 1 and pending == 0
