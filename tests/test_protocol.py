"""Serial protocol (C4, R13): parser, line buffer, every command, and its safety rules."""
import json
import subprocess

import pytest
from simdevice import Device

from host_tools import paths
from roller import programs
from roller.jsonline import Milli, dumps, parse
from roller.limits import HARD_MAX_UA, LINE_MAX_BYTES, PROBE_UA, RAMP_DOWN_MS, allowed_peak_ua
from roller.linebuf import LONG, LineBuffer

STATUS_KEYS = {"state", "level", "program", "contact", "ohm", "battery_v", "session_s", "fault"}

# (line, parsed object or None for an error): the parser's contract, on both runtimes
PARSE_CASES = [
    (b'{"cmd": "info"}', {"cmd": "info"}),
    (b' {"cmd":"set","level":3}\r', {"cmd": "set", "level": 3}),
    (b"{}", {}),
    (b'{"a": -0, "b": 1.5e2, "c": -2.5, "d": true, "e": false, "f": null}',
     {"a": 0, "b": 150.0, "c": -2.5, "d": True, "e": False, "f": None}),
    (b'{"s": "q\\"\\\\\\/\\b\\f\\n\\r\\t\\u0041"}', {"s": 'q"\\/\b\f\n\r\tA'}),
    (b'{"a": 999999999}', {"a": 999999999}),
    (b'{"a": 1764500000}', {"a": 1764500000}),  # ten digits: a unix time (`clock`)
    (b'{"a": 10000000000}', None),  # eleven digits: refused before int() sees it
    (b'{"a": 1e999}', None),
    (b'{"a": -1e10}', None),
    (b'{"a": NaN}', None),
    (b'{"a": Infinity}', None),
    (b'{"a": -Infinity}', None),
    (b'{"a": 01}', None),
    (b'{"a": 1.}', None),
    (b'{"a": .5}', None),
    (b'{"a": -}', None),
    (b'{"a": 1e}', None),
    (b'{"a": +1}', None),
    (b'{"a" 1}', None),  # MicroPython's json.loads takes this
    (b'{"a": 1,}', None),  # ... and this
    (b'{"a": 1} x', None),
    (b'{"a": 1}{"b": 2}', None),
    (b'{"a": 1, "a": 2}', None),
    (b'{"a": [1]}', None),
    (b'{"a": {"b": 1}}', None),
    (b'{"a": ' + b"[" * 120 + b"]" * 120 + b"}", None),
    (b"[" * 200, None),
    (b'["cmd", "info"]', None),
    (b'"info"', None),
    (b"42", None),
    (b"", None),
    (b"   ", None),
    (b'{"a": "\tx"}', None),  # raw control character
    (b'{"a": "\\x41"}', None),
    (b'{"a": "\\u00g0"}', None),
    (b'{"a": "\\u+0ff"}', None),
    (b'{"a": "abc}', None),
    (b'{"a": tru}', None),
    (b'{"a": truex}', None),
    (b'{"a": nul}', None),
    (b'{"caf\xc3\xa9": 1}', None),  # valid UTF-8, but no request needs more than ASCII
    (b'{"a": "\xff"}', None),
    (b"\x00", None),
    (b"{", None),
    (b'{"a":', None),
]


@pytest.mark.parametrize("line,expected", PARSE_CASES)
def test_parser(line, expected):
    obj, error = parse(line)
    if expected is None:
        assert obj is None and isinstance(error, str) and error
    else:
        assert error is None and obj == expected
        assert [type(v) for v in obj.values()] == [type(v) for v in expected.values()]


def test_parser_same_on_micropython(tmp_path):
    """The unix port gives the very same answers (objects and error texts) as CPython."""
    lines = [c[0] for c in PARSE_CASES]
    data = tmp_path / "lines.json"
    data.write_text(json.dumps([list(x) for x in lines]))
    script = tmp_path / "parse.py"
    script.write_text(
        "import sys, json\nsys.path.insert(0, %r)\nfrom roller.jsonline import parse, dumps\n"
        "for raw in json.load(open(%r)):\n    obj, err = parse(bytes(raw))\n"
        "    print(dumps([obj, err]))\n" % (paths.FIRMWARE, str(data))
    )
    out = subprocess.run([paths.micropython_exe(), str(script)], capture_output=True, text=True,
                         check=True)
    # compared as data: the runtimes escape \b and \f differently (responses never echo input)
    assert [json.loads(x) for x in out.stdout.splitlines()] == [list(parse(x)) for x in lines]


@pytest.mark.parametrize("values, as_written", [
    # a request's own floats, echoed: MicroPython's repr may give 0.9340000000000001 for 934 / 1000
    (list(range(-2000, 2000, 3)) + list(range(0, 700_000, 997)), "m / 1000"),
    # the firmware's own decimals (uptime, volts, Hz, history), integers in thousandths: the
    # boards' 32-bit floats would print an uptime of hours with wrong last digits
    ([0, 1, -1, 999, 1000, -1000, 3912, -2500, 86_400_000, 2**31 - 1] + list(range(-3000, 3000, 7)),
     "Milli(m)"),
])
def test_dumps_writes_thousandths_alike_on_both_runtimes(tmp_path, values, as_written):
    script = tmp_path / "milli.py"
    script.write_text("import sys\nsys.path.insert(0, %r)\nfrom roller.jsonline import Milli, dumps\n"
                      "print(dumps([%s for m in %r]))\n" % (paths.FIRMWARE, as_written, values))
    out = subprocess.run([paths.micropython_exe(), str(script)], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == json.dumps([m / 1000 for m in values])
    here = [Milli(m) if as_written == "Milli(m)" else m / 1000 for m in values]
    assert dumps(here) == out.stdout.strip()


def test_dumps_and_parse_call_pace_between_keys():
    """The board's control tick runs there when due (hal.common.Pacer): a long answer never holds it."""
    calls = []
    text = dumps({"ok": True, "a": {"x": 1, "y": [2, {"z": None}]}, "b": "s"}, lambda: calls.append(1))
    assert json.loads(text) == {"ok": True, "a": {"x": 1, "y": [2, {"z": None}]}, "b": "s"}
    assert len(calls) == 8  # ok, a, x, y, 2, {z}, z, b
    calls.clear()
    assert parse(b'{"cmd": "set", "level": 3}', lambda: calls.append(1)) == ({"cmd": "set", "level": 3}, None)
    assert len(calls) == 3  # the line, then each key


def test_dumps_orders_keys():
    text = dumps({"z": 1, "ok": True, "a": [None, "x", 0.25]})
    assert text == '{"ok": true, "a": [null, "x", 0.25], "z": 1}'


# --- line buffer ----------------------------------------------------------------------------
def _reader(chunks):
    chunks = list(chunks)
    return lambda: chunks.pop(0) if chunks else None


def _poll(buf, read):
    """What Protocol.service does each call."""
    if buf.chunk is None:
        chunk = read()
        if chunk:
            buf.feed(chunk)
    return buf.line()


def _drain(buf, read, calls=100):
    return [x for x in (_poll(buf, read) for _ in range(calls)) if x is not None]


def test_linebuffer_joins_chunks_and_splits_lines():
    buf = LineBuffer(16)
    read = _reader([b'{"cmd"', b': 1}\nab\n\ncd', b"e\n"])
    assert _drain(buf, read) == [b'{"cmd": 1}', b"ab", b"", b"cde"]


def test_linebuffer_drops_an_overlong_line_whole_and_once():
    buf = LineBuffer(8)
    read = _reader([b"12345678\n", b"123456789", b"abcdef\nok\n", b"x" * 30, b"y" * 30 + b"\n"])
    assert _drain(buf, read) == [b"12345678", LONG, b"ok", LONG]


def test_linebuffer_holds_a_chunk_until_its_lines_are_taken():
    buf = LineBuffer(8)
    buf.feed(b"a\nb\nc")
    assert buf.chunk is not None and buf.line() == b"a"
    assert buf.line() == b"b" and buf.line() is None and buf.chunk is None
    buf.feed(b"d\n")
    assert buf.line() == b"cd" and buf.chunk is None


# --- commands ---------------------------------------------------------------------------------
@pytest.fixture
def dev(tmp_path):
    return Device(str(tmp_path / "fs"), skin_ohm=20_000)


def test_info(dev):
    r = dev.request({"cmd": "info"})
    assert r["ok"] is True and r["board"] == "sim" and r["hard_max_ua"] == HARD_MAX_UA
    assert r["line_max"] == LINE_MAX_BYTES and r["programs"] == list(programs.NAMES)
    assert set(r["commands"]) == {
        "info", "status", "set", "start", "stop", "log", "selftest", "stream", "bench",
        "history", "clock",
    }


def test_status_has_the_c4_fields(dev):
    r = dev.request({"cmd": "status"})
    assert set(r) >= STATUS_KEYS
    assert r["state"] == "OFF" and r["contact"] is False and r["ohm"] is None and r["fault"] is None


def test_status_reports_usb_and_charging(dev):
    dev.model.usb = True
    dev.step(20)
    r = dev.request({"cmd": "status"})
    assert r["usb"] is True and r["state"] == "CHARGING"
    dev.model.usb = False
    dev.step(20)
    assert dev.request({"cmd": "status"})["usb"] is False


def test_set_applies_all_or_nothing(dev):
    r = dev.request({"cmd": "set", "level": 4, "program": "eye", "session_s": 120, "cue_s": 10})
    assert r["ok"]
    before = dev.app.settings.as_dict()
    for bad in (
        {"cmd": "set"},
        {"cmd": "set", "level": 2, "program": "nope"},
        {"cmd": "set", "level": 6},
        {"cmd": "set", "level": 0},
        {"cmd": "set", "level": True},
        {"cmd": "set", "level": 2.0},
        {"cmd": "set", "level": "2"},
        {"cmd": "set", "level": None},
        {"cmd": "set", "session_s": 59},
        {"cmd": "set", "session_s": 901},
        {"cmd": "set", "cue_s": 16},
        {"cmd": "set", "level": 2, "volume": 3},
        {"cmd": "set", "program": 1},
    ):
        r = dev.request(bad)
        assert r["ok"] is False and r["error"], bad
        assert dev.app.settings.as_dict() == before, bad


def test_bad_lines_each_get_one_error(dev):
    for line in (b"x" * 300, b"\xff\xfe", b"{", b"[]", b'{"cmd": 1}', b'{"level": 1}',
                 b'{"cmd": "fly"}', b'{"cmd": "info", "x": 1}', b'{"cmd": "stream", "on": 1}', b""):
        r = dev.request(line)
        assert r["ok"] is False and isinstance(r["error"], str), line
    assert dev.request(b"y" * 300)["error"] == "line too long (max 256 bytes)"
    assert dev.request(b'{"cmd": "info"}' + b" " * (LINE_MAX_BYTES - 15))["ok"] is True


def test_start_and_stop_a_session(dev):
    r = dev.request({"cmd": "start"})
    assert r == {"ok": True, "state": "SELFTEST"}
    assert dev.request({"cmd": "start"})["ok"] is False  # not from SELFTEST
    dev.step(1500)
    assert dev.app.state == 3  # RUN
    assert dev.request({"cmd": "stop"})["ok"] is True
    dev.step(RAMP_DOWN_MS + 100)  # the ramp, then the end of the period (lift: 100 ms)
    assert dev.request({"cmd": "status"})["state"] == "OFF"
    assert dev.request({"cmd": "stop"}) == {"ok": True, "state": "OFF"}


def test_selftest_is_a_check_that_returns_to_off(dev):
    assert dev.request({"cmd": "selftest"}) == {"ok": True, "state": "SELFTEST"}
    assert dev.request({"cmd": "status"})["selftest"] == {"result": "running"}
    dev.step(200)
    r = dev.request({"cmd": "status"})
    assert r["state"] == "OFF" and r["selftest"] == {"result": "passed", "reason": None}
    assert dev.model.delivered_ua == 0


def test_stream_sends_telemetry_at_10_hz(dev):
    dev.request({"cmd": "start"})
    assert dev.request({"cmd": "stream", "on": True}) == {"ok": True, "stream": True}
    dev.step(2000)
    telemetry = [x for x in dev.lines if "ok" not in x]
    assert len(telemetry) == 20
    assert set(telemetry[-1]) == {"t", "state", "ua", "v", "ohm", "level"}
    assert telemetry[-1]["state"] == "RUN" and abs(telemetry[-1]["ua"]) <= 100
    assert dev.request({"cmd": "stream", "on": False})["ok"]
    dev.step(500)
    assert len([x for x in dev.lines if "ok" not in x]) == 20


def test_log_lists_usage_and_faults(dev):
    r = dev.request({"cmd": "log"})
    assert r == {
        "ok": True, "boot": 1, "sessions": 0, "stim_s": 0, "last_fault": None, "entries": []
    }


# --- bench ------------------------------------------------------------------------------------
@pytest.mark.parametrize("args,error", [
    ({"shape": "saw", "hz": 10, "ua": 100}, "shape must be one of square, sine, triangle, burst"),
    ({"shape": "sine", "hz": 101, "ua": 100}, "hz must be 0.5..100 for sine"),
    ({"shape": "triangle", "hz": 100.5, "ua": 100}, "hz must be 0.5..100 for triangle"),
    ({"shape": "square", "hz": 251, "ua": 100}, "hz must be 0.5..250 for square"),
    ({"shape": "square", "hz": 0.4, "ua": 100}, "hz must be 0.5..250 for square"),
    ({"shape": "square", "hz": True, "ua": 100}, "hz must be a number"),
    ({"shape": "square", "hz": 10, "ua": 501}, "ua must be an integer 15..500"),
    ({"shape": "square", "hz": 10, "ua": 14}, "ua must be an integer 15..500"),
    ({"shape": "square", "hz": 10, "ua": 100.0}, "ua must be an integer 15..500"),
    ({"shape": "square", "hz": 10, "ua": True}, "ua must be an integer 15..500"),
    ({"shape": "square", "hz": 10}, "ua must be an integer 15..500"),
])
def test_bench_rejects_bad_arguments(dev, args, error):
    r = dev.request(dict(args, cmd="bench"))
    assert r == {"ok": False, "error": error}
    assert dev.app.state == 0 and dev.app.bench_ua == 0


def _peak_over(dev, ms):
    peak = [0]

    def check(d):
        peak[0] = max(peak[0], abs(d.model.delivered_ua))
    dev.step(ms, check)
    return peak[0]


def test_bench_runs_a_fixed_waveform_under_the_safety_rules(dev):
    dev.model.set_skin(0)  # no load yet: nothing above the probe level
    r = dev.request({"cmd": "bench", "shape": "square", "hz": 100, "ua": 450})
    assert r == {"ok": True, "state": "SELFTEST", "shape": "square", "hz": 100.0, "ua": 450,
                 "level": 1, "program": "lift"}
    assert _peak_over(dev, 1000) <= PROBE_UA
    dev.model.set_skin(10_000)  # the dummy load: contact confirms, soft start to 450 uA
    assert _peak_over(dev, 3000) <= allowed_peak_ua(450)
    assert dev.request({"cmd": "status"})["bench"] == {"shape": "square", "hz": 100.0, "ua": 450}
    assert _peak_over(dev, 200) >= 440
    # a settings change ends bench mode at the end of the period (100 Hz: 10 ms), the program
    # comes back
    assert dev.request({"cmd": "set", "level": 1})["ok"] is True
    assert dev.request({"cmd": "status"})["bench"] is None
    dev.step(10)
    assert _peak_over(dev, 2000) <= allowed_peak_ua(80)
    assert dev.request({"cmd": "bench", "shape": "sine", "hz": 33.3, "ua": 120})["hz"] == 33.333
    dev.request({"cmd": "stop"})
    dev.step(RAMP_DOWN_MS + 100)
    assert dev.request({"cmd": "status"})["state"] == "OFF"


# --- the built-in protocol scenario on both runtimes ------------------------------------------
def test_protocol_scenario_same_on_both_runtimes(sim):
    with open(paths.SCENARIOS + "/protocol.json") as f:
        doc = json.load(f)
    traces = {rt: sim(doc, rt) for rt in ("cpython", "micropython")}
    body = {rt: [e for e in t if e["kind"] not in ("header", "end")] for rt, t in traces.items()}
    assert body["cpython"] == body["micropython"]
    serial = [e for e in body["micropython"] if e["kind"] == "serial"]
    asked = [e for e in serial if e["dir"] == "in"]
    answers = [json.loads(e["line"]) for e in serial if e["dir"] == "out"]
    answers = [a for a in answers if "ok" in a]  # telemetry lines carry no "ok"
    assert len(answers) == len(asked)
    by_request = dict(zip([e["t"] for e in asked], answers, strict=True))
    assert by_request[0.3] == {"ok": False, "error": "level must be 1..5"}
    assert by_request[4.5]["ok"] and by_request[7.0]["bench"]["ua"] == 300
    assert by_request[9.5]["selftest"]["result"] == "passed" and by_request[9.5]["state"] == "OFF"
    assert by_request[10.5]["fault"] == "SELFTEST"
    assert by_request[11.6]["ok"] and by_request[12.1]["level"] == 3  # torn write: the old level
    assert by_request[13.8]["level"] == 4  # a completed write survives the cut
    assert by_request[13.7]["sessions"] == 2 and by_request[13.7]["boot"] == 3
    peak = max(abs(e["ua"]) for e in body["cpython"] if e["kind"] == "out")
    assert 290 <= peak <= allowed_peak_ua(300)


def test_scenario_serial_must_be_one_line(tmp_path):
    from boards.sim.scenario import ScenarioError
    from boards.sim.scenario_check import check

    for bad, why in (("a\nb", "expected one line"), ("\udc80", "lone surrogate")):
        doc = {"name": "x", "duration_s": 1, "events": [{"t": 0, "serial": bad}]}
        with pytest.raises(ScenarioError, match=r"events\[0\]\.serial: .*" + why):
            check(doc)


HEAP_SCRIPT = """
import sys
sys.path.insert(0, %(firmware)r)
sys.path.insert(0, %(root)r)
import micropython
from boards.sim import deployfs
from boards.sim.board import SimBoard
from boards.sim.flash import Flash
from boards.sim.model import Model
from boards.sim.trace import Trace
from roller.app import App

class Sink:
    def write(self, s):
        pass

model = Model(1)
model.set_skin(20000)
flash = Flash(%(flash)r)
deployfs.prepare(flash, %(firmware)r)
board = SimBoard(model, flash, Trace(Sink()))
app = App(board)
board.console_in.append(b'{"cmd": "start"}\\n')
for i in range(3000):
    app.tick(); app.service(); model.step(); board.advance_ms(1)
allocated = 0
for i in range(2000):
    app.tick(); model.step(); board.advance_ms(1)
    micropython.heap_lock()
    try:
        app.service()
    except MemoryError:
        allocated += 1
    micropython.heap_unlock()
print(app.state, allocated)
"""


def test_idle_service_allocates_nothing_on_micropython(tmp_path):
    """service() runs after every tick: with no input and nothing to store it must not allocate."""
    script = tmp_path / "heap.py"
    script.write_text(HEAP_SCRIPT % {"firmware": paths.FIRMWARE, "root": paths.ROOT,
                                     "flash": str(tmp_path / "fs")})
    out = subprocess.run([paths.micropython_exe(), "-X", "heapsize=256k", str(script)],
                         capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["3", "0"]  # in RUN, no allocation in 2000 calls
