"""`perf --rp2040`: the figures measured on the emulated RP2040 (docs/performance.md).

Two runs on the emulated Pico (rp2040js at 125 MHz: instruction cycles, no flash-cache misses
or wait states, so close to a real chip, not equal to it):
- the real HAL: boards/rp2040_pico/emu_perf.py on the deployed image (sim --runtime pico's
  cached image), the app stopped, a 20 kOhm dummy load it lifts and USB it plugs in through
  `emu`'s bench probe: tick µs in every state of the perf rig's tour, 10,000 ticks per state
  under heap_lock, tick jitter over 10 s of RUN, gc.mem_alloc() after boot;
- the virtual board: boards/sim/perf_run.py's timing, alloc and heap on the armv6m code
  (sim --runtime pico-sim's cached image): every state of the perf rig, the empty loop.
"""
import json
import os
import shutil
import subprocess
import tempfile

from host_tools import emu_board, emu_link, emu_sim, paths

CLOCK_MHZ = 125
SKIN_OHM = 20_000  # as the perf rig's
TARGET_RUN_TICK_US = 150  # issue 15, real HAL at 125 MHz
TIME_TICKS = 1000  # per state: emulated time has no load noise, one run of each is enough
ALLOC_TICKS = 10_000
_DEVICE_SCRIPT = os.path.join(paths.ROOT, "boards", "rp2040_pico", "emu_perf.py")
_TIMEOUT_S = 3600
_VBOARD = """import gc, json, sys
sys.path[:0] = ['{d}/code', '{d}/firmware']
from boards.sim import perf_run
from boards.sim.perf_rig import Rig
print(json.dumps(["heap", perf_run.heap('{d}/heap')]))
gc.collect()
print(json.dumps(["time", perf_run.timing(Rig('{d}/time', '{d}/firmware'), {n}, 1)]))
gc.collect()
print(json.dumps(["alloc", perf_run.alloc(Rig('{d}/alloc', '{d}/firmware'), {a}, False, True)]))
"""


def _mpremote(image, load_ohm, args):
    """stdout of mpremote on a copy of a cached image, the emulator around it."""
    work = tempfile.mkdtemp(prefix="emu-perf-")
    try:
        flash = os.path.join(work, "flash.bin")
        shutil.copyfile(image, flash)
        with emu_sim.emu_port(flash, emu_link.uf2_path(), load_ohm) as port:
            proc = subprocess.run([paths.tool_exe("mpremote"), "connect", port, "resume"] + args,
                                  cwd=paths.ROOT, capture_output=True, text=True, timeout=_TIMEOUT_S)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if proc.returncode != 0:
        last = ((proc.stdout + proc.stderr).strip().splitlines() or ["exit %d" % proc.returncode])[-1]
        raise emu_sim.PicoSimError("on the emulated Pico: " + last)
    return [line for line in proc.stdout.replace("\r", "").splitlines() if line.startswith(("{", "["))]


def real_hal(log):
    image, _ = emu_sim.cached_image(log=log)
    log("the tick on the real HAL on the emulated RP2040 (about 5 minutes)")
    out = json.loads(_mpremote(image, SKIN_OHM, ["run", _DEVICE_SCRIPT])[-1])
    out["tick_us"] = {state: round(us, 1) for state, us in out["tick_us"].items()}
    return out


def virtual_board(log):
    image = emu_board.cached_image(log=log)
    log("the virtual board on the emulated RP2040 (about 10 minutes)")
    script = _VBOARD.format(d="/vb", n=TIME_TICKS, a=ALLOC_TICKS)
    parts = dict(json.loads(line) for line in _mpremote(image, None, ["exec", script]))
    timing = dict(parts["time"])
    empty_us = timing.pop("empty")
    errors = dict(parts["alloc"])
    return {
        "tick_us": {state: round(us, 1) for state, us in timing.items()},
        "empty_loop_us": round(empty_us, 2),
        "tick_vs_empty_loop": {state: round(us / empty_us, 1) for state, us in timing.items()},
        "alloc_free": {state: not error for state, error in errors.items()},
        "alloc_errors": {state: error for state, error in errors.items() if error},
        "alloc_ticks_per_state": ALLOC_TICKS,
        # the lock around app.tick() alone: the model's xorshift32 noise makes big ints on a
        # 31-bit port (the firmware's tick does not: the real HAL's run locks its whole loop)
        "alloc_locks": "tick",
        "heap_after_boot_bytes": parts["heap"]["heap_after_boot_bytes"],
    }


def measure(log):
    """The "rp2040" dict of `perf --json` (other keys, such as "frozen", may sit beside these);
    RuntimeError with one line when the emulated Pico cannot give them."""
    try:
        hal = real_hal(log)
        board = virtual_board(log)
    except (emu_link.EmuError, emu_sim.PicoSimError) as exc:
        raise RuntimeError("rp2040: %s" % exc) from None
    except subprocess.TimeoutExpired:
        raise RuntimeError("rp2040: the emulated Pico took over %d s" % _TIMEOUT_S) from None
    except (ValueError, KeyError, IndexError) as exc:
        raise RuntimeError("rp2040: the emulated Pico's report is unreadable (%s)" % exc) from None
    run_us = max(us for state, us in hal["tick_us"].items() if state.startswith("RUN"))
    return {
        "emulated": "rp2040js %s at %d MHz: instruction cycles, no flash-cache misses or wait states"
                    % (emu_link.RP2040JS_VERSION, CLOCK_MHZ),
        "real_hal": hal,
        "virtual_board": board,
        "empty_loop_us": board["empty_loop_us"],
        "run_tick_vs_empty_loop": round(run_us / board["empty_loop_us"], 1),
        "targets": {
            "run_tick_us_%d" % TARGET_RUN_TICK_US: run_us <= TARGET_RUN_TICK_US,
            "alloc_free": all(hal["alloc_free"].values()) and all(board["alloc_free"].values()),
        },
    }
