"""`sim SCENARIO`: run a scenario on the virtual board and write the C2 trace."""
import os
import shutil
import subprocess
import sys
import tempfile
import time

from host_tools import paths, sim_code, trace_read

HEAPSIZE = "256k"


def register(sub):
    p = sub.add_parser(
        "sim",
        help="run a scenario on the virtual board",
        description="Run a scenario (a JSON file or a built-in name such as 'demo') on the "
        "virtual board and write the trace (C2).",
    )
    p.add_argument("scenario", help="path to a scenario JSON file, or a built-in name")
    p.add_argument("--trace", metavar="F.jsonl", help="trace output (default build/NAME.jsonl)")
    p.add_argument("--runtime", choices=("cpython", "micropython"), default="micropython")
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
    """The checked scenario document, or raises ScenarioError / OSError."""
    paths.use_firmware_on_cpython()
    from boards.sim import scenario

    with open(path, "rb") as f:
        raw = f.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise scenario.ScenarioError("not UTF-8 text") from None
    return text, scenario.parse(text)


def run_scenario(path, trace_path, runtime):
    """Run a checked scenario file; returns (exit code, error line or None)."""
    flash_dir = tempfile.mkdtemp(prefix="roller-flash-")
    try:
        if runtime == "cpython":
            paths.use_firmware_on_cpython()
            from boards.sim import runner

            with open(path) as f:
                text = f.read()
            with open(trace_path, "w") as out:
                runner.run_text(text, out, "cpython", flash_dir + "/fs", paths.FIRMWARE, time.monotonic)
            return 0, None
        try:
            code_dir = sim_code.code_dir()
        except sim_code.SimCodeError as exc:
            return 1, str(exc)
        cmd = [paths.micropython_exe(), "-X", "heapsize=" + HEAPSIZE, paths.SIM_RUN,
               os.path.abspath(path), os.path.abspath(trace_path), flash_dir + "/fs", code_dir]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            lines = (proc.stdout + proc.stderr).strip().splitlines() or ["exit %d" % proc.returncode]
            return (2 if proc.returncode == 2 else 1), "micropython: " + lines[-1]
        return 0, None
    finally:
        shutil.rmtree(flash_dir, ignore_errors=True)


def run(args):
    path = resolve(args.scenario)
    if path is None:
        return fail("%s: no such file and no built-in scenario of that name (built-in: %s)"
                    % (args.scenario, ", ".join(builtin_names())))
    paths.use_firmware_on_cpython()
    from boards.sim.scenario import ScenarioError

    try:
        _, doc = check_scenario(path)
    except OSError as exc:
        return fail("scenario %s: cannot be read (%s)" % (path, exc.strerror or exc))
    except ScenarioError as exc:
        return fail("scenario %s: %s" % (path, exc))
    trace_path = args.trace or os.path.join("build", doc["name"] + ".jsonl")
    for out_path in (trace_path, args.vcd, args.plot):
        if out_path and os.path.dirname(out_path):
            os.makedirs(os.path.dirname(out_path), exist_ok=True)
    code, error = run_scenario(path, trace_path, args.runtime)
    if error:
        sys.stderr.write("sim: error: %s\n" % error)
        return code
    events = trace_read.load(trace_path)
    written = ["trace " + trace_path]
    if args.vcd:
        from host_tools.trace_vcd import write_vcd

        write_vcd(events, args.vcd)
        written.append("vcd " + args.vcd)
    if args.plot:
        from host_tools.trace_plot import plot_trace

        plot_trace(events, args.plot)
        written.append("plot " + args.plot)
    if not args.quiet:
        print(trace_read.summary(events))
        print("written    " + ", ".join(written))
    return 0
