"""The safety supervisor: the only code that writes the output stage (R1-R3, R8).

Every tick, `check` judges the sense readings against what was written last tick and latches a
fault at once (enable off, DAC zero, bridge off in the same tick); then `drive` clamps the
proposed setpoint and writes it. A zero setpoint opens the enable switch and drives a probe-level
test current through the bridge: current seen next tick means the enable switch is stuck closed.
"""
import micropython
from micropython import const

from roller import faults
from roller.limits import (
    HARD_MAX_UA,
    IMBALANCE_MAX_PERMILLE,
    ENABLE_CHECK_PERIOD_MS,
    IMPLAUSIBLE_MS,
    MIN_LOAD_OHM,
    OVERCURRENT_SETPOINT_PERCENT,
    OVERCURRENT_SETPOINT_UA,
    POLARITY_CHECK_MIN_UA,
    POOR_CONTACT_MV,
    PROBE_UA,
    SENSE_CHECK_MIN_UA,
    WRONG_POLARITY_TICKS,
    allowed_peak_ua,
)

_ENABLE_LEAK_UA = const(8)  # current through an open enable switch: it is not open
_VSENSE_MOVE_MV = const(100)  # a live electrode voltage moves at least this in IMPLAUSIBLE_MS
_BALANCE_MIN_CHARGE = const(2000)
_MISSING_CURRENT_TICKS = const(3)  # uA*ms per period below which the ratio is only noise


class Supervisor:
    def __init__(self, board):
        board.write_output(False, 0, 0)  # output off before anything else
        self.board = board
        self._rail_ua = board.isense_rail_ua  # a board constant: read once, not per tick
        self.latched = faults.NONE
        self.last_ua = 0  # signed setpoint written last tick (0 = enable test)
        self.enable_test = False
        self.allowed_ua = allowed_peak_ua(PROBE_UA)  # what this tick's check allows
        self._next_allowed_ua = self.allowed_ua  # from the next write on
        self.reading_ok = False  # last readings plausible: contact detection may use them
        self._wrong_polarity = 0
        self._implausible = 0
        self._vsense_wrong = 0
        self._vsense_first_mv = 0
        self._net_charge = 0
        self._abs_charge = 0
        self._close_period = False
        self._idle_ms = 0
        self._test_polarity = 1

    # --- output stage ---------------------------------------------------------------------
    def halt(self):
        """Everything off: the state of FAULT, CHARGING and boot."""
        self.board.write_output(False, 0, 0)
        self.last_ua = 0
        self.enable_test = False

    def trip(self, code):
        """Latch `code`; second barrier in the same call. Returns True for a new latch."""
        self.halt()
        if self.latched:
            return False
        self.latched = code
        return True

    def clear_latch(self):
        """Only after a power cycle (OFF, then a passing self-test)."""
        self.latched = faults.NONE
        self.new_waveform()

    def new_waveform(self):
        """The generator restarted: a partial period proves nothing about balance."""
        self._net_charge = self._abs_charge = 0
        self._close_period = False
        self._wrong_polarity = 0

    def set_cap(self, cap_ua):
        # a reading is judged against the cap its write was clamped to: a cap lowered between
        # write and check (serial `set` in service) must not make the last write an over-current
        self._next_allowed_ua = allowed_peak_ua(cap_ua if cap_ua > PROBE_UA else PROBE_UA)

    @micropython.native
    def drive(self, setpoint_ua, cap_ua, contact_confirmed, period_done):
        """Clamp and write one setpoint; `period_done` closes a charge-balance period."""
        self.allowed_ua = self._next_allowed_ua
        if self.latched:
            self.halt()
            return
        limit = cap_ua if cap_ua < HARD_MAX_UA else HARD_MAX_UA
        if not contact_confirmed and limit > PROBE_UA:
            limit = PROBE_UA
        magnitude = setpoint_ua if setpoint_ua >= 0 else -setpoint_ua
        if magnitude > limit:
            magnitude = limit
        if magnitude == 0:
            self._test_enable()
        else:
            polarity = 1 if setpoint_ua > 0 else -1
            self.board.write_output(True, polarity, magnitude)
            self.enable_test = False
            self.last_ua = magnitude if polarity > 0 else -magnitude
        if period_done:
            self._close_period = True

    def idle(self):
        """Output off (OFF, DONE): every ENABLE_CHECK_PERIOD_MS one tick tests the enable switch."""
        self._idle_ms += 1
        if self.latched or self._idle_ms < ENABLE_CHECK_PERIOD_MS:
            self.halt()
            return
        self._idle_ms = 0
        self._test_enable()

    def _test_enable(self):
        """Enable open, probe current through the bridge; the polarity alternates, so even a
        stuck switch behind a blind current sense passes no net charge."""
        self._test_polarity = -self._test_polarity
        self.board.write_output(False, self._test_polarity, PROBE_UA)
        self.enable_test = True
        self.last_ua = 0

    # --- judging the readings ---------------------------------------------------------------
    @micropython.native
    def check(self, current_ua, electrode_mv):
        """Judge this tick's readings; returns a fault code when one is newly latched."""
        self.reading_ok = False
        if self.latched:
            return faults.NONE
        i_abs = current_ua if current_ua >= 0 else -current_ua
        if i_abs >= self._rail_ua:
            return faults.SENSE_FAULT if self.trip(faults.SENSE_FAULT) else faults.NONE
        if self.enable_test:
            if i_abs >= _ENABLE_LEAK_UA:
                return faults.OUTPUT_STUCK if self.trip(faults.OUTPUT_STUCK) else faults.NONE
            self.reading_ok = True
            return faults.NONE
        last = self.last_ua
        last_abs = last if last >= 0 else -last
        if i_abs > self.allowed_ua or (
            i_abs > last_abs * OVERCURRENT_SETPOINT_PERCENT // 100 + OVERCURRENT_SETPOINT_UA
        ):
            return faults.OVER_CURRENT if self.trip(faults.OVER_CURRENT) else faults.NONE
        code = self._check_polarity_and_charge(current_ua, i_abs, last, last_abs)
        if not code:
            code = self._check_plausible(current_ua, i_abs, electrode_mv, last_abs)
        if code:
            return code if self.trip(code) else faults.NONE
        return faults.NONE

    @micropython.native
    def _check_polarity_and_charge(self, current_ua, i_abs, last, last_abs):
        if last_abs >= POLARITY_CHECK_MIN_UA and i_abs >= POLARITY_CHECK_MIN_UA and (
            (current_ua > 0) != (last > 0)
        ):
            self._wrong_polarity += 1
            if self._wrong_polarity >= WRONG_POLARITY_TICKS:
                return faults.DC_IMBALANCE
        else:
            self._wrong_polarity = 0
        self._net_charge += current_ua
        self._abs_charge += i_abs
        if self._close_period:
            self._close_period = False
            net = self._net_charge if self._net_charge >= 0 else -self._net_charge
            total = self._abs_charge
            self._net_charge = self._abs_charge = 0
            if total >= _BALANCE_MIN_CHARGE and net * 1000 > total * IMBALANCE_MAX_PERMILLE:
                return faults.DC_IMBALANCE
        return faults.NONE

    @micropython.native
    def _check_plausible(self, current_ua, i_abs, electrode_mv, last_abs):
        """R8: the current and voltage sense must agree with the setpoint and each other."""
        if last_abs < SENSE_CHECK_MIN_UA:
            self.reading_ok = True
            return faults.NONE
        v_abs = electrode_mv if electrode_mv >= 0 else -electrode_mv
        # current missing although the source is not at its compliance limit
        missing = i_abs * 4 < last_abs and v_abs < POOR_CONTACT_MV
        # a load below MIN_LOAD_OHM is a short or a dead voltage sense
        too_low = i_abs >= SENSE_CHECK_MIN_UA and v_abs * 1000 < i_abs * MIN_LOAD_OHM
        if missing or too_low:
            self._implausible += 1
            # current missing below compliance may hide a real over-current: act in 3 ms
            if self._implausible >= (_MISSING_CURRENT_TICKS if missing else IMPLAUSIBLE_MS):
                return faults.SENSE_FAULT
            return faults.NONE
        self._implausible = 0
        # the electrode voltage must follow the current's sign; with skin capacitance it lags,
        # but a live sense moves towards it, a stuck one does not
        if i_abs >= SENSE_CHECK_MIN_UA and (electrode_mv > 0) != (current_ua > 0):
            if self._vsense_wrong == 0:
                self._vsense_first_mv = electrode_mv
            self._vsense_wrong += 1
            moved = electrode_mv - self._vsense_first_mv
            if moved < 0:
                moved = -moved
            if self._vsense_wrong >= IMPLAUSIBLE_MS and moved < _VSENSE_MOVE_MV:
                return faults.SENSE_FAULT
        else:
            self._vsense_wrong = 0
        self.reading_ok = True
        return faults.NONE
