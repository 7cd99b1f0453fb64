"""Evidence level 1 (docs/emulation.md): the virtual board (boards/sim) inside the emulated Pico,
its code armv6m .mpy, runs the demo; the trace equals the unix port's record for record, but the
wall time. It proves the viper and native code of the tick on the RP2040's instruction set
(32-bit words, 31-bit small ints, Thumb-1). About 2 minutes with the image cached: `pytest -m slow`."""
import json
import os
import subprocess

import pytest

from host_tools import emu_link, paths

PYTHON = os.path.join(os.path.dirname(paths.micropython_exe()), "python")
MISSING = emu_link.missing()


def records(path):
    """The trace's records, all but the wall time."""
    with open(path) as f:
        events = [json.loads(line) for line in f]
    for event in events:
        event.pop("wall_s", None)
    return events


def sim(name, runtime, trace):
    proc = subprocess.run([PYTHON, "-m", "host_tools", "sim", name, "--runtime", runtime, "--trace", trace,
                           "--quiet"], cwd=paths.ROOT, capture_output=True, text=True, timeout=3600)
    assert proc.returncode == 0, proc.stderr
    return records(trace)


@pytest.mark.slow
@pytest.mark.skipif(MISSING is not None, reason="emulated Pico: %s" % MISSING)
def test_the_demo_on_the_virtual_board_in_the_pico_is_the_unix_ports(tmp_path):
    pico = sim("demo", "pico-sim", str(tmp_path / "pico.jsonl"))
    unix = sim("demo", "micropython", str(tmp_path / "unix.jsonl"))
    assert len(pico) == len(unix) > 1000
    differ = [(i, a, b) for i, (a, b) in enumerate(zip(pico, unix, strict=True)) if a != b]
    assert not differ, differ[:5]
    assert pico[-1]["kind"] == "end" and pico[-1]["ticks"] == 90_000
