"""Resource figures: deployed .mpy bytes per board, smallest heap for the demo, sim speed."""
import os
import resource
import shutil
import tempfile

from host_tools import cmd_sim, firmware_build, paths, trace_read

HEAP_LOW_KB = 8
HEAP_HIGH_KB = cmd_sim.HEAPSIZE_KB
BOARDS = ("esp32", "rp2040")  # firmware_build aliases


def mpy_bytes(board):
    """mpy-cross output for every file `deploy` puts on `board` (main.py and boot.py
    included, though deployed as source); raises CalledProcessError when one does not compile."""
    b = firmware_build.board(board)
    out_dir = tempfile.mkdtemp(prefix="roller-mpy-")
    try:
        total = 0
        for i, (src, dev) in enumerate(firmware_build.sources(b)):
            out = os.path.join(out_dir, "%d.mpy" % i)
            firmware_build.compile_mpy(os.path.join(paths.ROOT, src), out, dev, b.arch)
            total += os.path.getsize(out)
        return total
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)


def _demo_completes(heap_kb, doc):
    work = tempfile.mkdtemp(prefix="roller-heap-")
    try:
        trace = os.path.join(work, "trace.jsonl")
        if cmd_sim.run_unix_port(doc, trace, work, heap_kb)[0] != 0:
            return False
        events = trace_read.load(trace)
        return bool(events) and events[-1]["kind"] == "end"
    finally:
        shutil.rmtree(work, ignore_errors=True)


def min_heapsize_kb(scenario_path, step_kb=1):
    """Smallest -X heapsize (to `step_kb`) in which the scenario runs to its end; None if
    even HEAP_HIGH_KB is too small. Runs the precompiled code, as `sim` does."""
    doc, error = cmd_sim.check_scenario(scenario_path)
    if error:
        raise RuntimeError(error)
    if not _demo_completes(HEAP_HIGH_KB, doc):
        return None
    if _demo_completes(HEAP_LOW_KB, doc):
        return HEAP_LOW_KB
    low, high = HEAP_LOW_KB, HEAP_HIGH_KB  # invariant: high completes, low does not
    while high - low > step_kb:
        mid = (low + high) // 2
        if _demo_completes(mid, doc):
            high = mid
        else:
            low = mid
    return high


def _cpu_s():
    """CPU seconds of this process and its finished children: other load on the machine
    stretches wall time, not this."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def sim_realtime_factor(scenario_path, runtime):
    """Simulated seconds per CPU second of a whole `sim` run (start-up included)."""
    work = tempfile.mkdtemp(prefix="roller-speed-")
    try:
        trace = os.path.join(work, "trace.jsonl")
        start_s = _cpu_s()
        code, error = cmd_sim.run_scenario(scenario_path, trace, runtime)
        cpu_s = _cpu_s() - start_s
        if code:
            raise RuntimeError(error)
        end = trace_read.load(trace)[-1]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return end["t"] / cpu_s
