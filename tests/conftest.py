"""Shared fixtures: the firmware importable on CPython, and scenario runs on both runtimes."""
import io
import json
import os
import subprocess
import sys
import tempfile

import pytest
from hypothesis import settings

from host_tools import paths

paths.use_firmware_on_cpython()

# CI gates landing, so its hypothesis runs are reproducible (the same examples every run);
# developers' runs and `pytest -m slow` keep hunting at random.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


def run_sim(doc, runtime="cpython", tmp_dir=None, vbus_interlock=True):
    """Run a scenario dict on the virtual board; returns the trace as a list of events.
    `vbus_interlock=False` (CPython only) takes out the hardware charging interlock, so a
    test sees the firmware's own R6 reaction in the current."""
    tmp_dir = tmp_dir or tempfile.mkdtemp(prefix="roller-test-")
    if not vbus_interlock:
        from boards.sim import runner

        out = io.StringIO()
        runner.run_text(json.dumps(doc), out, "cpython", os.path.join(tmp_dir, "fs"), paths.FIRMWARE,
                        vbus_interlock=False)
        return [json.loads(line) for line in out.getvalue().splitlines()]
    scenario_path = os.path.join(tmp_dir, "scenario.json")
    trace_path = os.path.join(tmp_dir, "trace.jsonl")
    with open(scenario_path, "w") as f:
        json.dump(doc, f)
    from host_tools.cmd_sim import run_scenario

    code, error = run_scenario(scenario_path, trace_path, runtime)
    assert code == 0, error
    with open(trace_path) as f:
        return [json.loads(line) for line in f]


@pytest.fixture
def sim(tmp_path):
    """Runs a scenario and judges its trace with the independent oracle (tests/oracle.py) before
    the test's own assertions; `judge=False` for the few tests of the oracle's blind spots."""

    def _run(doc, runtime="cpython", vbus_interlock=True, judge=True):
        events = run_sim(doc, runtime, str(tmp_path), vbus_interlock)
        if judge:
            from tests.oracle import assert_safe

            assert_safe(doc, events)
        return events

    return _run


def run_cli(*args, stdin=None):
    """`python -m host_tools ARGS` in a subprocess: (exit code, stdout, stderr)."""
    proc = subprocess.run(
        [sys.executable, "-m", "host_tools", *args],
        capture_output=True, text=True, cwd=paths.ROOT, input=stdin,
    )
    return proc.returncode, proc.stdout, proc.stderr
