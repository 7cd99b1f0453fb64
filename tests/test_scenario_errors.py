"""C1: every malformed scenario gets exit 2 and one line naming the event index and field."""
import json

import pytest

from host_tools.__main__ import main
from tests.conftest import run_cli

GOOD_EVENT = {"t": 1, "button": "click"}


def _doc(**changes):
    doc = {"name": "bad", "duration_s": 5, "events": [dict(GOOD_EVENT)]}
    doc.update(changes)
    return doc


def _events(*events):
    return _doc(events=list(events))


# (scenario document or raw text, words the message must contain)
CASES = [
    ("not json at all {", "not valid JSON"),
    ("[1, 2, 3]", "expected a JSON object"),
    ('"just a string"', "expected a JSON object"),
    ("", "not valid JSON"),
    (b"\xff\xfe\x00garbage", "not UTF-8"),
    (_doc(name=3), "name"),
    (_doc(name=""), "name"),
    ({"duration_s": 5, "events": []}, "name: missing"),
    ({"name": "x", "events": []}, "duration_s: missing"),
    ({"name": "x", "duration_s": 5}, "events: missing"),
    (_doc(duration_s="5"), "duration_s"),
    (_doc(duration_s=-1), "duration_s"),
    (_doc(duration_s=0), "duration_s"),
    (_doc(duration_s=True), "duration_s"),
    (_doc(duration_s=1e9), "duration_s"),
    (_doc(seed=1.5), "seed"),
    (_doc(seed="7"), "seed"),
    (_doc(events={}), "events: expected a list"),
    (_doc(extra=1), "extra: unknown field"),
    (_doc(settings=[]), "settings"),
    (_doc(settings={"level": 9}), "settings.level"),
    (_doc(settings={"level": "2"}), "settings.level"),
    (_doc(settings={"level": True}), "settings.level"),
    (_doc(settings={"program": "zap"}), "settings.program"),
    (_doc(settings={"session_s": 30}), "settings.session_s"),
    (_doc(settings={"cue_s": 20}), "settings.cue_s"),
    (_doc(settings={"volume": 3}), "settings.volume"),
    (_events("click"), "events[0]: expected an object"),
    (_events({"button": "click"}), "events[0].t: missing"),
    (_events({"t": -1, "button": "click"}), "events[0].t"),
    (_events({"t": "1", "button": "click"}), "events[0].t"),
    (_events({"t": 9, "button": "click"}), "events[0].t"),  # after duration_s
    (_events({"t": float("nan"), "button": "click"}), "events[0].t"),
    (_events({"t": 2, "button": "click"}, {"t": 1, "button": "click"}), "events[1].t"),
    (_events({"t": 1}), "events[0]: needs exactly one"),
    (_events({"t": 1, "button": "click", "usb": True}), "events[0]: needs exactly one"),
    (_events({"t": 1, "teleport": True}), "events[0].teleport: unknown event field"),
    (_events({"t": 1, "button": "triple"}), "events[0].button"),
    (_events({"t": 1, "button": 1}), "events[0].button"),
    (_events({"t": 1, "skin": 20000}), "events[0].skin"),
    (_events({"t": 1, "skin": {}}), "events[0].skin.ohm: missing"),
    (_events({"t": 1, "skin": {"ohm": -5}}), "events[0].skin.ohm"),
    (_events({"t": 1, "skin": {"ohm": "20k"}}), "events[0].skin.ohm"),
    (_events({"t": 1, "skin": {"ohm": 20000, "nf": -1}}), "events[0].skin.nf"),
    (_events({"t": 1, "skin": {"ohm": 20000, "uf": 1}}), "events[0].skin.uf"),
    (_events({"t": 1, "battery_v": "3.9"}), "events[0].battery_v"),
    (_events({"t": 1, "battery_v": 12}), "events[0].battery_v"),
    (_events({"t": 1, "usb": "yes"}), "events[0].usb"),
    (_events({"t": 1, "usb": 1}), "events[0].usb"),
    (_events({"t": 1, "fault": "gremlins"}), "events[0].fault"),
    (_events({"t": 1, "fault": 3}), "events[0].fault"),
    (_events({"t": 1, "serial": {"cmd": "info"}}), "events[0].serial"),
    (_events({"t": 1, "serial": "a\nb"}), "events[0].serial: expected one line (serial_raw sends several)"),
    (_events({"t": 1, "serial_raw": ""}), "events[0].serial_raw: expected at least one character"),
    (_events({"t": 1, "serial_raw": [123, 10]}), "events[0].serial_raw: expected a string"),
    (_events({"t": 1, "serial_raw": None}), "events[0].serial_raw: expected a string"),
    (_events({"t": 1, "serial": "x", "serial_raw": "x"}), "events[0]: needs exactly one"),
    (_events({"t": 1, "power": "off"}), "events[0].power"),
    (_events({"t": 1, "power": True}), "events[0].power"),
]


def _write(tmp_path, case):
    path = tmp_path / "bad.json"
    if isinstance(case, bytes):
        path.write_bytes(case)
    elif isinstance(case, str):
        path.write_text(case)
    else:
        path.write_text(json.dumps(case))
    return str(path)


@pytest.mark.parametrize("runtime", ["cpython", "micropython"])
@pytest.mark.parametrize(("case", "words"), CASES, ids=[str(i) for i in range(len(CASES))])
def test_malformed_scenario_exits_2_with_one_line(tmp_path, capsys, case, words, runtime):
    trace = tmp_path / "t.jsonl"
    code = main(["sim", _write(tmp_path, case), "--trace", str(trace), "--runtime", runtime])
    out, err = capsys.readouterr()
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("sim: error: "), err
    assert words in err
    assert "Traceback" not in err + out
    assert not trace.exists()  # nothing written


def test_missing_file_and_unknown_builtin(capsys):
    assert main(["sim", "/nonexistent/scenario.json"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no such file" in err


def test_unreadable_path_is_one_line(tmp_path, capsys):
    assert main(["sim", str(tmp_path)]) == 2  # a directory
    assert capsys.readouterr().err.count("\n") == 1


@pytest.mark.parametrize("runtime", ["cpython", "micropython"])
def test_cli_subprocess_has_no_traceback(tmp_path, runtime):
    path = _write(tmp_path, _events({"t": 1, "skin": {"ohm": "20k"}}))
    code, out, err = run_cli("sim", path, "--runtime", runtime, "--trace", str(tmp_path / "t"))
    assert code == 2
    assert err == "sim: error: scenario %s: events[0].skin.ohm: expected a number, got \"20k\"\n" % path
    assert out == ""


def test_bad_flags_are_one_line():
    code, out, err = run_cli("sim", "demo", "--runtime", "java")
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err


def test_the_unix_port_entry_takes_only_a_checked_timeline(tmp_path):
    """A scenario reaches the unix port only as the timeline `sim` writes once it is checked:
    run.py given anything else says so in one line."""
    import subprocess

    from host_tools import paths

    path = _write(tmp_path, _events({"t": 2, "button": "click"}, {"t": 1, "usb": True}))
    proc = subprocess.run([paths.micropython_exe(), paths.SIM_RUN, path, str(tmp_path / "t"),
                           str(tmp_path / "fs")], capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr == ""
    assert proc.stdout == "timeline %s: not one that `python -m host_tools sim` writes\n" % path
    assert not (tmp_path / "t").exists()
