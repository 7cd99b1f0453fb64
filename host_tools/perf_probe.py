"""Runs boards/sim/perf_run.py on the unix port: heap, alloc-free, timing, callgrind counts."""
import glob
import json
import os
import shutil
import subprocess
import tempfile

from host_tools import paths

PERF_RUN = os.path.join(paths.ROOT, "boards", "sim", "perf_run.py")
HEAPSIZE = "1M"  # room for the rig; the firmware's own need is measured by min_heapsize_kb
MARK_FUNCTION = "mp_builtin_divmod"  # perf_run.py's block marks: divmod(0, 1)
ALLOC_FUNCTION = "gc_alloc"  # every heap allocation, including bytecode frames over 11 slots


class ProbeError(Exception):
    """A perf_run.py run that failed: the message is its last output line."""


def _run(args, prefix=()):
    flash_dir = tempfile.mkdtemp(prefix="roller-perf-")
    try:
        cmd = [*prefix, paths.micropython_exe(), "-X", "heapsize=" + HEAPSIZE, PERF_RUN,
               args[0], flash_dir + "/fs", *map(str, args[1:])]
        proc = subprocess.run(cmd, capture_output=True, text=True)
    finally:
        shutil.rmtree(flash_dir, ignore_errors=True)
    lines = (proc.stdout + proc.stderr).strip().splitlines() or ["exit %d" % proc.returncode]
    if proc.returncode != 0:
        raise ProbeError("perf_run.py %s: %s" % (args[0], lines[-1]))
    return json.loads(proc.stdout.strip().splitlines()[-1])


def heap_after_boot_bytes():
    return _run(["heap"])["heap_after_boot_bytes"]


def alloc_free(ticks, allocating=False):
    """{state: None when alloc-free, else why} for `ticks` locked ticks per state."""
    return dict(_run(["alloc-bad" if allocating else "alloc", ticks]))


def tick_us(ticks, reps):
    """{state: us per tick, "empty": us per empty-loop iteration} (best of `reps`)."""
    return dict(_run(["time", ticks, reps]))


def valgrind_exe():
    return shutil.which("valgrind")


def tick_instructions(ticks):
    """Callgrind, per tick: ({state: instructions, "empty": per empty-loop iteration,
    "service_idle": per idle App.service()}, {the same: gc_alloc calls}).

    Every block runs n and 2n times between two marks; (cost(2n) - cost(n)) / n leaves the
    per-iteration cost alone. A tick's cost is its loop's minus the same loop without it.
    """
    out_dir = tempfile.mkdtemp(prefix="roller-callgrind-")
    try:
        prefix = [valgrind_exe(), "--tool=callgrind", "--compress-strings=no",
                  "--dump-before=" + MARK_FUNCTION,
                  "--callgrind-out-file=" + os.path.join(out_dir, "cg.out")]
        result = _run(["count", ticks], prefix)
        blocks = _read_blocks(out_dir, len(result["blocks"]))
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)
    n = result["n"]
    instructions = _per_tick([b[0] for b in blocks], result["blocks"], n)
    allocs = _per_tick([b[1] for b in blocks], result["blocks"], n)
    allocs.pop("empty")
    return ({k: round(v) for k, v in instructions.items()},
            {k: round(v, 2) for k, v in allocs.items()})


def _per_tick(values, labels, n):
    per = {}
    for label, value in zip(labels, values, strict=True):
        name, times = label.rsplit("/", 1)
        per.setdefault(name, {})[times] = value
    slope = {name: (v["2"] - v["1"]) / n for name, v in per.items()}
    out = {}
    for name in slope:
        if name.endswith("/tick"):
            state = name[: -len("/tick")]
            out[state] = slope[name] - slope[state + "/idle"]
        elif not name.endswith("/idle"):  # "empty", "service_idle": taken as they are
            out[name] = slope[name]
    return out


def _read_blocks(out_dir, n_blocks):
    """[(instructions, gc_alloc calls)] per block. Dump k holds the cost up to mark k:
    block i (between marks 2i+1 and 2i+2) is dump 2i+2."""
    dumps = glob.glob(os.path.join(out_dir, "cg.out.*"))
    if len(dumps) < 2 * n_blocks:
        raise ProbeError("callgrind wrote %d dumps for %d blocks" % (len(dumps), n_blocks))
    return [_read_dump(os.path.join(out_dir, "cg.out.%d" % (2 * i + 2))) for i in range(n_blocks)]


def _read_dump(path):
    """(total instructions, calls of ALLOC_FUNCTION) of one uncompressed callgrind dump."""
    totals = None
    allocs = 0
    to_alloc = False
    with open(path) as f:
        for line in f:
            if line.startswith("cfn="):
                to_alloc = line.split()[0] == "cfn=" + ALLOC_FUNCTION
            elif line.startswith("calls=") and to_alloc:
                allocs += int(line[6:].split()[0])
            elif line.startswith("totals:"):
                totals = int(line.split()[1])
    if totals is None:
        raise ProbeError("no totals in " + path)
    return totals, allocs
