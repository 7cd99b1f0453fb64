"""Unusual but valid scenario files (issue 14): each runs or is refused with one line, the same
answer on both runtimes, and a refused or failed run leaves no trace file behind."""
import json

import pytest

from boards.sim import scenario_check
from host_tools import cmd_sim, trace_read
from host_tools.__main__ import main

RUNTIMES = ("cpython", "micropython")
INFO = '{"cmd": "info"}'
STATUS = '{"cmd": "status"}'


def _sim(tmp_path, capsys, scenario, runtime, *flags):
    """`sim` in process on a scenario (a dict, or the file's text): (exit code, stderr with the
    scenario's path as SCENARIO, the trace's events or None when there is no trace file)."""
    path = tmp_path / "scenario.json"
    path.write_text(scenario if isinstance(scenario, str) else json.dumps(scenario), encoding="utf-8")
    trace = tmp_path / "trace.jsonl"
    code = main(["sim", str(path), "--runtime", runtime, "--quiet", "--trace", str(trace), *flags])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    err = err.replace(str(path), "SCENARIO")
    left = sorted(p.name for p in tmp_path.iterdir() if p.name != "scenario.json")
    if code:
        assert left == [], "a failed run left %s" % left
        assert err.count("\n") == 1 and err.startswith("sim: error: "), err
        return code, err, None
    assert left == ["trace.jsonl"]
    return code, err, trace_read.load(str(trace))


def _serial(events, direction):
    return [e for e in events if e["kind"] == "serial" and e["dir"] == direction]


def _doc(events, **fields):
    doc = {"name": "odd", "duration_s": 2, "seed": 3, "events": events}
    doc.update(fields)
    return doc


# --- deep nesting ------------------------------------------------------------------------------
@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("where", ["description", "events"])
def test_deep_nesting_is_refused_in_one_line(tmp_path, capsys, runtime, where):
    deep = "[" * 100_000 + "]" * 100_000
    text = ('{"name": "deep", "duration_s": 1, "events": [], "description": %s}' % deep
            if where == "description" else '{"name": "deep", "duration_s": 1, "events": [%s]}' % deep)
    code, err, _ = _sim(tmp_path, capsys, text, runtime)
    assert code == 2 and "nested deeper than" in err


# --- text beyond the Basic Multilingual Plane, and text that is no text ----------------------------
EMOJI_TEXT = r'{"name": "smile \ud83d\ude00", "duration_s": 1, "events": [' \
             r'{"t": 0.1, "serial": "{\"cmd\": \"set\", \"program\": \"\ud83d\ude00\"}"}]}'


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_an_escaped_emoji_runs_and_its_trace_reads_back(tmp_path, capsys, runtime):
    code, err, events = _sim(tmp_path, capsys, EMOJI_TEXT, runtime)
    assert code == 0, err
    assert events[0]["scenario"] == "smile \U0001F600"
    assert [e["line"] for e in _serial(events, "in")] == ['{"cmd": "set", "program": "\U0001F600"}']
    assert [json.loads(e["line"]) for e in _serial(events, "out")] == [
        {"ok": False, "error": "not ASCII"}]


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize(("field", "doc"), [
    ("name", _doc([], name="half \ud800")),
    ("events[0].serial", _doc([{"t": 0.1, "serial": "\ud83d"}])),
    ("events[1].serial_raw", _doc([{"t": 0.1, "serial": INFO}, {"t": 0.2, "serial_raw": "x\ude00\n"}])),
])
def test_a_lone_surrogate_is_refused_naming_the_field(tmp_path, capsys, runtime, field, doc):
    code, err, _ = _sim(tmp_path, capsys, doc, runtime)
    assert code == 2 and err.startswith("sim: error: scenario SCENARIO: %s: " % field) and "surrogate" in err


# --- size: many events, long lines ------------------------------------------------------------
def _rolling_session(n_events):
    """A realistic large scenario: switch on, then rolling over the face (the skin's resistance
    changes every 10 ms, a lift-off now and then) with a status poll every 50th event."""
    events = [{"t": 0.5, "button": "click"}, {"t": 1.0, "skin": {"ohm": 20_000}}]
    for i in range(n_events - len(events)):
        t = round(1.5 + i * 0.01, 3)
        if i % 50 == 49:
            events.append({"t": t, "serial": STATUS})
        elif i % 700 == 698:
            events.append({"t": t, "skin": None})
        else:
            events.append({"t": t, "skin": {"ohm": 15_000 + (i * 7919) % 20_000, "nf": i % 3 * 10}})
    return {"name": "rolling", "duration_s": round(n_events * 0.01 + 3, 3), "seed": 5,
            "settings": {"level": 3}, "events": events}


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_5000_events_run_to_the_end(tmp_path, capsys, runtime):
    doc = _rolling_session(5000)
    assert len(json.dumps(doc)) > 200_000
    code, err, events = _sim(tmp_path, capsys, doc, runtime)
    assert code == 0, err
    assert events[-1]["kind"] == "end" and events[-1]["t"] == doc["duration_s"]
    polls = sum(1 for e in doc["events"] if "serial" in e)
    assert len(_serial(events, "in")) == polls
    answers = [json.loads(e["line"]) for e in _serial(events, "out")]
    assert len(answers) == polls and all(a["ok"] for a in answers)
    states = [a["state"] for a in answers]
    assert set(states[5:]) == {"RUN", "PAUSED"} and states.count("RUN") > 80


def test_5000_events_give_the_same_trace_on_both_runtimes(tmp_path, capsys):
    doc = _rolling_session(5000)
    traces = []
    for runtime in RUNTIMES:
        code, err, events = _sim(tmp_path, capsys, doc, runtime)
        assert code == 0, err
        traces.append([e for e in events if e["kind"] not in ("header", "end")])
    assert len(traces[0]) > 1000 and traces[0] == traces[1]


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("n_bytes", [10_000, "limit"])
def test_a_long_serial_line_runs_and_is_refused_by_the_device(tmp_path, capsys, runtime, n_bytes):
    n_bytes = scenario_check.MAX_TEXT_BYTES if n_bytes == "limit" else n_bytes
    line = '{"cmd": "info", "pad": "%s"}' % ("x" * (n_bytes - 26))
    assert len(line) == n_bytes
    code, err, events = _sim(tmp_path, capsys, _doc([{"t": 0.1, "serial": line}, {"t": 0.2, "serial": INFO}]),
                             runtime)
    assert code == 0, err
    assert [e["line"] for e in _serial(events, "in")] == [line, INFO]
    answers = [json.loads(e["line"]) for e in _serial(events, "out")]
    assert answers[0] == {"ok": False, "error": "line too long (max 256 bytes)"} and answers[1]["ok"]


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("field", ["name", "serial", "serial_raw"])
def test_text_over_the_limit_is_refused_naming_it(tmp_path, capsys, runtime, field):
    limit = scenario_check.MAX_TEXT_BYTES
    text = "\u00e9" * (limit // 2) + "x"  # two bytes each in UTF-8: the limit is in bytes
    doc = _doc([], name=text) if field == "name" else _doc([{"t": 0.1, field: text}])
    code, err, _ = _sim(tmp_path, capsys, doc, runtime)
    where = "name" if field == "name" else "events[0].%s" % field
    assert code == 2 and err == "sim: error: scenario SCENARIO: %s: %d bytes, over the limit of %d\n" % (
        where, limit + 1, limit)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_writes_beyond_the_receive_buffer_are_lost_and_marked(tmp_path, capsys, runtime):
    """The device reads one write per ms: what a scenario sends faster waits in the receive
    buffer (board.RX_BUFFER_BYTES), and a write that does not fit is lost, the same on both
    runtimes."""
    from boards.sim.board import RX_BUFFER_BYTES

    line = '{"cmd": "info", "pad": "%s"}' % ("x" * 9974)  # 10,000 bytes and a newline
    n_fit = RX_BUFFER_BYTES // 10_001
    events = [{"t": 0.5, "serial": line}] * (n_fit + 2) + [{"t": 0.6, "serial": INFO}]
    code, err, trace = _sim(tmp_path, capsys, _doc(events), runtime)
    assert code == 0, err
    assert [e.get("lost", False) for e in _serial(trace, "in")] == [False] * n_fit + [True, True, False]
    answers = [json.loads(e["line"]) for e in _serial(trace, "out")]
    assert [a.get("error") for a in answers] == ["line too long (max 256 bytes)"] * n_fit + [None]


def test_long_writes_as_fast_as_a_scenario_can_send_them_run_alike(tmp_path, capsys):
    """The longest writes, 1 ms apart, many in one ms, and while the loop hangs: the unix
    port's heap holds them (no MemoryError) and both runtimes give the same trace."""
    limit = scenario_check.MAX_TEXT_BYTES
    line = '{"cmd": "info", "pad": "%s"}' % ("x" * (limit - 26))
    events = [{"t": 0.1 + i / 1000, ("serial", "serial_raw")[i % 2]: line} for i in range(40)]
    events += [{"t": 0.5, "serial": line}] * 30
    events += [{"t": 1.0, "fault": "loop_hang"}] + [{"t": 1.1 + i / 1000, "serial": line} for i in range(60)]
    traces = []
    for runtime in RUNTIMES:
        code, err, trace = _sim(tmp_path, capsys, _doc(events, duration_s=2), runtime)
        assert code == 0, err
        traces.append([e for e in trace if e["kind"] not in ("header", "end")])
    assert traces[0] == traces[1]
    lost = [e.get("lost", False) for e in _serial(traces[0], "in")]
    assert lost.count(False) >= 40 and lost.count(True) >= 80


def test_a_full_heap_is_named_and_leaves_no_trace(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(cmd_sim, "HEAPSIZE_KB", 24)
    code, err, _ = _sim(tmp_path, capsys, _doc([{"t": 0.5, "button": "click"}]), "micropython")
    assert code == 1
    assert "heap (-X heapsize=24k) is full" in err and "--runtime cpython" in err


# --- serial_raw: bytes without the newline ----------------------------------------------------------
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_lines_split_across_raw_writes_get_the_same_answers(tmp_path, capsys, runtime):
    whole = _doc([{"t": 0.2, "serial": INFO}, {"t": 0.3, "serial": STATUS}])
    split = _doc([{"t": 0.1, "serial_raw": '{"cmd": '},
                  {"t": 0.2, "serial_raw": '"info"}\n{"cmd": "sta'},
                  {"t": 0.25, "serial_raw": "tu"},
                  {"t": 0.3, "serial_raw": 's"}\n'},
                  {"t": 0.4, "serial_raw": INFO}])  # half a line: never answered
    _, _, expected = _sim(tmp_path, capsys, whole, runtime)
    code, err, events = _sim(tmp_path, capsys, split, runtime)
    assert code == 0, err
    assert _serial(events, "out") == _serial(expected, "out") and len(_serial(events, "out")) == 2
    assert [(e["line"], e.get("raw")) for e in _serial(events, "in")] == [
        (e["serial_raw"], True) for e in split["events"]]
    assert all("raw" not in e for e in _serial(expected, "in"))


def test_the_oracle_follows_lines_across_raw_writes(sim):
    """The oracle pairs requests with answers across raw writes (so it holds the device to a
    stop sent in pieces), and forgets a half line at a power cut as the device does."""
    from tests.oracle_timeline import Timeline

    doc = {"name": "raw", "duration_s": 12, "seed": 4, "events": [
        {"t": 0.5, "button": "click"},
        {"t": 1.0, "skin": {"ohm": 20_000}},
        {"t": 2.0, "serial_raw": '{"cmd": "sta'},
        {"t": 2.1, "serial_raw": 'tus"}\n{"cmd": "set", '},
        {"t": 2.2, "power": "cut"},
        {"t": 2.3, "power": "on"},
        {"t": 2.4, "serial_raw": '"level": 5}\n'},  # the device lost the first half: bad JSON
        {"t": 3.0, "button": "click"},
        {"t": 5.0, "serial_raw": '{"cmd": "st'},
        {"t": 5.1, "serial_raw": 'op"}\n'}]}
    events = sim(doc)
    answers = [json.loads(e["line"]) for e in events if e["kind"] == "serial" and e["dir"] == "out"]
    assert [a["ok"] for a in answers] == [True, False, True]
    assert Timeline(doc, events).serial_stops == [5100]


# --- where the trace goes ------------------------------------------------------------------------
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_a_name_that_is_no_file_name_still_names_the_trace(tmp_path, capsys, monkeypatch, runtime):
    """The default trace is build/NAME.jsonl: a name with / or NUL stays inside build/."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "scenario.json").write_text(json.dumps(_doc([], name="../up/\u0000")))
    assert main(["sim", "scenario.json", "--runtime", runtime, "--quiet"]) == 0
    assert capsys.readouterr().err == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["build", "scenario.json"]
    assert [p.name for p in (tmp_path / "build").iterdir()] == [".._up__.jsonl"]


@pytest.mark.parametrize("flag", ["--trace", "--vcd", "--plot"])
def test_an_output_that_cannot_be_written_is_one_line(tmp_path, capsys, flag):
    (tmp_path / "file").write_text("")
    (tmp_path / "dir.png").mkdir()
    for out in (tmp_path / "file" / "x.png", tmp_path / "dir.png"):  # under a file; a directory
        args = ["sim", "demo", "--runtime", "cpython", "--quiet", flag, str(out)]
        if flag != "--trace":
            args += ["--trace", str(tmp_path / "t.jsonl")]
        assert main(args) == 2
        err = capsys.readouterr().err
        assert err.startswith("sim: error: ") and err.count("\n") == 1 and "cannot be written" in err, err


# --- the timeline the unix port reads as it runs ------------------------------------------------
SAME_MS = {"name": "same-ms", "duration_s": 4, "seed": 2, "events": [
    {"t": 0.2, "button": "click"},
    {"t": 0.5, "serial": INFO}, {"t": 0.5, "serial": STATUS}, {"t": 0.5, "skin": {"ohm": 20_000}},
    {"t": 1.0, "button": "hold"},  # released at 2.5, after the items below
    {"t": 1.2, "serial_raw": '{"cmd": "sta'}, {"t": 1.2, "serial_raw": 'tus"}\n'},
    {"t": 2.5, "serial": STATUS}, {"t": 2.5, "battery_v": 3.7},
    {"t": 2.8, "power": "cut"}, {"t": 2.8, "power": "on"}, {"t": 2.8, "button": "click"},
    {"t": 3.5, "serial": STATUS}]}


@pytest.mark.parametrize("name", ["same-ms", "protocol", "faults_and_resets"])
@pytest.mark.parametrize("batch_bytes", [1, 120])
def test_a_timeline_read_in_pieces_gives_the_same_trace(tmp_path, name, batch_bytes):
    """Items due in the same ms, the pin edges of a press after later events, power cuts: the run
    fed a few items at a time (as the unix port is) writes the trace of the run given them all."""
    import io
    import os

    from boards.sim import runner, scenario
    from host_tools import paths

    doc = SAME_MS
    if name != "same-ms":
        path = os.path.join(paths.SCENARIOS, name + ".json")
        if not os.path.exists(path):
            path = os.path.join(os.path.dirname(__file__), "scenarios", name + ".json")
        doc, error = cmd_sim.check_scenario(path)
        assert error is None
    whole = io.StringIO()
    runner.Runner(doc, whole, "cpython", str(tmp_path / "a"), paths.FIRMWARE).run()
    timeline = io.StringIO()
    scenario.write_timeline(doc, timeline)
    timeline.seek(0)
    head = scenario.read_head(timeline)
    assert head["events"] == [] and "description" not in head
    pieces = io.StringIO()
    runner.Runner(head, pieces, "cpython", str(tmp_path / "b"), paths.FIRMWARE).run(
        None, lambda: scenario.read_items(timeline, batch_bytes))
    assert pieces.getvalue() == whole.getvalue() and whole.getvalue().count("\n") > 50
