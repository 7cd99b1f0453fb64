"""How long the hunt takes to find each known defect (issue 13): not a test, a measurement.

    .venv/bin/python -m tests.hunt_measure [--seconds 600] [--steps 30] [--log FILE]

Runs tests/test_stateful.py's machine at random (no shrinking, no database), records every
example's violations, and prints, per defect, the first example and the seconds it took.
Stops when all of TARGETS are found or the time is up.
"""
import argparse
import json
import os
import re
import sys
import tempfile
import time

from host_tools import paths

paths.use_firmware_on_cpython()

from hypothesis import HealthCheck, Phase, settings  # noqa: E402
from hypothesis.stateful import run_state_machine_as_test  # noqa: E402

from tests import test_stateful  # noqa: E402

TARGETS = ("1", "2", "3", "6")
LIFT_OR_PROGRAM = ("skin off", "PAUSED", "program ")
OTHER_CUTS = ("usb in", "FAULT", "reset", "power cut")


def _context(violation):
    return violation.split("; in it:", 1)[1] if "; in it:" in violation else ""


def _level_down(context):
    return any(int(b) < int(a) for a, b in re.findall(r"level (\d)->(\d)", context))


def classify(violation):
    """The issue-13 defect a violation message points to ("?" where it is only like it)."""
    context = _context(violation)
    if "not obeyed" in violation:
        return "1" if _level_down(context) else "1?"  # a ramp-down cancelled by a lower level
    if "fault DC_IMBALANCE without a cause" in violation:
        changes = re.findall(r"level (\d)->(\d)", context)
        return "3" if len(changes) == 1 and _level_down(context) else "3?"  # one decrease, no flood
    if "fault OVER_CURRENT without a cause" in violation:
        return "5"
    if "fault SENSE_FAULT without a cause" in violation:
        return "8/9"
    if "enable_stuck_on" in violation and "not caught" in violation:
        return "10"
    if "R3 (d)" in violation:
        return "7"
    if "R3 (b)" in violation:
        if "polarity_stuck injected" in violation:
            return "4"
        if any(cut in context for cut in LIFT_OR_PROGRAM):
            return "6"  # a lift-off or a program change, then the same polarity again
        if any(cut in context for cut in OTHER_CUTS):
            return "6?"  # the same after USB, a fault or a reset
        if _level_down(context) or '"cmd": "set"' in context:
            return "2"
    if "R3 (a)" in violation or "R3 (c)" in violation:
        return "a/c"
    return "other"


class StopHunt(Exception):
    pass


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--log", default=os.path.join(tempfile.gettempdir(), "roller-hunt.jsonl"))
    args = parser.parse_args()
    open(args.log, "w").close()
    os.environ["ROLLER_HUNT_LOG"] = args.log
    start = time.time()
    found = {}
    count = [0]

    class Measured(test_stateful.RollerMachine):
        def teardown(self):
            super().teardown()
            count[0] += 1
            with open(args.log) as f:
                lines = f.readlines()
            record = json.loads(lines[-1])
            for violation in record["violations"]:
                defect = classify(violation)
                if defect and defect not in found:
                    found[defect] = (count[0], time.time() - start, violation)
                    print("defect %s: example %d, %.0f s: %s" % (defect, count[0], time.time() - start,
                                                                  violation[:300]), flush=True)
            if all(d in found for d in TARGETS) or time.time() - start > args.seconds:
                raise StopHunt()

    try:
        run_state_machine_as_test(Measured, settings=settings(
            max_examples=10 ** 6, stateful_step_count=args.steps, deadline=None, database=None,
            derandomize=False, phases=[Phase.generate], suppress_health_check=list(HealthCheck)))
    except StopHunt:
        pass
    print("\n%d examples in %.0f s" % (count[0], time.time() - start))
    for defect in sorted(found):
        n, seconds, _ = found[defect]
        print("defect %-4s first at example %5d after %6.1f s" % (defect, n, seconds))
    missing = [d for d in TARGETS if d not in found]
    if missing:
        print("not found:", ", ".join(missing))
    return 0


if __name__ == "__main__":
    sys.exit(main())
