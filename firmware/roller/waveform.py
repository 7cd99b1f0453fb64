"""Biphasic waveform generator, charge-balanced by construction.

Each period is a positive half followed by its exact mirror: the negative half replays, with
the sign flipped, the currents actually commanded in the positive half (ramps included), so the
net charge of every complete period is zero. Tables are built when a shape is selected, never
per tick. Periods of 20 ticks or more start each half with one zero tick, which the supervisor
uses to test the output-enable switch.
"""
from array import array

import micropython
from micropython import const

from roller.programs import BURST, SINE, SQUARE, TRIANGLE

_MAX_HALF = const(1000)  # 0.5 Hz at the 1 kHz tick
_DEAD_TICK_MIN_PERIOD = const(20)
FULL_SCALE = const(1000)  # table values are per mille of the amplitude


class Waveform:
    """Yields one signed setpoint (uA) per tick for a given amplitude."""

    def __init__(self):
        self.table = array("h", bytes(2 * _MAX_HALF))  # positive half, per mille
        self.mirror = array("h", bytes(2 * _MAX_HALF))  # what the positive half commanded
        self.half = 1
        self.index = 0
        self.burst_on = 0
        self.burst_off = 0
        self.burst_count = 0
        self.period_done = False  # True on the tick that closes a period
        self.restarted = True  # True until the first tick after (re)configuration
        self.configure(SQUARE, 10)

    def configure(self, shape, hz, burst_on=0, burst_off=0):
        """Select shape and frequency (0.5-250 Hz); the period is rounded to even ticks."""
        half = int(500 / hz + 0.5)
        half = 1 if half < 1 else (_MAX_HALF if half > _MAX_HALF else half)
        table = self.table
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
        self.half = half
        self.burst_on = burst_on if shape == BURST else 0
        self.burst_off = burst_off if shape == BURST else 0
        self.restart()

    def frequency_hz(self):
        return 500 / self.half

    def restart(self):
        self.index = 0
        self.burst_count = 0
        self.restarted = True

    @micropython.native
    def next_ua(self, amplitude_ua, gap_ua):
        """Setpoint for this tick; `gap_ua` is the amplitude during burst gaps."""
        i = self.index
        half = self.half
        self.restarted = False
        if i < half:
            if self.burst_on and self.burst_count >= self.burst_on and gap_ua < amplitude_ua:
                amplitude_ua = gap_ua
            value = self.table[i] * amplitude_ua // FULL_SCALE
            self.mirror[i] = value
        else:
            value = -self.mirror[i - half]
        i += 1
        if i == 2 * half:
            i = 0
            self.period_done = True
            if self.burst_on:
                self.burst_count += 1
                if self.burst_count >= self.burst_on + self.burst_off:
                    self.burst_count = 0
        else:
            self.period_done = False
        self.index = i
        return value
