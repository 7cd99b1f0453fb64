"""`perf`'s "rp2040": {"frozen": ...}: the production image (make uf2) on the emulated Pico.

Boots the image on a fresh flash, deploys the file-system files onto it (deploy), then, after a
soft reset (boot.py runs, main.py does not), builds the app as main.py does and measures on the
device: gc.mem_alloc() after the imports and after constructing the App, the emulated time from
START (what the button's wake does) to STANDBY-ready, and the control tick's µs per state over
the paced ticks of that run. Times are the emulator's cycle counts (docs/emulation.md).
"""
import json
import os
import select
import signal
import subprocess
import sys
import tempfile

from host_tools import device, paths
from host_tools.serial_link import LinkError

RUN_MS = 3000  # paced ticks after START: SELFTEST, STANDBY and, on the dummy load, RUN
_START_S = 30

# Device side: the app as main.py builds it, measured; one JSON line.
_MEASURE = """import gc, time
import board_config
from hal.rp2040 import Board
from roller.app import App
from roller import ui
gc.collect()
imports = gc.mem_alloc()
app = App(Board())
gc.collect()
built = gc.mem_alloc()
n = len(ui.STATE_NAMES)
us = [0] * n
ticks = [0] * n
ready_ms = -1
t0 = time.ticks_us()
app.dispatch(ui.START)
deadline = t0
for i in range(%d):
    s = app.state
    t = time.ticks_us()
    app.tick()
    us[s] += time.ticks_diff(time.ticks_us(), t)
    ticks[s] += 1
    if ready_ms < 0 and app.state == ui.STANDBY:
        ready_ms = time.ticks_diff(time.ticks_us(), t0) / 1000
    app.service()
    deadline = time.ticks_add(deadline, 1000)
    w = time.ticks_diff(deadline, time.ticks_us())
    if w > 0:
        time.sleep_us(w)
app.board.write_output(False, 0, 0)
print('RESULT', {'heap_after_imports_bytes': imports, 'heap_after_boot_bytes': built,
      'start_to_standby_ms': ready_ms, 'tick_us': {ui.STATE_NAMES[k]: round(us[k] / ticks[k], 1)
      for k in range(n) if ticks[k]}, 'ticks': {ui.STATE_NAMES[k]: ticks[k] for k in range(n) if ticks[k]}})
""" % RUN_MS


class FrozenError(Exception):
    """Why the frozen image was not measured, as one line."""


def _cli(*args, timeout=300):
    python = os.path.join(os.path.dirname(paths.micropython_exe()), "python")
    proc = subprocess.run([python, "-m", "host_tools", *args], cwd=paths.ROOT, capture_output=True,
                          text=True, timeout=timeout)
    return proc.returncode, proc.stdout + proc.stderr


def measure(uf2=None):
    """The figures as a dict; raises FrozenError. uf2=None: the stock MicroPython UF2 with the
    firmware deployed as .mpy (the same measurement, for comparison)."""
    from host_tools import emu_link, uf2_build

    if uf2 is not None and not uf2_build.verified(uf2):
        raise FrozenError("no image from make uf2 at %s" % os.path.relpath(uf2, paths.ROOT))
    problem = emu_link.missing()
    if problem:
        raise FrozenError(problem)
    python = os.path.join(os.path.dirname(paths.micropython_exe()), "python")
    with tempfile.TemporaryDirectory(prefix="perf-frozen-") as tmp:
        image = ["--uf2", uf2] if uf2 else []
        flash = os.path.join(tmp, "flash.bin")
        proc = subprocess.Popen([python, "-m", "host_tools", "emu", *image, "--flash", flash], cwd=paths.ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)
        try:
            ready, _, _ = select.select([proc.stdout], [], [], _START_S)
            port = proc.stdout.readline().strip() if ready else ""
            if not port.startswith("/dev/"):
                raise FrozenError("emu gave no device path")
            code, text = _cli("deploy", "--board", "rp2040_pico", "--port", port)
            if code:
                raise FrozenError("deploy failed: %s" % text.strip().splitlines()[-1])
            out = device.mpremote(port, ["resume", "soft-reset", "exec", _MEASURE])
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(15)
            proc.stdout.close()
            proc.stderr.close()
    line = [x for x in out.splitlines() if x.startswith("RESULT ")]
    if not line:
        raise FrozenError("the device printed no result: %r" % out[-300:])
    import ast

    report = ast.literal_eval(line[0][len("RESULT "):])
    report["uf2"] = os.path.basename(uf2 or emu_link.UF2_NAME)
    return report


def report():
    """measure() of this version's image, or {"skipped": why} (not built, no emulator)."""
    from host_tools import uf2_build

    try:
        frozen = measure(uf2_build.image_path())
        frozen["deployed"] = measure()  # the same run on the stock UF2, the firmware as .mpy
        return frozen
    except FrozenError as exc:
        return {"skipped": str(exc)}
    except LinkError as exc:
        return {"skipped": "the device: %s" % exc}


def main():
    figures = report()
    print(json.dumps(figures, indent=1))
    return 1 if "skipped" in figures else 0


if __name__ == "__main__":
    sys.exit(main())
