"""Unix-port entry: micropython boards/sim/run.py SCENARIO.json TRACE.jsonl FLASH_DIR [CODE_DIR]

CODE_DIR holds roller/ and boards/sim/ precompiled (host_tools.sim_code); without it the
sources are compiled on import.
"""
import sys

_here = __file__.rsplit("/", 3)[0] if __file__.count("/") >= 3 else "."
sys.path.insert(0, _here + "/firmware")
sys.path.insert(0, _here)
if len(sys.argv) == 5:
    sys.path.insert(0, sys.argv[4])

import time  # noqa: E402

from boards.sim import runner, scenario  # noqa: E402


def _wall_s():
    return time.ticks_ms() / 1000


def main(argv):
    if len(argv) not in (4, 5):
        print("usage: run.py SCENARIO.json TRACE.jsonl FLASH_DIR [CODE_DIR]")
        return 2
    try:
        with open(argv[1]) as f:
            text = f.read()
    except OSError:
        print("scenario %s: cannot be read" % argv[1])
        return 2
    try:
        with open(argv[2], "w") as out:
            runner.run_text(text, out, "micropython", argv[3], _here + "/firmware", _wall_s)
    except scenario.ScenarioError as exc:
        print("scenario %s: %s" % (argv[1], exc.args[0]))
        return 2
    return 0


sys.exit(main(sys.argv))
