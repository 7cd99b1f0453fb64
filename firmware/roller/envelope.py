"""Amplitude envelope (R5): soft start, ramped level changes, 0.5 s ramp-down, instant cut.

The envelope advances only on the ticks of a positive half-wave; the negative half mirrors
them (roller.waveform). So the output magnitude moves at the envelope's own rate, never in a
step between halves, and a rise of RAMP_UP_MS envelope ticks takes twice that in real time.
Works in nA so slow ramps of small targets still move every tick. The state is in the shared
slot array (roller.hot); roller.waveform advances it with `advance_ua`.
"""
import micropython
from micropython import const

from roller import hot
from roller.limits import RAMP_DOWN_MS, RAMP_UP_MS

# slots 52-55 of roller.hot
REGION = (52, 56)
_S_NOW_NA = const(52)
_S_TARGET_NA = const(53)
_S_STEP_NA = const(54)


class Envelope:
    def __init__(self, slots=None):
        self.slots = slots if slots is not None else hot.new()

    @property
    def now_na(self):
        return self.slots[_S_NOW_NA]

    def ramp_to(self, target_ua, down_ms=RAMP_DOWN_MS):
        """Rise at target/RAMP_UP_MS per ms; fall from the present value over `down_ms`."""
        slots = self.slots
        target_na = target_ua * 1000
        slots[_S_TARGET_NA] = target_na
        now_na = slots[_S_NOW_NA]
        if target_na > now_na:
            step = target_na // RAMP_UP_MS
        else:
            steps = down_ms // 2  # it advances on first-half ticks: every other ms
            step = (now_na - target_na + steps - 1) // steps  # rounded up: done in `steps`
        slots[_S_STEP_NA] = step if step > 0 else 1

    def cut(self):
        """Straight to zero (faults, lift-off, charging); the target is kept for the next rise."""
        slots = self.slots
        slots[_S_NOW_NA] = 0
        if slots[_S_TARGET_NA]:
            self.ramp_to(slots[_S_TARGET_NA] // 1000)

    def scale(self, new_cap_ua, old_cap_ua):
        """A lower cap applies at once (clamp at the setter): the amplitude steps down in
        proportion, so it never exceeds the new cap and a soft start keeps its progress."""
        slots = self.slots
        slots[_S_NOW_NA] = slots[_S_NOW_NA] // old_cap_ua * new_cap_ua

    def hold(self, delivered_ua):
        """Contact is poor and the compliance voltage limits the current: wait at what is
        delivered, so a better contact ramps up from there instead of stepping up (R5)."""
        delivered_na = delivered_ua * 1000
        if self.slots[_S_NOW_NA] > delivered_na:
            self.slots[_S_NOW_NA] = delivered_na

    def off(self):
        self.slots[_S_NOW_NA] = self.slots[_S_TARGET_NA] = 0

    def settled(self):
        return self.slots[_S_NOW_NA] == self.slots[_S_TARGET_NA]


@micropython.viper
def advance_ua(slots) -> int:
    """One envelope step (roller.waveform calls it on positive-half ticks); the new amplitude
    in uA."""
    s = ptr32(slots)
    now = int(s[_S_NOW_NA])
    target = int(s[_S_TARGET_NA])
    if now < target:
        now += int(s[_S_STEP_NA])
        if now > target:
            now = target
    elif now > target:
        now -= int(s[_S_STEP_NA])
        if now < target:
            now = target
    s[_S_NOW_NA] = now
    return now // 1000
