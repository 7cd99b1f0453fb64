"""Boot self-test (R10), run over a few ticks before any stimulation.

Order: firmware integrity, sense zero with the output off, enable switch holds the output off,
enable switch passes a probe-level current (or the open-circuit compliance voltage) each way and
the bridge reverses it, clock advances, battery high enough to start (R7).
"""
from micropython import const

from roller.integrity import Checker
from roller.limits import (
    BATTERY_START_MIN_MV,
    POOR_CONTACT_MV,
    PROBE_UA,
    SELFTEST_ZERO_MV,
    SELFTEST_ZERO_UA,
)

RUNNING = const(0)
PASSED = const(1)
FAILED = const(2)
LOW_BATTERY = const(3)

_ZERO_TICKS = const(5)
_DISCHARGE_MS = const(1500)  # 7 RC at the edge of the operating range: 15 V falls below 300 mV
_ENABLE_TICKS = const(3)
_ENABLE_OFF_MAX_MV = const(1000)  # an open enable switch leaves the electrodes near 0 V
_ENABLE_ON_MIN_UA = const(8)
_LOAD_MIN_MV = const(1000)  # probe current into skin this loaded must show on the sense


class SelfTest:
    def __init__(self, board, supervisor):
        self.board = board
        self.supervisor = supervisor
        self.result = RUNNING
        self.failed = None
        self._integrity = Checker(board.fs)
        self._phase = 0
        self._ticks = 0
        self._start_ms = board.ticks_ms()
        self._saw_current = False
        self._discharge_ms = 0

    def _fail(self, why):
        self.supervisor.halt()
        self.failed = why
        self.result = FAILED

    def step(self, current_ua, electrode_mv, battery_mv):
        """One tick; reads are of the outputs the previous step left."""
        sup = self.supervisor
        i_abs = current_ua if current_ua >= 0 else -current_ua
        v_abs = electrode_mv if electrode_mv >= 0 else -electrode_mv
        phase = self._phase
        if phase == 0:  # integrity, one file per tick, output off
            sup.halt()
            if not self._integrity.step():
                if self._integrity.failed:
                    self._fail("integrity: " + self._integrity.failed)
                    return
                self._next()
        elif phase == 1:  # sense zero with the output off
            sup.halt()
            if self._ticks and i_abs > SELFTEST_ZERO_UA:
                self._fail("sense not zero")
                return
            if self._ticks and v_abs > SELFTEST_ZERO_MV:
                # skin capacitance charged by the last session discharges through the skin
                # (RC <= 200 ms in the operating range): wait for it, up to _DISCHARGE_MS
                self._discharge_ms += 1
                if self._discharge_ms >= _DISCHARGE_MS:
                    self._fail("sense not zero")
                return
            self._count(_ZERO_TICKS)
        elif phase == 2:  # enable open: nothing may reach the electrodes
            if self._ticks and (i_abs >= _ENABLE_ON_MIN_UA or v_abs > _ENABLE_OFF_MAX_MV):
                self._fail("output enable stuck on")
                return
            sup.drive(0, PROBE_UA, False, False)
            self._count(_ENABLE_TICKS)
        elif phase == 3 or phase == 4:
            # enable closed: a probe current forward, then reversed; the current (or the
            # open-circuit compliance voltage) must follow the bridge
            negative = phase == 4
            if self._ticks:
                if i_abs >= _ENABLE_ON_MIN_UA or v_abs >= POOR_CONTACT_MV:
                    self._saw_current = True  # current, or an open circuit at compliance
                    reading = current_ua if i_abs >= _ENABLE_ON_MIN_UA else electrode_mv
                    if (reading < 0) != negative:
                        self._fail("polarity: the bridge does not reverse")
                        return
                elif v_abs >= _LOAD_MIN_MV:
                    # a loaded electrode but no current seen: a blind sense could hide anything
                    self._fail("current sense reads nothing")
                    return
            if self._ticks >= _ENABLE_TICKS:
                sup.halt()
                if not self._saw_current:
                    self._fail("no current or voltage with the output enabled")
                    return
                self._saw_current = False
                self._next()
            else:
                sup.drive(-PROBE_UA if negative else PROBE_UA, PROBE_UA, False, False)
                self._ticks += 1
        else:
            sup.halt()
            if self.board.ticks_diff(self.board.ticks_ms(), self._start_ms) <= 0:
                self._fail("clock not advancing")
            elif battery_mv < BATTERY_START_MIN_MV:
                self.result = LOW_BATTERY
            else:
                self.result = PASSED

    def _count(self, ticks):
        self._ticks += 1
        if self._ticks > ticks:
            self._next()

    def _next(self):
        self._phase += 1
        self._ticks = 0
