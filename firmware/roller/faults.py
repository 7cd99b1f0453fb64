"""Enumerated, latched fault codes (SPEC C2)."""
from micropython import const

NONE = const(0)
OVER_CURRENT = const(1)
DC_IMBALANCE = const(2)
SENSE_FAULT = const(3)
OUTPUT_STUCK = const(4)
SELFTEST = const(5)
WATCHDOG = const(6)

NAMES = ("", "OVER_CURRENT", "DC_IMBALANCE", "SENSE_FAULT", "OUTPUT_STUCK", "SELFTEST", "WATCHDOG")
