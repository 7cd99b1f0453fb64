"""Biphasic waveform generator, charge-balanced by construction.

Each period is a first half followed by its exact mirror: the second half replays, with the
sign flipped, the currents actually commanded in the first half (ramps included), so the net
charge of every complete period is zero. Tables are built when a shape is selected, never per
tick. Periods of 20 ticks or more start each half with one zero tick, which the supervisor uses
to test the output-enable switch; shorter periods get such a tick (and its mirror) once every
ENABLE_CHECK_PERIOD_MS. Per tick: `next_setpoint_ua`, a viper function over the shared slot
array (roller.hot) and the tables; tables and slots hold no negative values.

A restart in mid-period (a lift-off, a fault, USB: cuts the device does not choose) leaves the
charge of the part delivered. The generator carries that net charge and begins every later
period with the half of the other sign, so what cuts leave never exceeds one half-period's
charge, however many there are (docs/safety.md). Chosen changes wait for a period's end.
"""
from array import array

import micropython
from micropython import const

from roller import hot
from roller.envelope import advance_ua
from roller.programs import BURST, SINE, SQUARE, TRIANGLE

_MAX_HALF = const(1000)  # 0.5 Hz at the 1 kHz tick
_DEAD_TICK_MIN_PERIOD = const(20)
_PEAK_TICKS = const(3)  # a 30 Hz sine's peak moves 15 % in three ticks: a hold there gains ~1 %
_ENABLE_TEST_MS = const(50)  # roller.limits.ENABLE_CHECK_PERIOD_MS (tests/test_waveform.py checks)
FULL_SCALE = const(1000)  # table values are per mille of the amplitude

# slots 56-67 of roller.hot
REGION = (56, 68)
_S_HALF = const(56)  # ticks per half period
_S_INDEX = const(57)  # tick within the period
_S_BURST_ON = const(58)  # periods on, then off (0 = not a burst)
_S_BURST_OFF = const(59)
_S_BURST_COUNT = const(60)
S_PERIOD_DONE = const(61)  # 1 on the tick that closes a period (roller.app reads it)
_S_NEG_FIRST = const(62)  # 1 when each period begins with its negative half
_S_SINCE_ZERO_MS = const(63)  # ticks since the last zero setpoint (an enable-switch test)
S_WAIT_PERIOD_END = const(64)  # 1 while roller.app has work for the end of this period


def half_ms(hz):
    """Ticks per half period for `hz` (0.5-250 Hz): the period is rounded to even ticks."""
    half = int(500 / hz + 0.5)
    return 1 if half < 1 else (_MAX_HALF if half > _MAX_HALF else half)


class Waveform:
    """Yields one signed setpoint (uA) per tick for a given amplitude."""

    def __init__(self, slots=None):
        """`slots`: the shared array (roller.hot), where the envelope is too."""
        self.slots = slots if slots is not None else hot.new()
        # the positive half per mille, then what the positive half commanded (the mirror)
        self.tables = array("h", bytes(4 * _MAX_HALF))
        self.carry_ua_ms = 0  # net charge left by cut periods, signed (commanded uA * ms)
        # where a board may hold the loop for ms (a flash write, a collection: roller.app):
        # the index (mod half) once the tick where the level changes least has run (a square's
        # first level tick, past the dead one; a sine's or triangle's peak), and for how many
        # ticks after it the level stays (within a few % for the peaks)
        self.hold_index = 2
        self.level_ticks = 0
        self.configure(SQUARE, 10)

    @property
    def half(self):
        return self.slots[_S_HALF]

    @property
    def index(self):
        return self.slots[_S_INDEX]

    def configure(self, shape, hz, burst_on=0, burst_off=0):
        """Select shape and frequency (0.5-250 Hz); the period is rounded to even ticks."""
        self.restart()  # what the old shape left, before its mirror is overwritten
        half = half_ms(hz)
        table = self.tables
        dead = 1 if 2 * half >= _DEAD_TICK_MIN_PERIOD else 0
        for i in range(half):
            if i < dead:
                value = 0
            elif shape == SINE:
                import math

                value = int(FULL_SCALE * math.sin(math.pi * (i + 0.5) / half) + 0.5)
            elif shape == TRIANGLE:
                # rises to full scale mid-half and back, symmetric about the middle
                x = 2 * i + 1
                value = FULL_SCALE * (x if x <= half else 2 * half - x) // half
            else:  # SQUARE and BURST carrier
                value = FULL_SCALE
            table[i] = value
        if shape in (SINE, TRIANGLE):
            self.hold_index = half // 2 + 1
            self.level_ticks = _PEAK_TICKS if half > 4 * _PEAK_TICKS else 0
        else:
            self.hold_index = 2
            self.level_ticks = half - 2 if half > 2 else 0
        slots = self.slots
        slots[_S_HALF] = half
        slots[_S_BURST_ON] = burst_on if shape == BURST else 0
        slots[_S_BURST_OFF] = burst_off if shape == BURST else 0

    def negative_first(self):
        """1 when the periods begin with their negative half."""
        return self.slots[_S_NEG_FIRST]

    def restart(self):
        """Begin a new period now. A period cut short leaves its net charge, carried: the
        next periods begin with the half that pays it back."""
        slots = self.slots
        index = slots[_S_INDEX]
        if index:
            half = slots[_S_HALF]
            mirror = self.tables
            net = 0
            for k in range(index if index < half else half):
                net += mirror[_MAX_HALF + k]
            for k in range(index - half):
                net -= mirror[_MAX_HALF + k]
            self.carry_ua_ms += -net if slots[_S_NEG_FIRST] else net
        slots[_S_NEG_FIRST] = 1 if self.carry_ua_ms > 0 else 0
        slots[_S_INDEX] = slots[_S_BURST_COUNT] = 0

    def rewind(self):
        """Begin a new period now, carrying nothing: the supervisor delivered none of the
        periods since the last restart (no head), so the carry of that restart still stands."""
        self.slots[_S_INDEX] = self.slots[_S_BURST_COUNT] = 0


@micropython.viper
def next_setpoint_ua(slots, tables, amplitude_ua: int, gap_ua: int, from_envelope: int) -> int:
    """Setpoint for this tick; `gap_ua` is the amplitude during burst gaps. With
    `from_envelope`, the amplitude is the envelope's next value, taken on first-half ticks
    only: the second half replays them."""
    s = ptr32(slots)
    table = ptr16(tables)
    i = int(s[_S_INDEX])
    half = int(s[_S_HALF])
    burst_on = int(s[_S_BURST_ON])
    if i < half:
        if from_envelope:
            amplitude_ua = int(advance_ua(slots))
        if burst_on and int(s[_S_BURST_COUNT]) >= burst_on and gap_ua < amplitude_ua:
            amplitude_ua = gap_ua
        value = int(table[i]) * amplitude_ua // FULL_SCALE
        if i == 0 and int(s[_S_SINCE_ZERO_MS]) >= _ENABLE_TEST_MS:
            value = 0  # a period without dead ticks: this one and its mirror test the switch
        table[_MAX_HALF + i] = value
    else:
        value = 0 - int(table[_MAX_HALF + i - half])
    if value == 0:
        s[_S_SINCE_ZERO_MS] = 0
    else:
        s[_S_SINCE_ZERO_MS] += 1
        if s[_S_NEG_FIRST]:
            value = 0 - value
    i += 1
    if i == 2 * half:
        i = 0
        s[S_PERIOD_DONE] = 1
        if burst_on:
            s[_S_BURST_COUNT] += 1
            if int(s[_S_BURST_COUNT]) >= burst_on + int(s[_S_BURST_OFF]):
                s[_S_BURST_COUNT] = 0
    else:
        s[S_PERIOD_DONE] = 0
    s[_S_INDEX] = i
    return value
