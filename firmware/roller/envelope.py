"""Amplitude envelope (R5): soft start, ramped level changes, 0.5 s ramp-down, instant cut.

The envelope advances only on the ticks of a positive half-wave; the negative half mirrors
them (roller.waveform). So the output magnitude moves at the envelope's own rate, never in a
step between halves, and a rise of RAMP_UP_MS envelope ticks takes twice that in real time.
Works in nA so slow ramps of small targets still move every tick.
"""
import micropython

from roller.limits import RAMP_DOWN_MS, RAMP_UP_MS


class Envelope:
    def __init__(self):
        self.now_na = 0
        self.target_na = 0
        self.step_na = 0

    def ramp_to(self, target_ua, down_ms=RAMP_DOWN_MS):
        """Rise at target/RAMP_UP_MS per ms; fall from the present value over `down_ms`."""
        target_na = target_ua * 1000
        self.target_na = target_na
        if target_na > self.now_na:
            step = target_na // RAMP_UP_MS
        else:
            step = (self.now_na - target_na) // (down_ms // 2)  # advances every other ms
        self.step_na = step if step > 0 else 1

    def cut(self):
        """Straight to zero (faults, lift-off, charging); the target is kept for the next rise."""
        self.now_na = 0
        if self.target_na:
            self.ramp_to(self.target_na // 1000)

    def clip(self, cap_ua):
        """A lower cap applies at once (clamp at the setter): step down, never ramp above it."""
        cap_na = cap_ua * 1000
        if self.now_na > cap_na:
            self.now_na = cap_na
        self.ramp_to(cap_ua)

    def off(self):
        self.now_na = self.target_na = 0

    @micropython.native
    def next_ua(self):
        now = self.now_na
        target = self.target_na
        if now < target:
            now += self.step_na
            if now > target:
                now = target
        elif now > target:
            now -= self.step_na
            if now < target:
                now = target
        self.now_na = now
        return now // 1000

    def settled(self):
        return self.now_na == self.target_na
