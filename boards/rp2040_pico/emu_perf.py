"""Emulated Pico only (`python -m host_tools perf --rp2040`, docs/performance.md): the control
tick on the real HAL, timed with time.ticks_us in emulated time. Run with `mpremote run` on the
deployed image (the app stopped), the emulator's dummy load on the electrodes. Prints one JSON line.

Every state of the perf rig's tour (boards/sim/perf_rig.py), reached as a user would: USB in and
out, the skin on and off (asked of `emu` through the probe: "bench usb 1", "bench skin 0"), the
`start` command, the programs in turn, the session's last second, a fault. In each, 10,000 paced
ticks under heap_lock: a tick that allocates raises MemoryError. The paced loop is the HAL's
(common.run_paced) without service(), which allocates.
"""
import gc
import json
import sys
import time

import emu_probe
import micropython
from micropython import const

from hal import common
from hal.rp2040 import Board
from roller import app as app_module
from roller import faults, ui

_LOCKED_TICKS = const(10_000)
_CHUNK_TICKS = const(1000)  # between two rewinds of the state timers, as the perf rig's hold()
_SETTLE_MS = const(3000)  # past the self-test and the soft start
_TICK_US = const(1000)
_SKIN_OHM = const(20_000)  # as emu's dummy load

# the image's boot.py imported emu_probe, whose telemetry formats strings: put back the HAL's own
# hooks (from a second load of hal.common) and App.__init__, so what runs is what a board runs
del sys.modules["hal.common"]
__import__("hal.common")
for _name in ("emit_state", "emit_fault", "emit_cue"):
    setattr(common.Board, _name, getattr(sys.modules["hal.common"].Board, _name))
sys.modules["hal.common"] = common
app_module.App.__init__ = emu_probe._init
gc.collect()

board = Board()
app = app_module.App(board)
gc.collect()
report = {"heap_after_boot_bytes": gc.mem_alloc(), "tick_us": {}, "tick_max_us": {}, "alloc_free": {}}


def paced(n, lock=False):
    """n ticks at 1 kHz; (sum µs, max µs, min and max gap between tick starts in µs)."""
    tick = app.tick
    total = worst = gap_max = 0
    gap_min = 1 << 29
    last = None
    if lock:
        micropython.heap_lock()
    deadline = time.ticks_us()
    for _ in range(n):
        start = time.ticks_us()
        tick()
        took = time.ticks_diff(time.ticks_us(), start)
        total += took
        if took > worst:
            worst = took
        if last is not None:
            gap = time.ticks_diff(start, last)
            if gap < gap_min:
                gap_min = gap
            if gap > gap_max:
                gap_max = gap
        last = start
        if not lock:
            app.service()
        deadline = time.ticks_add(deadline, _TICK_US)
        wait = time.ticks_diff(deadline, time.ticks_us())
        if wait > 0:
            time.sleep_us(wait)
    if lock:
        micropython.heap_unlock()
    return total, worst, gap_min, gap_max


def measure(label):
    """10,000 locked ticks in `label`; the jitter (max - min gap between tick starts) in µs."""
    state = ui.STATE_NAMES[app.state]
    if label.split("_")[0] != state:
        raise RuntimeError("expected %s, in %s" % (label, state))
    total = worst = gap_max = 0
    gap_min = 1 << 29
    for _ in range(_LOCKED_TICKS // _CHUNK_TICKS):
        app.timer_ms = 0  # DONE ends after 5 s, idle after 120 s: stay in the state
        try:
            took, most, low, high = paced(_CHUNK_TICKS, lock=True)
        except MemoryError:
            micropython.heap_unlock()
            report["alloc_free"][label] = False
            return None
        total += took
        worst = max(worst, most)
        gap_min = min(gap_min, low)
        gap_max = max(gap_max, high)
    report["alloc_free"][label] = True
    report["tick_us"][label] = total / _LOCKED_TICKS
    report["tick_max_us"][label] = worst
    return gap_max - gap_min


app.apply_settings({"level": 3, "session_s": 600, "cue_s": 10})
paced(100)
measure("OFF")
emu_probe._put("bench usb 1")
paced(100)
measure("CHARGING")
emu_probe._put("bench usb 0")
emu_probe._put("bench skin 0")
paced(100)
app.dispatch(ui.START)  # as the `start` command does: the self-test, then STANDBY
paced(_SETTLE_MS)
measure("STANDBY")
emu_probe._put("bench skin %d" % _SKIN_OHM)
for program in ("lift", "tone", "eye", "sculpt"):
    app.apply_settings({"program": program})
    paced(_SETTLE_MS)
    jitter = measure("RUN_" + program)
    if program == "lift":
        report["run_jitter_us"] = jitter  # max - min time between tick starts, 10 s of RUN
emu_probe._put("bench skin 0")
paced(100)
measure("PAUSED")
emu_probe._put("bench skin %d" % _SKIN_OHM)
paced(_SETTLE_MS)
session = app.session
session.contact_ms = session.limit_ms - 1000  # the session's last second
paced(2000)
measure("DONE")
app.on_fault(faults.SENSE_FAULT)
paced(10)
measure("FAULT")
print(json.dumps(report))
