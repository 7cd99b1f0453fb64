"""`perf`'s "rp2040": {"frozen": ..., "deployed": ...}: the production image (make uf2) and, for
comparison, the stock MicroPython UF2 with the firmware deployed as .mpy, on the emulated Pico.

Boots the image on a fresh flash, deploys onto it (only the file-system files onto the frozen
image), sets main.py aside and resets the chip (a hard reset: the app's watchdog survives a soft
one, and .mpy imports outlast its timeout), then builds the app as main.py does and measures on
the device: gc.mem_alloc() after the imports and after constructing the App, the
emulated ms the imports and the App take, the emulated ms from START (the button's click in OFF)
to STANDBY (the LED's blue), and the control tick's µs per state over the paced ticks of that
run. Times are the emulator's cycle counts (docs/emulation.md).

Two emulator runs take minutes: the figures are cached in build/perf/rp2040-<key>.json, keyed by
both images, the deployed sources and this measurement; `python -m host_tools.perf_frozen`
measures afresh (docs/performance.md).
"""
import hashlib
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time

from host_tools import device, paths
from host_tools.serial_link import LinkError

RUN_MS = 3000  # paced ticks after START: SELFTEST, STANDBY and, on the dummy load, RUN
_START_S = 30
CACHE = os.path.join(paths.ROOT, "build", "perf")
_RESET_TRIES = 10
_MEASURE_S = 900  # the emulator runs at 0.1-0.6 x real time, by the machine's load

# Device side, after a reset: the app as main.py builds it, measured; one JSON line.
_MEASURE = """import gc, time
t_boot = time.ticks_us()
import board_config
from hal.rp2040 import Board
from roller.app import App
from roller import ui
gc.collect()
imports = gc.mem_alloc()
app = App(Board())
gc.collect()
built = gc.mem_alloc()
boot_ms = time.ticks_diff(time.ticks_us(), t_boot) / 1000
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
app.board._keep_watchdog_quiet(app.board._wdt)  # as after Ctrl-C: the next reset is ours
print('RESULT', {'heap_after_imports_bytes': imports, 'heap_after_boot_bytes': built,
      'imports_and_app_ms': boot_ms, 'start_to_standby_ms': ready_ms,
      'tick_us': {ui.STATE_NAMES[k]: round(us[k] / ticks[k], 1)
      for k in range(n) if ticks[k]}, 'ticks': {ui.STATE_NAMES[k]: ticks[k] for k in range(n) if ticks[k]}})
"""


class FrozenError(Exception):
    """Why the frozen image was not measured, as one line."""


def _cli(*args, timeout=300):
    python = os.path.join(os.path.dirname(paths.micropython_exe()), "python")
    proc = subprocess.run([python, "-m", "host_tools", *args], cwd=paths.ROOT, capture_output=True,
                          text=True, timeout=timeout)
    return proc.returncode, proc.stdout + proc.stderr


_ASIDE = "import os\nos.rename(%r, %r)"


def _reset(port):
    """machine.reset() with main.py set aside (boot.py runs, the app does not), then main.py put
    back for the self-test's integrity check."""
    device.mpremote(port, ["resume", "exec", _ASIDE % ("main.py", "main.off")])
    device.mpremote(port, ["resume", "reset"])
    for _ in range(_RESET_TRIES):
        try:
            back = _ASIDE % ("main.off", "main.py") + "\nprint('up')"
            if "up" in device.mpremote(port, ["resume", "exec", back], _START_S):
                return
        except LinkError:
            time.sleep(1)
    raise FrozenError("the Pico did not come back after a reset")


def measure(uf2=None, preludes=("",), ticks=RUN_MS):
    """The figures as a dict; raises FrozenError. uf2=None: the stock MicroPython UF2 with the
    firmware deployed as .mpy (the same measurement, for comparison). With several preludes
    (device code run first, after each soft reset): a list, one dict per prelude."""
    from host_tools import emu_link, uf2_build

    if uf2 is not None and not uf2_build.verified(uf2):
        raise FrozenError("no image from make uf2 at %s" % os.path.relpath(uf2, paths.ROOT))
    if uf2 is not None:  # _reset sets the file system's main.py aside: the image runs its own
        raise FrozenError("the image's frozen main.py starts the app at every reset: this measurement "
                          "needs a way to boot it without the app (not built yet, docs/performance.md)")
    problem = emu_link.missing()
    if problem:
        raise FrozenError(problem)
    python = os.path.join(os.path.dirname(paths.micropython_exe()), "python")
    outs = []
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
            fs = os.path.join(tmp, "fs")  # deploy's build folder: this run's own
            code, text = _cli("deploy", "--board", "rp2040_pico", "--port", port, "--out", fs)
            if code:
                raise FrozenError("deploy failed: %s" % text.strip().splitlines()[-1])
            for prelude in preludes:
                _reset(port)
                outs.append(device.mpremote(port, ["resume", "exec", prelude + _MEASURE % ticks], _MEASURE_S))
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(15)
            proc.stdout.close()
            proc.stderr.close()
    reports = []
    for out in outs:
        line = [x for x in out.splitlines() if x.startswith("RESULT ")]
        if not line:
            raise FrozenError("the device printed no result: %r" % out[-300:])
        import ast

        report = ast.literal_eval(line[0][len("RESULT "):])
        report["uf2"] = os.path.basename(uf2 or emu_link.UF2_NAME)
        reports.append(report)
    return reports if len(preludes) > 1 else reports[0]


# Shifts the qstr numbers of everything interned after it (the .mpy files' names) by k: getattr
# with a new name interns it. Soft reset forgets them again.
_QSTR_SHIFT = "_o = object()\nfor _i in range(%d):\n    getattr(_o, 'qshift%%d' %% _i, None)\n"


def qstr_shift(ks=range(0, 64, 8), ticks=1000):
    """RUN tick µs of the deployed build (stock UF2) with its qstrs numbered k later, per k:
    how much the qstr numbering alone moves the tick (docs/performance.md, frozen vs deployed)."""
    reports = measure(None, [_QSTR_SHIFT % k for k in ks], ticks)
    return {k: r["tick_us"] for k, r in zip(ks, reports, strict=True)}


def _key(uf2):
    """What the figures depend on: both images, every deployed source, the measurement."""
    from host_tools import emu_link, firmware_build, uf2_build

    h = hashlib.sha256()
    h.update(("%s %s\n" % (uf2_build.record(uf2)["uf2_sha256"], emu_link.UF2_SHA256)).encode())
    for src, _ in firmware_build.sources(firmware_build.board("rp2040_pico")):
        with open(os.path.join(paths.ROOT, src), "rb") as f:
            h.update(f.read())
    h.update(("%s %d" % (_MEASURE, RUN_MS)).encode())
    return h.hexdigest()


def cache_path(uf2):
    return os.path.join(CACHE, "rp2040-%s.json" % _key(uf2)[:16])


def report(fresh=False):
    """{"frozen": measure(image), "deployed": measure()} for this version's image, from the cache
    unless fresh; or {"frozen": {"skipped": why}} (no image from make uf2, no emulator)."""
    from host_tools import uf2_build

    uf2 = uf2_build.image_path()
    if not uf2_build.verified(uf2):
        return {"frozen": {"skipped": "no image from make uf2 at %s" % os.path.relpath(uf2, paths.ROOT)}}
    path = cache_path(uf2)
    if not fresh and os.path.isfile(path):
        with open(path) as f:
            figures = json.load(f)
        figures["cached"] = os.path.relpath(path, paths.ROOT)
        return figures
    try:
        figures = {"frozen": measure(uf2), "deployed": measure()}
    except FrozenError as exc:
        return {"frozen": {"skipped": str(exc)}}
    except LinkError as exc:
        return {"frozen": {"skipped": "the device: %s" % exc}}
    frozen, deployed = (figures[k]["tick_us"].get("RUN") for k in ("frozen", "deployed"))
    figures["run_tick_frozen_vs_deployed"] = round(frozen / deployed, 3) if frozen and deployed else None
    os.makedirs(CACHE, exist_ok=True)
    with open(path, "w") as f:
        json.dump(figures, f, indent=1, sort_keys=True)
        f.write("\n")
    return figures


def main(argv=None):
    args = sys.argv[1:] if argv is None else argv
    if args == ["--qstr-shift"]:
        print(json.dumps(qstr_shift(), indent=1))
        return 0
    figures = report(fresh=True)
    print(json.dumps(figures, indent=1, sort_keys=True))
    return 1 if "skipped" in figures["frozen"] else 0


if __name__ == "__main__":
    sys.exit(main())
