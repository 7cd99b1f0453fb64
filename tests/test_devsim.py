"""devsim as a device: real mpremote, deploy, hil, monitor (also on a terminal), the self-test on
tampered files, and the tools on a stopped app, a wrong board and a missing port."""
import os
import shutil
import signal
import subprocess
import time

import pytest
from serial.tools import list_ports

from host_tools import firmware_build, paths, serial_link
from tests.conftest import run_cli
from tests.terminal import Terminal
from tests.webrig import Devsim

PYTHON = os.path.join(os.path.dirname(paths.micropython_exe()), "python")
HAS_PROTOCOL = os.path.exists(os.path.join(paths.FIRMWARE, "roller", "protocol.py"))
NO_PROTOCOL = "the serial protocol (roller/protocol.py, App.service) is not on this branch yet"
_TIMEOUT_S = 60


@pytest.fixture
def devsim(tmp_path):
    """A running devsim on its own flash folder: (device path, flash folder)."""
    flash = tmp_path / "flash"
    device = Devsim(flash)
    try:
        assert device.path.startswith("/dev/"), device.path
        yield device.path, flash
    finally:
        device.close()
    assert not flash.exists() or (flash / firmware_build.MANIFEST).exists()


def mpremote(port, *args):
    proc = subprocess.run([paths.tool_exe("mpremote"), "connect", port, "resume", *args],
                          capture_output=True, text=True, timeout=_TIMEOUT_S)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def device_runs_the_app(port):
    """True if main's app loop was running (mpremote's Ctrl-C stopped it to get the REPL)."""
    return "True" in mpremote(port, "exec", "import sys\nprint('roller.app' in sys.modules)")


def test_devsim_is_a_micropython_device_with_its_flash_as_cwd(devsim):
    port, flash = devsim
    assert device_runs_the_app(port)  # booted the firmware; Ctrl-C gave the REPL back
    listing = mpremote(port, "fs", "ls", ":")
    assert firmware_build.MANIFEST in listing and "roller/" in listing
    mpremote(port, "exec", "open('note.txt', 'w').write('hi')")
    assert (flash / "note.txt").read_text() == "hi"
    mpremote(port, "exec", "--no-follow", firmware_build.DEVSIM_START)
    time.sleep(0.3)
    assert device_runs_the_app(port)


@pytest.mark.xfail(not HAS_PROTOCOL, reason=NO_PROTOCOL, run=False)
def test_deploy_with_mpremote_then_hil_passes(devsim):
    port, flash = devsim
    code, out, err = run_cli("deploy", "--board", "sim", "--port", port, "--out", str(flash) + ".build")
    assert code == 0, out + err
    assert "verified" in out and "restarted" in out
    link = serial_link.Link(port)  # a bare link: it sets no clock itself
    try:
        assert link.attach()
        before = time.time()
        status = link.request({"cmd": "status"})
    finally:
        link.close()
    assert status["clock"] is True and status["sessions_7d"] == 0  # deploy set the clock ...
    assert before - 30 <= status["unix"] <= before + 30  # ... to this computer's
    assert status["head"] == "face"
    code, out, err = run_cli("hil", "--port", port, "--run-s", "2")
    assert code == 0, out + err
    assert "hil: all checks passed" in out and "PASS head      head face" in out
    code, out, err = run_cli("monitor", "--port", port, "-c", "history", "-c", "status")
    assert code == 0 and "ok  no sessions recorded" in out and "clock yes" in out, out + err


def test_a_file_altered_after_deploy_fails_the_next_self_test(devsim):
    port, flash = devsim
    code, out, err = run_cli("deploy", "--board", "sim", "--port", port, "--out", str(flash) + ".build")
    assert code == 0, out + err
    mpremote(port, "exec", "f = open('roller/led.mpy', 'ab')\nf.write(b'x')\nf.close()",
             "exec", "--no-follow", firmware_build.DEVSIM_START)  # the next boot
    time.sleep(0.3)
    checker = ("from hal.common import Flash\nfrom roller.integrity import Checker\n"
               "c = Checker(Flash())\nwhile c.step():\n    pass\nprint('failed:', c.failed)")
    assert "failed: roller/led.mpy" in mpremote(port, "exec", checker)
    if not HAS_PROTOCOL:
        pytest.xfail(NO_PROTOCOL + ": FAULT SELFTEST cannot be read over the serial port")
    mpremote(port, "exec", "--no-follow", firmware_build.DEVSIM_START)
    time.sleep(0.3)
    code, out, err = run_cli("monitor", "--port", port, "-c", "selftest", "-c", "sleep 1", "-c", "status")
    assert code == 0, out + err
    assert "state FAULT" in out and "fault SELFTEST" in out and "roller/led.mpy" in out


@pytest.mark.xfail(not HAS_PROTOCOL, reason=NO_PROTOCOL, run=False)
def test_monitor_sends_commands_and_shows_telemetry(devsim):
    port, _ = devsim
    code, out, err = run_cli("monitor", "--port", port, "-c", "info", "-c", "set level=2",
                             "-c", "stream on", "-c", "nonsense", "--wait-s", "0.6")
    assert code == 1, out + err  # `nonsense` got an error response
    assert "board sim" in out and "level 2" in out and "error: unknown command" in out
    assert out.count("telemetry  t ") >= 3
    code, out, err = run_cli("monitor", "--port", port, stdin="status\n")
    assert code == 0 and "ok  state OFF" in out and "stream no" in out


def _one_line(err):
    assert err.endswith("\n") and err.count("\n") == 1 and "Traceback" not in err, err
    return err


def _flash_files(flash):
    return {str(p.relative_to(flash)): p.read_bytes() for p in flash.rglob("*") if p.is_file()}


@pytest.mark.xfail(not HAS_PROTOCOL, reason=NO_PROTOCOL, run=False)
def test_a_stopped_app_is_named_and_restarted_by_flag(devsim):
    port, _ = devsim
    mpremote(port, "exec", "print(1)")  # leaves the app stopped at the friendly REPL
    for tool in (("monitor", "-c", "info"), ("hil",)):
        code, out, err = run_cli(*tool, "--port", port)
        assert code == 2, out + err
        assert "the app is not running" in _one_line(err) and "--restart" in err, err
    code, out, err = run_cli("monitor", "--port", port, "--restart", "-c", "info")
    assert code == 0 and "board sim" in out, out + err
    raw = serial_link.open_port(port)  # a tool that died in the raw REPL
    raw.write(b"\x03\x01")
    raw.close()
    code, out, err = run_cli("hil", "--port", port, "--run-s", "2")
    assert code == 2 and "the app is not running" in _one_line(err), out + err
    code, out, err = run_cli("hil", "--port", port, "--run-s", "2", "--restart")
    assert code == 0 and "hil: all checks passed" in out, out + err


@pytest.mark.xfail(not HAS_PROTOCOL, reason=NO_PROTOCOL, run=False)
def test_a_wrong_board_deploy_is_refused_and_the_device_still_passes_hil(devsim, tmp_path):
    port, flash = devsim
    before = _flash_files(flash)
    code, out, err = run_cli("deploy", "--board", "esp32_devkitc", "--port", port,
                             "--out", str(tmp_path / "b"))
    assert code == 2, out + err
    assert "esp32 with .mpy 6.3 xtensawin" in _one_line(err) and "nothing copied (--board sim?)" in err
    assert "verified" not in out and _flash_files(flash) == before
    code, out, err = run_cli("hil", "--port", port, "--run-s", "2")
    assert code == 0 and "hil: all checks passed" in out, out + err


@pytest.mark.xfail(not HAS_PROTOCOL, reason=NO_PROTOCOL, run=False)
def test_deploy_fails_and_says_why_when_the_app_does_not_start(devsim, tmp_path):
    port, _ = devsim
    repo = tmp_path / "repo"  # the project with an app that raises at import
    for part in ("firmware", "boards", "host_tools"):
        shutil.copytree(os.path.join(paths.ROOT, part), repo / part,
                        ignore=shutil.ignore_patterns("__pycache__"))
    app = repo / "firmware" / "roller" / "app.py"
    app.write_text('raise ImportError("broken on purpose")\n' + app.read_text())
    proc = subprocess.run([PYTHON, "-m", "host_tools", "deploy", "--board", "sim", "--port", port,
                           "--out", str(tmp_path / "b")], cwd=repo, capture_output=True, text=True,
                          timeout=_TIMEOUT_S * 2)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "verified" in proc.stdout and "restarted" not in proc.stdout
    assert "ImportError: broken on purpose" in _one_line(proc.stderr)


@pytest.mark.parametrize("tool", [("monitor", "-c", "info"), ("hil",), ("deploy", "--board", "sim")])
def test_a_missing_port_is_named_with_the_ports_that_exist(tool):
    port = "/dev/roller-no-such-port"
    code, out, err = run_cli(*tool, "--port", port)
    ports = sorted(p.device for p in list_ports.comports())
    assert code == 2, out + err
    assert "%s: does not exist; serial ports here: %s" % (port, ", ".join(ports) or "none") in _one_line(err)
    assert "in use" not in err


def test_devsim_says_how_to_connect_and_stop(tmp_path):
    link = tmp_path / "build" / "devsim.tty"  # build/ need not exist yet
    proc = subprocess.Popen([PYTHON, "-m", "host_tools", "devsim", "--link", str(link), "--flash",
                             str(tmp_path / "flash")], cwd=paths.ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        path = proc.stdout.readline().strip()
        howto = [proc.stderr.readline() for _ in range(6)]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(_TIMEOUT_S)
    assert path.startswith("/dev/")
    text = "".join(howto)
    assert "monitor --port %s" % link in text and "connect %s resume" % link in text, text
    assert "--restart" in text and "Ctrl-C" in text and "kill %d" % proc.pid in text, text
    assert not link.exists()


@pytest.mark.xfail(not HAS_PROTOCOL, reason=NO_PROTOCOL, run=False)
@pytest.mark.parametrize("quit_key", ["\x03", "\x04"])  # Ctrl-C, Ctrl-D
def test_interactive_monitor_keeps_the_typed_line_and_stops_the_stream_on_quit(devsim, quit_key):
    port, _ = devsim
    term = Terminal([PYTHON, "-m", "host_tools", "monitor", "--port", port], paths.ROOT)
    try:
        assert term.wait_for(lambda t: "no telemetry" in t.lines()[-1]), term.lines()  # the toolbar
        term.type("stream on\r")
        assert term.wait_for(lambda t: t.lines()[-1].startswith(" telemetry  t ")), term.lines()
        term.type("sta")
        shown = term.lines()[-1]
        assert term.wait_for(lambda t: t.lines()[-1] != shown)  # telemetry went on arriving
        assert "> sta" in term.lines(), term.lines()  # and left the input line alone
        term.type("tus\r")
        assert term.wait_for(lambda t: any(x.startswith("ok  state") for x in t.lines())), term.lines()
        term.type(quit_key)
        assert term.wait_for(lambda t: t.proc.poll() is not None), term.lines()
        term.wait_for(lambda t: False, 0.2)  # the last output
        assert term.proc.returncode == 0 and "monitor: stream off" in term.lines(), term.lines()
        assert term.screen.cursor.x == 0  # the shell's prompt starts a line of its own
    finally:
        term.close()
    code, out, err = run_cli("monitor", "--port", port, "-c", "status")
    assert code == 0 and "stream no" in out, out + err
