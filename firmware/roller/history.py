"""The session history's entries (roller.store keeps them, roller.app fills them).

An entry is a list, compact in the store's record: start (unix s, or -1 before the clock was
set: then boot and uptime say when), boot, uptime s, contact ms (time in RUN, ramps included),
zones completed, head, program, highest level, peak uA, mean uA (charge / contact time),
charge nC (|current| over the session), end (done, stop, hold, idle, low_battery, usb,
fault:<CODE>, power_cut).
"""
from micropython import const

from roller.jsonline import Milli

_UNIX_MIN_S = const(1_000_000_000)  # 2001: anything earlier is not a clock that was set


class Record:
    """The App's account of the session running, and the clock."""

    def __init__(self):
        self.unix_at_boot = None  # set by the serial `clock`: the board has no RTC
        self.ran = False  # this session has reached RUN: it is recorded when it ends
        self.start = (-1, 0)  # (unix s or -1, uptime s) when it reached RUN
        self.head = 0  # roller.heads' number of the head it ran with
        self.level = 0  # the highest level it ran at
        self.end = None  # why it ended (roller.app's _END_REASONS)
        self.save_open = False  # service() saves the session running
        self.checkpoint_ms = 0  # contact time of the next save


def as_dict(entry):
    """An entry as the serial `history` answers it."""
    return {
        "start": entry[0] if entry[0] >= 0 else None,
        "boot": entry[1],
        "uptime_s": entry[2],
        "contact_s": Milli(entry[3]),
        "zones": entry[4],
        "head": entry[5],
        "program": entry[6],
        "level": entry[7],
        "peak_ua": entry[8],
        "mean_ua": entry[9],
        "charge_uc": Milli(entry[10]),
        "end": entry[11],
    }


def check_unix(value):
    """Error text for a `clock` value, or None."""
    if not isinstance(value, int) or isinstance(value, bool):
        return "unix must be an integer (seconds since 1970)"
    if value < _UNIX_MIN_S or value > 0xFFFFFFFF:
        return "unix must be %d..%d" % (_UNIX_MIN_S, 0xFFFFFFFF)
    return None
