"""monitor's command parsing and display; hil's checks against a scripted device (no serial)."""
import argparse
import io
import json

from host_tools import cmd_hil, cmd_monitor, serial_link


def test_short_commands_become_c4_requests():
    to = cmd_monitor.to_request
    assert json.loads(to("status")) == {"cmd": "status"}
    assert json.loads(to("set level=3 program=eye")) == {"cmd": "set", "level": 3, "program": "eye"}
    assert json.loads(to("stream on")) == {"cmd": "stream", "on": True}
    assert json.loads(to("bench shape=sine hz=12.5 ua=80")) == {
        "cmd": "bench", "shape": "sine", "hz": 12.5, "ua": 80}
    assert to(' {"cmd":"info"} ') == '{"cmd":"info"}'  # JSON passes through as typed


def test_display_pretty_prints_responses_and_refreshes_telemetry_on_a_terminal():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    out = Tty()
    display = cmd_monitor.Display(out)
    display.line('{"t":1.5,"state":"RUN","ua":-99,"v":-1.98,"ohm":20000,"level":2}')
    display.line('{"t":1.6,"state":"RUN","ua":100,"v":2.0,"ohm":20000,"level":2}')
    display.line('{"ok":false,"error":"unknown command"}')
    display.line('{"ok":true,"state":"OFF","fault":null,"contact":false}')
    text = out.getvalue()
    assert text.count("\r\x1b[K") == 2 and "t 1.6 s  RUN  100 uA  2.0 V  20000 ohm  level 2\n" in text
    assert "error: unknown command\n" in text
    assert "ok  state OFF  contact no  fault -\n" in text


class ScriptedDevice:
    """Answers like the firmware; `bad` changes one answer to exercise a failing check."""

    def __init__(self, bad=None):
        self.bad = bad
        self.state = "OFF"
        self.on_other = None
        self.lines = []

    def request(self, obj, timeout_s=3.0):
        cmd = obj["cmd"]
        if cmd == "info":
            return {"ok": True, "board": "sim", "fw": "0.4.0"}
        if cmd == "log":  # bad == "log": a fault appears during the run
            self.logs = getattr(self, "logs", 0) + 1
            new = self.bad == "log" and self.logs > 1
            return {"ok": True, "entries": [{"code": "DC_IMBALANCE", "ms": 5}] if new else []}
        if cmd == "selftest":
            return {"ok": True, "state": "SELFTEST"}
        if cmd == "bench":
            self.state = "RUN"
            return {"ok": True, "state": "RUN"}
        if cmd == "stream":
            sign = 1 if self.bad != "monophasic" else 0
            self.lines = [json.dumps({"t": i / 10, "ua": 100 * (1 if i % 2 else -sign)}) for i in range(40)]
            return {"ok": True, "stream": obj["on"]}
        if cmd == "stop":
            self.state = "OFF"
            return {"ok": True}
        status = {"ok": True, "state": self.state, "level": 1, "program": "lift", "session_s": 600,
                  "battery_v": 3.9, "fault": None, "contact": self.state == "RUN",
                  "ohm": 20_100 if self.state == "RUN" else None, "selftest": {"result": "passed"},
                  "head": None if self.bad == "no_head" else "face"}
        return status

    def read_line(self, timeout_s):
        return self.lines.pop(0) if self.lines else None


def _run_hil(device):
    args = argparse.Namespace(load_ohm=20_000, shape="square", hz=7.0, ua=100, run_s=0.2)
    out = io.StringIO()
    hil = cmd_hil.Hil(device, out)
    cmd_hil.run_checks(hil, args)
    return hil.failed, out.getvalue()


def test_hil_passes_a_device_that_answers_as_specified():
    failed, out = _run_hil(ScriptedDevice())
    assert failed == 0, out
    assert [line.split()[1] for line in out.splitlines()] == [
        "info", "status", "head", "selftest", "bench", "current", "load", "stop", "log"]


def test_hil_fails_a_monophasic_current_and_a_new_log_entry():
    failed, out = _run_hil(ScriptedDevice(bad="monophasic"))
    assert failed == 1 and "FAIL current" in out
    failed, out = _run_hil(ScriptedDevice(bad="log"))
    assert failed == 1 and "FAIL log" in out and "DC_IMBALANCE" in out


def test_hil_fails_a_device_without_a_known_head():
    failed, out = _run_hil(ScriptedDevice(bad="no_head"))
    assert failed == 1 and "FAIL head      head None (no known head" in out, out


def test_monitor_shows_the_history_as_a_table():
    entry = {"start": None, "boot": 3, "uptime_s": 12, "contact_s": 61.25, "zones": 4, "head": "eye",
             "program": "eye", "level": 2, "peak_ua": 199, "mean_ua": 120, "charge_uc": 7350.0,
             "end": "fault:OVER_CURRENT"}
    dated = dict(entry, start=1_764_500_000, head="face", program="lift", end="done")
    text = cmd_monitor.format_response({"ok": True, "sessions": [dated, entry]})
    head, header, first, second = text.splitlines()
    assert head == "ok  2 session(s), newest first"
    assert header.split() == ["start", "contact", "s", "zones", "head", "program", "level", "peak", "uA",
                              "mean", "uA", "charge", "uC", "end"]
    assert first.split()[2:] == ["61.25", "4", "face", "lift", "2", "199", "120", "7350.0", "done"]
    assert second.split()[:3] == ["boot", "3", "+12s"] and second.split()[-1] == "fault:OVER_CURRENT"
    # columns line up: each value starts where its header does
    for row in (first, second):
        assert row.index("61.25") == header.index("contact s")
        assert row[header.index("end"):].strip() in ("done", "fault:OVER_CURRENT")
    assert cmd_monitor.format_response({"ok": True, "sessions": []}) == "ok  no sessions recorded"


def test_repl_output_names_the_stopped_app_and_its_error():
    boot = ('Traceback (most recent call last):\r\n  File "main.py", line 19, in main\r\n'
            "ValueError: incompatible .mpy arch\r\nMicroPython v1.29.0 on 2026-07-05; linux\r\n>>> ")
    assert serial_link.shows_repl(boot) and serial_link.shows_repl("\r\nraw REPL; CTRL-B to exit\r\n>")
    assert serial_link.stopped_reason(boot).endswith("REPL after ValueError: incompatible .mpy arch")
    assert not serial_link.shows_repl('{"ok": false, "error": "not a JSON object"}\n')
    assert not serial_link.shows_repl('{"ok": true, "note": ">>> "}')  # a prompt only at the end of output
