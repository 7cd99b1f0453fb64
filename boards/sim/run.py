"""Unix-port entry: micropython boards/sim/run.py TIMELINE.jsonl TRACE.jsonl FLASH_DIR [CODE_DIR]

TIMELINE is a checked scenario as `python -m host_tools sim` writes it (scenario.write_timeline),
read a few items at a time as the run goes. CODE_DIR holds roller/ and boards/sim/ precompiled
(host_tools.sim_code); without it the sources are compiled on import.
"""
import sys

_here = __file__.rsplit("/", 3)[0] if __file__.count("/") >= 3 else "."
sys.path.insert(0, _here + "/firmware")
sys.path.insert(0, _here)
if len(sys.argv) == 5:
    sys.path.insert(0, sys.argv[4])

import time  # noqa: E402

from boards.sim import runner, scenario  # noqa: E402

BATCH_BYTES = 4096  # of the timeline file, read at a time


def _wall_s():
    return time.ticks_ms() / 1000


def main(argv):
    if len(argv) not in (4, 5):
        print("usage: run.py TIMELINE.jsonl TRACE.jsonl FLASH_DIR [CODE_DIR]")
        return 2
    try:
        f = open(argv[1])
    except OSError:
        print("timeline %s: cannot be read" % argv[1])
        return 2
    with f:
        doc = scenario.read_head(f)
        if doc is None:
            print("timeline %s: not one that `python -m host_tools sim` writes" % argv[1])
            return 2
        with open(argv[2], "w") as out:
            sim = runner.Runner(doc, out, "micropython", argv[3], _here + "/firmware")
            sim.run(_wall_s, lambda: scenario.read_items(f, BATCH_BYTES))
    return 0


sys.exit(main(sys.argv))
