"""`sim SCENARIO`: run a scenario on the virtual board and write the C2 trace."""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

from host_tools import paths, sim_code, trace_read

# the unix port's heap: the simulator's code and state (~130 KB), the virtual board's receive
# buffer and a few copies of the longest write (boards/sim/board.py), with room to spare: the
# writes of tests/test_scenario_input.py run in 256 KB, and 1 MB costs no time
HEAPSIZE_KB = 1024


def register(sub):
    p = sub.add_parser(
        "sim",
        help="run a scenario on the virtual board",
        description="Run a scenario (a JSON file or a built-in name such as 'demo') on the "
        "virtual board and write the trace (C2).",
    )
    p.add_argument("scenario", help="path to a scenario JSON file, or a built-in name")
    p.add_argument("--trace", metavar="F.jsonl", help="trace output (default build/NAME.jsonl)")
    p.add_argument("--runtime", choices=("cpython", "micropython", "pico", "pico-frozen", "pico-sim"),
                   default="micropython",
                   help="pico: the emulated Raspberry Pi Pico with the real HAL; pico-frozen: the same on "
                   "the frozen image (make uf2's variant with the trace probe); pico-sim: the virtual "
                   "board inside the emulated Pico, armv6m code (docs/emulation.md)")
    p.add_argument("--vcd", metavar="F.vcd", help="also write a VCD of the trace")
    p.add_argument("--plot", metavar="F.png", help="also plot the trace")
    p.add_argument("--quiet", action="store_true", help="no summary")
    p.set_defaults(func=run)


def builtin_names():
    return sorted(n[:-5] for n in os.listdir(paths.SCENARIOS) if n.endswith(".json"))


def resolve(name_or_path):
    """Path of a scenario file, or None."""
    if os.path.isfile(name_or_path):
        return name_or_path
    builtin = os.path.join(paths.SCENARIOS, name_or_path + ".json")
    return builtin if os.path.isfile(builtin) else None


def fail(message):
    sys.stderr.write("sim: error: %s\n" % message)
    return 2


def check_scenario(path):
    """(the checked scenario document, None), or (None, the error line)."""
    paths.use_firmware_on_cpython()
    from boards.sim import scenario

    try:
        with open(path, "rb") as f:
            text = f.read().decode("utf-8")
        return scenario.parse(text), None
    except OSError as exc:
        return None, "scenario %s: cannot be read (%s)" % (path, exc.strerror or exc)
    except UnicodeDecodeError:
        return None, "scenario %s: not UTF-8 text" % path
    except scenario.ScenarioError as exc:
        return None, "scenario %s: %s" % (path, exc)


def run_scenario(path, trace_path, runtime):
    """Check and run a scenario file; returns (exit code, error line or None)."""
    doc, error = check_scenario(path)
    return run_checked(doc, trace_path, runtime) if error is None else (2, error)


def run_checked(doc, trace_path, runtime):
    """Run a checked scenario; returns (exit code, error line or None). A run that fails
    removes its trace file: only a complete trace is left."""
    try:
        out = open(trace_path, "w", encoding="utf-8")
    except OSError as exc:
        return 2, "trace %s: cannot be written (%s)" % (trace_path, exc.strerror or exc)
    work = tempfile.mkdtemp(prefix="roller-sim-")
    code = 1  # until the run completes: an interrupted one leaves no trace either
    try:
        with out:
            if runtime == "cpython":
                from boards.sim.runner import Runner

                try:
                    Runner(doc, out, "cpython", work + "/fs", paths.FIRMWARE).run(time.monotonic)
                    code, error = 0, None
                except OSError as exc:  # a full disk, most likely
                    code, error = 1, "the run stopped: %s" % exc
            elif runtime == "pico-frozen":
                code, error = run_frozen(doc, trace_path, work)
            elif runtime in ("pico", "pico-sim"):
                from host_tools import emu_board, emu_sim

                code, error = (emu_sim if runtime == "pico" else emu_board).run_scenario(
                    doc, trace_path, work, log=lambda line: sys.stderr.write(line + "\n"))
            else:
                code, error = run_unix_port(doc, trace_path, work)
        return code, error
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if code and os.path.isfile(trace_path):  # a regular file: not /dev/stdout
            os.remove(trace_path)


def run_frozen(doc, trace_path, work):
    """(exit code, error line or None): the scenario on the emulated Pico running the frozen
    image, built (cached) with the trace probe in its boot.py (host_tools/uf2_build.py --probe)."""
    from host_tools import emu_sim, uf2_build

    log = lambda line: sys.stderr.write(line + "\n")  # noqa: E731
    try:
        rec = uf2_build.build(probe=True, log=log)
    except uf2_build.BuildError as exc:
        return 2, "the frozen image: %s" % exc
    return emu_sim.run_scenario(doc, trace_path, work, uf2=os.path.join(paths.ROOT, rec["uf2"]), log=log)


def run_unix_port(doc, trace_path, work, heap_kb=None):
    """(exit code, error line or None) of boards/sim/run.py fed a checked scenario's timeline;
    `work`: a directory for the timeline and the flash."""
    from boards.sim import scenario

    try:
        code_dir = sim_code.code_dir()
    except sim_code.SimCodeError as exc:
        return 1, str(exc)
    timeline = os.path.join(work, "timeline.jsonl")
    with open(timeline, "w", encoding="utf-8") as f:
        scenario.write_timeline(doc, f)
    heapsize = "%dk" % (heap_kb or HEAPSIZE_KB)
    cmd = [paths.micropython_exe(), "-X", "heapsize=" + heapsize, paths.SIM_RUN, timeline,
           os.path.abspath(trace_path), work + "/fs", code_dir]
    proc = subprocess.run(cmd, capture_output=True, text=True, errors="replace")
    if proc.returncode == 0:
        return 0, None
    last = ((proc.stdout + proc.stderr).strip().splitlines() or ["exit %d" % proc.returncode])[-1]
    if last.startswith("MemoryError"):
        return 1, ("micropython: the simulator's heap (-X heapsize=%s) is full (%s); --runtime cpython "
                   "has no such limit" % (heapsize, last))
    return 1, "micropython: " + last


def default_trace_path(name):
    """build/NAME.jsonl, with what cannot be in a file name (/, NUL) as _."""
    return os.path.join("build", re.sub(r"[/\x00]", "_", name) + ".jsonl")


def run(args):
    path = resolve(args.scenario)
    if path is None:
        return fail("%s: no such file and no built-in scenario of that name (built-in: %s)"
                    % (args.scenario, ", ".join(builtin_names())))
    doc, error = check_scenario(path)
    if error:
        return fail(error)
    trace_path = args.trace or default_trace_path(doc["name"])
    for out_path in (trace_path, args.vcd, args.plot):
        if out_path and os.path.dirname(out_path):
            try:
                os.makedirs(os.path.dirname(out_path), exist_ok=True)
            except OSError as exc:
                return fail("%s: cannot be written (%s)" % (out_path, exc.strerror or exc))
    code, error = run_checked(doc, trace_path, args.runtime)
    if error:
        sys.stderr.write("sim: error: %s\n" % error)
        return code
    events = trace_read.load(trace_path)
    written = ["trace " + trace_path]
    out_path = None
    try:
        if args.vcd:
            from host_tools.trace_vcd import write_vcd

            out_path = args.vcd
            write_vcd(events, args.vcd)
            written.append("vcd " + args.vcd)
        if args.plot:
            from host_tools.trace_plot import plot_trace

            out_path = args.plot
            plot_trace(events, args.plot)
            written.append("plot " + args.plot)
    except OSError as exc:
        return fail("%s: cannot be written (%s)" % (out_path, exc.strerror or exc))
    if not args.quiet:
        print(trace_read.summary(events))
        print("written    " + ", ".join(written))
    return 0
