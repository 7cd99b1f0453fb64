"""`perf`'s "rp2040": {"frozen": ..., "deployed": ...}: the production image (make uf2) and, for
comparison, the stock MicroPython UF2 with the firmware deployed as .mpy, on the emulated Pico.

Boots the image on a fresh flash, deploys onto it (only the file-system files onto the frozen
image), and resets the chip into a maintenance boot (docs/flashing.md: main.py ends at the REPL
with the output off, the app not started). Then it builds the app as main.py does and measures on
the device, each step in a raw-REPL exec of its own (the code of an exec is on the heap while it
runs: a few lines each, so that the heap is the firmware's): gc.mem_alloc() after the imports and
after constructing the App, the emulated ms the imports and the App take, then OFF_MS paced ticks
in OFF, a START (the button's click) and RUN_MS more: the emulated ms from START to STANDBY (the
LED's blue) and the control tick's µs per state. Times are the emulator's cycle counts
(docs/emulation.md).

Two emulator runs take minutes: the figures are cached in build/perf/rp2040-<key>.json, keyed by
both images, the deployed sources and this measurement; `python -m host_tools.perf_frozen`
measures afresh (docs/performance.md).
"""
import ast
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

OFF_MS = 200  # paced ticks in OFF before START
RUN_MS = 3000  # paced ticks after START: SELFTEST, STANDBY and, on the dummy load, RUN
_START_S = 30
CACHE = os.path.join(paths.ROOT, "build", "perf")
_MEASURE_S = 900  # the emulator runs at 0.1-0.6 x real time, by the machine's load
# what `perf --json` must report for each image (tests/test_uf2.py, tests/test_perf.py)
FIGURES = ("heap_after_imports_bytes", "heap_after_boot_bytes", "imports_and_app_ms", "start_to_standby_ms")
TICK_STATES = ("OFF", "STANDBY", "RUN")

# Device side, after a maintenance boot: the app as main.py builds it, measured in three execs.
_IMPORTS = """import gc, time
t = time.ticks_us()
import board_config
from hal.rp2040 import Board
from roller.app import App
from roller import ui
t = time.ticks_diff(time.ticks_us(), t)
gc.collect()
print('IMPORTS', gc.mem_alloc(), t)
"""
# the App starts the watchdog: kept quiet (as after Ctrl-C) until the next exec ticks
_APP = """t = time.ticks_us()
app = App(Board())
t = time.ticks_diff(time.ticks_us(), t)
gc.collect()
m = gc.mem_alloc()
app.board._keep_watchdog_quiet(app.board._wdt)
print('APP', m, t)
"""
_TICKS = """app.board._keeper.deinit()
n = len(ui.STATE_NAMES)
us = [0] * n
ticks = [0] * n
ready_ms = -1
deadline = time.ticks_us()
for i in range(%d):
    if i == %d:
        t0 = time.ticks_us()
        app.dispatch(ui.START)
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
print('RESULT', {'start_to_standby_ms': ready_ms,
      'tick_us': {ui.STATE_NAMES[k]: round(us[k] / ticks[k], 1) for k in range(n) if ticks[k]},
      'ticks': {ui.STATE_NAMES[k]: ticks[k] for k in range(n) if ticks[k]}})
"""
_MEASURE = _IMPORTS + _APP + _TICKS  # what the figures depend on (the cache key)


class FrozenError(Exception):
    """Why the frozen image was not measured, as one line."""


def _cli(*args, timeout=300):
    python = os.path.join(os.path.dirname(paths.micropython_exe()), "python")
    proc = subprocess.run([python, "-m", "host_tools", *args], cwd=paths.ROOT, capture_output=True,
                          text=True, timeout=timeout)
    return proc.returncode, proc.stdout + proc.stderr


# the host's request for a maintenance boot (docs/flashing.md), typed at the REPL with the reset
_REQUEST = b"import hal.rp2040, machine; hal.rp2040.maintenance_next(); machine.reset()\r"
MAINTENANCE_LINE = b"main.py: maintenance boot"  # what main.py prints (firmware/main.py)
_PROMPT = b">>> "
_UP = "import sys\nprint('up', 'roller.app' in sys.modules)"


def maintenance_reset(port, timeout_s=_START_S):
    """Stop the app (Ctrl-C), ask for a maintenance boot and reset, and wait for main.py's line
    and the REPL's prompt after it: sooner, a host's Ctrl-C would stop main.py before it decides.
    One serial connection throughout, so the line cannot be missed or be an older boot's."""
    from host_tools.serial_link import open_port

    s = open_port(port)
    try:
        s.write(b"\r\x03\x03\x02")  # stop the app; out of a raw REPL (Ctrl-B)
        time.sleep(0.5)
        s.reset_input_buffer()
        s.write(_REQUEST)
        seen = b""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            seen += s.read(256)
            at = seen.find(MAINTENANCE_LINE)
            if at >= 0 and seen.find(_PROMPT, at) >= 0:
                return
    finally:
        s.close()
    raise FrozenError("no maintenance boot within %d s of the reset (the device printed %r)"
                      % (timeout_s, seen[-200:].decode("latin-1")))


def _parse(out, tag):
    line = [x for x in out.splitlines() if x.startswith(tag + " ")]
    if not line:
        raise FrozenError("the device printed no %s line: %r" % (tag, out[-300:]))
    return line[0][len(tag) + 1:]


def measure(uf2=None, preludes=("",), ticks=RUN_MS):
    """The figures as a dict; raises FrozenError. uf2=None: the stock MicroPython UF2 with the
    firmware deployed as .mpy (the same measurement, for comparison). With several preludes
    (device code run first, after each reset): a list, one dict per prelude."""
    from host_tools import emu_link, uf2_build

    if uf2 is not None and not uf2_build.verified(uf2):
        raise FrozenError("no image from make uf2 at %s" % os.path.relpath(uf2, paths.ROOT))
    problem = emu_link.missing()
    if problem:
        raise FrozenError(problem)
    python = os.path.join(os.path.dirname(paths.micropython_exe()), "python")
    reports = []
    with tempfile.TemporaryDirectory(prefix="perf-frozen-") as tmp:
        image = ["--uf2", uf2] if uf2 else []
        flash = os.path.join(tmp, "flash.bin")
        err = open(os.path.join(tmp, "emu.err"), "w")  # not a pipe: one nobody reads could fill
        proc = subprocess.Popen([python, "-m", "host_tools", "emu", *image, "--flash", flash], cwd=paths.ROOT,
                                stdout=subprocess.PIPE, stderr=err, text=True, start_new_session=True)
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
                maintenance_reset(port)
                imports, imports_us = _parse(device.mpremote(port, ["resume", "exec", prelude + _IMPORTS],
                                                             _MEASURE_S), "IMPORTS").split()
                built, app_us = _parse(device.mpremote(port, ["resume", "exec", _APP], _MEASURE_S),
                                       "APP").split()
                out = device.mpremote(port, ["resume", "exec", _TICKS % (OFF_MS + ticks, OFF_MS)], _MEASURE_S)
                report = ast.literal_eval(_parse(out, "RESULT"))
                report.update(heap_after_imports_bytes=int(imports), heap_after_boot_bytes=int(built),
                              imports_and_app_ms=round((int(imports_us) + int(app_us)) / 1000, 1),
                              uf2=os.path.basename(uf2 or emu_link.UF2_NAME))
                reports.append(report)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(15)
            proc.stdout.close()
            err.close()
    return reports if len(preludes) > 1 else reports[0]


def missing_figures(rp2040):
    """What `perf --json`'s "rp2040" lacks of this measurement's figures: [] when complete."""
    gaps = []
    for name in ("frozen", "deployed"):
        r = rp2040.get(name, {})
        if "skipped" in r:
            gaps.append("%s: %s" % (name, r["skipped"]))
            continue
        gaps += ["%s.%s" % (name, k) for k in FIGURES if not isinstance(r.get(k), (int, float)) or r[k] <= 0]
        gaps += ["%s.tick_us.%s" % (name, k) for k in TICK_STATES if not r.get("tick_us", {}).get(k)]
    if not isinstance(rp2040.get("run_tick_frozen_vs_deployed"), float):
        gaps.append("run_tick_frozen_vs_deployed")
    return gaps


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
    h.update(("%s %d %d" % (_MEASURE, OFF_MS, RUN_MS)).encode())
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
    if missing_figures(figures):
        return figures  # not cached: measured again next time
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
    gaps = missing_figures(figures)
    if gaps:
        print("perf_frozen: error: not measured: %s" % "; ".join(gaps), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
