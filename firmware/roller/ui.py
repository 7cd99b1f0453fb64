"""The UI state machine (SPEC C3), hierarchical, run-to-completion, table-driven.

ACTIVE is the superstate of STANDBY, RUN and PAUSED: it owns the gestures that change level
and program, stopping, lift-off, faults, USB and low battery. A transition names a source
(a state or ACTIVE), an event, a target (None = internal, no exit/entry) and an action.
docs/states.md is generated from TRANSITIONS (python -m host_tools.statechart, which names
the events: the device never needs their names).
"""
from micropython import const

# states (the names are the trace's)
OFF = const(0)
SELFTEST = const(1)
STANDBY = const(2)
RUN = const(3)
PAUSED = const(4)
DONE = const(5)
CHARGING = const(6)
FAULT = const(7)
ACTIVE = const(8)  # superstate
STATE_NAMES = ("OFF", "SELFTEST", "STANDBY", "RUN", "PAUSED", "DONE", "CHARGING", "FAULT", "ACTIVE")

# events
CLICK = const(1)
DOUBLE = const(2)
HOLD = const(3)
START = const(4)  # serial `start`
STOP = const(5)  # serial `stop`
SELFTEST_PASSED = const(6)
BATTERY_TOO_LOW = const(7)  # refused start, or sagged below the run limit
CONTACT = const(8)
LIFTOFF = const(9)
SESSION_END = const(10)
IDLE_TIMEOUT = const(11)
DONE_TIMEOUT = const(12)
USB_IN = const(13)
USB_OUT = const(14)
FAULTED = const(15)
RAMPED_DOWN = const(16)  # a ramp-down to OFF or DONE has reached zero
CHECK_PASSED = const(17)  # a self-test run by serial `selftest` passed: back to OFF

# (source, event, target or None for internal, action or None)
TRANSITIONS = (
    (OFF, CLICK, SELFTEST, None),
    (OFF, START, SELFTEST, None),
    (OFF, USB_IN, CHARGING, None),
    (OFF, DOUBLE, None, "pairing"),  # Bluetooth boards: the pairing window (roller.ble_uart)
    (OFF, HOLD, None, "forget_bonds"),  # Bluetooth boards, the window open: no bonds left
    (SELFTEST, SELFTEST_PASSED, STANDBY, "new_session"),
    (SELFTEST, BATTERY_TOO_LOW, OFF, "signal_low_battery"),
    (SELFTEST, USB_IN, CHARGING, None),
    (SELFTEST, FAULTED, FAULT, None),
    (SELFTEST, CHECK_PASSED, OFF, None),
    (STANDBY, CONTACT, RUN, None),
    (RUN, LIFTOFF, PAUSED, None),
    (RUN, SESSION_END, None, "ramp_down_to_done"),
    (PAUSED, CONTACT, RUN, None),
    (ACTIVE, CLICK, None, "level_up"),
    (ACTIVE, DOUBLE, None, "next_program"),
    (ACTIVE, HOLD, None, "ramp_down_to_off"),
    (ACTIVE, STOP, None, "ramp_down_to_off"),
    (ACTIVE, IDLE_TIMEOUT, None, "ramp_down_to_off"),  # at probe level: off at the period's end
    (ACTIVE, RAMPED_DOWN, None, "finish_ramp_down"),
    (ACTIVE, BATTERY_TOO_LOW, None, "ramp_down_low_battery"),
    (ACTIVE, USB_IN, CHARGING, None),
    (ACTIVE, FAULTED, FAULT, None),
    (DONE, DONE_TIMEOUT, OFF, None),
    (DONE, CLICK, OFF, None),
    (DONE, USB_IN, CHARGING, None),
    (DONE, FAULTED, FAULT, None),
    (OFF, FAULTED, FAULT, None),
    (CHARGING, USB_OUT, OFF, None),
    (CHARGING, FAULTED, FAULT, None),
    (FAULT, HOLD, OFF, None),
)


def superstate(state):
    return ACTIVE if STANDBY <= state <= PAUSED else None


def find(state, event):
    """The transition taken for `event` in `state` (innermost first), or None."""
    for source in (state, superstate(state)):
        if source is None:
            continue
        for row in TRANSITIONS:
            if row[0] == source and row[1] == event:
                return row
    return None
