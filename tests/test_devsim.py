"""devsim as a device: real mpremote, deploy, hil, monitor and the self-test on tampered files."""
import os
import select
import signal
import subprocess
import time

import pytest

from host_tools import firmware_build, paths
from tests.conftest import run_cli

PYTHON = os.path.join(os.path.dirname(paths.micropython_exe()), "python")
HAS_PROTOCOL = os.path.exists(os.path.join(paths.FIRMWARE, "roller", "protocol.py"))
NO_PROTOCOL = "the serial protocol (roller/protocol.py, App.service) is not on this branch yet"
_TIMEOUT_S = 60


@pytest.fixture
def devsim(tmp_path):
    """A running devsim on its own flash folder: (device path, flash folder)."""
    flash = tmp_path / "flash"
    proc = subprocess.Popen([PYTHON, "-m", "host_tools", "devsim", "--flash", str(flash)],
                            cwd=paths.ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 30)
        assert ready, "devsim printed no device path"
        path = proc.stdout.readline().strip()
        assert path.startswith("/dev/"), path
        yield path, flash
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        proc.stdout.close()
        proc.stderr.close()
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
    code, out, err = run_cli("hil", "--port", port, "--run-s", "2")
    assert code == 0, out + err
    assert "hil: all checks passed" in out


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
