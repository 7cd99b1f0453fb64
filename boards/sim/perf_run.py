"""Unix-port entry for `perf`: micropython boards/sim/perf_run.py MODE FLASH_DIR [N [REPS]]

Modes (the last stdout line is JSON; per-state results are [state, value] pairs in tour order):
  heap              gc.mem_alloc() once the App is constructed on an empty flash
  alloc N           N ticks per state under heap_lock: null when alloc-free, else why
  alloc-bad N       the same with a tick that allocates (proves the check can fail)
  time N REPS       best of REPS: us per tick (tick loop minus the same loop without it)
  count N           divmod() marks blocks of N and 2N ticks (and idle service() calls) for
                    callgrind --dump-before
"""
import sys

_here = __file__.rsplit("/", 3)[0] if __file__.count("/") >= 3 else "."
sys.path.insert(0, _here + "/firmware")
sys.path.insert(0, _here)

import gc  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402

EMPTY_PER_TICK = 10  # empty-loop iterations timed per measured tick: a longer, steadier run


def empty(n):
    for _ in range(n):
        pass


def heap(flash_dir):
    from boards.sim.flash import Flash
    from boards.sim.model import Model
    from boards.sim.quiet_board import QuietBoard
    from roller.app import App

    app = App(QuietBoard(Model(1), Flash(flash_dir)))
    gc.collect()
    return {"heap_after_boot_bytes": gc.mem_alloc(), "app": app.state}


def alloc(rig, n, allocating, tick_only=False):
    """`tick_only`: the lock around the tick alone (a 31-bit port: Rig.ticks_locking_the_tick)."""
    tick = None
    if allocating:
        real = rig.app.tick

        def tick():
            real()
            rig.scratch = [rig.app.state]  # a new list every tick

    return [[label, rig.locked_ticks(n, tick, tick_only)] for label in rig.tour()]


def _best_us(run, n, reps):
    best = None
    for _ in range(reps):
        gc.collect()
        start = time.ticks_us()
        run(n)
        us = time.ticks_diff(time.ticks_us(), start)
        best = us if best is None or us < best else best
    return best


def timing(rig, n, reps):
    out = [["empty", _best_us(empty, n * EMPTY_PER_TICK, reps) / (n * EMPTY_PER_TICK)]]
    for label in rig.tour():
        tick_us = _best_us(rig.ticks, n, reps)
        rig.hold()
        idle_us = _best_us(rig.idle, n, reps)
        rig.hold()
        out.append([label, (tick_us - idle_us) / n])
    return out


def count(rig, n):
    """Blocks between divmod() marks; the host reads one callgrind dump per block."""
    labels = []

    def block(label, run, count_n):
        gc.collect()
        divmod(0, 1)
        run(count_n)
        divmod(0, 1)
        rig.hold()
        labels.append(label)

    block("empty/1", empty, n)
    block("empty/2", empty, 2 * n)
    for label in rig.tour():
        block(label + "/tick/1", rig.ticks, n)
        block(label + "/tick/2", rig.ticks, 2 * n)
        block(label + "/idle/1", rig.idle, n)
        block(label + "/idle/2", rig.idle, 2 * n)
    block("service_idle/1", rig.services, n)
    block("service_idle/2", rig.services, 2 * n)
    return {"n": n, "blocks": labels}


def main(argv):
    mode = argv[1]
    if mode == "heap":
        print(json.dumps(heap(argv[2])))
        return 0
    from boards.sim.perf_rig import Rig

    rig = Rig(argv[2], _here + "/firmware")
    n = int(argv[3])
    if mode in ("alloc", "alloc-bad"):
        result = alloc(rig, n, mode == "alloc-bad")
    elif mode == "time":
        result = timing(rig, n, int(argv[4]))
    elif mode == "count":
        result = count(rig, n)
    else:
        print("unknown mode " + mode)
        return 2
    print(json.dumps(result))
    return 0


if __name__ == "__main__":  # imported on the emulated Pico (host_tools/emu_perf.py)
    sys.exit(main(sys.argv))
