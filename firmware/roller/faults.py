"""Latched fault codes (SPEC C2): one table of code, name and LED pattern.

The simulator's injected faults name the code each must latch (boards/sim/model.py INJECTED);
tests/test_tables.py holds the README and docs/protocol.md to both tables.
"""
from micropython import const

from roller import led

NONE = const(0)
OVER_CURRENT = const(1)
DC_IMBALANCE = const(2)
SENSE_FAULT = const(3)
OUTPUT_STUCK = const(4)
SELFTEST = const(5)
WATCHDOG = const(6)

# a row per code, in code order: its name (trace, log, `status`) and its LED pattern (roller.led)
_TABLE = (
    ("", led.LED_OFF),
    ("OVER_CURRENT", led.LED_FAULT_CURRENT),
    ("DC_IMBALANCE", led.LED_FAULT_BALANCE),
    ("SENSE_FAULT", led.LED_FAULT_SENSE),
    ("OUTPUT_STUCK", led.LED_FAULT_SENSE),
    ("SELFTEST", led.LED_FAULT_SELFTEST),
    ("WATCHDOG", led.LED_FAULT_SELFTEST),
)
NAMES, LED_PATTERNS = zip(*_TABLE)  # noqa: B905 (MicroPython's zip takes no strict): the two columns
