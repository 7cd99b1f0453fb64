"""The safety supervisor: the only code that writes the output stage (R1-R3, R8).

Every tick, `check` judges the sense readings against what was written last tick and returns a
fault code; the app latches it at once (`trip`: enable off, DAC zero, bridge off in the same
tick). Then `drive` clamps the proposed setpoint and writes it. A zero setpoint opens the enable
switch and drives a probe-level test current through the bridge: current seen next tick means
the enable switch is stuck closed.

The per-tick work is in module-level viper functions over the shared slot array
(roller.hot): `check_readings`, `drive_output`, `idle_output`, `halt_output`. The Supervisor
object holds that array and the board's write, for the cold paths. No slot holds a negative
value: signs are kept apart (_S_LAST_NEG) and charge is summed per direction.
"""
import micropython
from micropython import const

from roller import faults, hot
from roller.limits import (
    ENABLE_IDLE_CHECK_MS,
    HARD_MAX_UA,
    IMBALANCE_MAX_PERMILLE,
    IMPLAUSIBLE_MS,
    MIN_LOAD_OHM,
    OVERCURRENT_SETPOINT_PERCENT,
    OVERCURRENT_SETPOINT_UA,
    POLARITY_CHECK_MIN_UA,
    POOR_CONTACT_MV,
    PROBE_UA,
    SENSE_CHECK_MIN_UA,
    allowed_peak_ua,
)

_ENABLE_LEAK_UA = const(8)  # current through an open enable switch: it is not open
_VSENSE_MOVE_MV = const(40)  # a live electrode voltage moves this in IMPLAUSIBLE_MS (noise: 32)
_SHORT_CHECK_MIN_UA = const(20)  # below this a 1 kOhm load's voltage is lost in the noise (+-16 mV)
_VSENSE_BIAS_MV = const(1 << 16)  # stored electrode voltages are offset: slots are unsigned
_BALANCE_MIN_CHARGE = const(2000)  # uA*ms per period below which the ratio is only noise
_MISSING_CURRENT_TICKS = const(3)
_WRONG_POLARITY_TICKS = const(3)  # roller.limits.WRONG_POLARITY_TICKS (tests/test_hot.py checks)
_DISCARD_PERIOD = const(2)
_CHARGE_SUMS_MAX = const(1 << 24)  # uA*ms; a real period holds at most 500 uA * 2000 ms

# fault codes as local constants: viper code cannot fold another module's
_NONE = const(0)
_OVER_CURRENT = const(1)
_DC_IMBALANCE = const(2)
_SENSE_FAULT = const(3)
_OUTPUT_STUCK = const(4)

# slots 8-37 and 73-75 of roller.hot: the state of the last write and of the running checks
REGIONS = ((8, 38), (73, 76))
_S_LATCHED = const(8)  # fault code, 0 = none
_S_LAST_MAG = const(9)  # |setpoint| written last tick (0 = enable test or off)
_S_LAST_NEG = const(10)  # 1 when it was negative
_S_ENABLE_TEST = const(11)  # 1 when last tick tested the enable switch
_S_ALLOWED = const(12)  # peak the sense may show this tick (R1)
_S_NEXT_ALLOWED = const(13)  # from the next write on
S_READING_OK = const(14)  # last readings plausible: roller.contact may use them
S_LAST_MAG = const(_S_LAST_MAG)  # roller.contact judges the readings against this
_S_WRONG_POLARITY = const(15)
_S_IMPLAUSIBLE = const(16)
_S_VSENSE_WRONG = const(17)
_S_VSENSE_FIRST = const(18)  # + _VSENSE_BIAS_MV
_S_CHARGE_POS = const(19)  # uA*ms this period, per direction
_S_CHARGE_NEG = const(20)
_S_CLOSE_PERIOD = const(21)  # 1: judge the period after the next reading; _DISCARD_PERIOD: drop it
_S_IDLE_MS = const(22)
_S_TEST_NEG = const(23)  # polarity of the last enable test
_S_RAIL_UA = const(24)  # the board's stuck-ADC level
# limits, copied from roller.limits once: viper cannot fold another module's constants, and a
# global lookup per use would cost more than the check
_L_HARD_MAX_UA = const(25)
_L_PROBE_UA = const(26)
_L_OVERCURRENT_PERCENT = const(27)
_L_OVERCURRENT_UA = const(28)
_L_POLARITY_MIN_UA = const(29)
_S_LAST_WAS_TEST = const(30)  # 1 when the last reading was of an enable-test (zero) tick
_L_IMBALANCE_PERMILLE = const(31)
_L_SENSE_MIN_UA = const(32)
_L_POOR_CONTACT_MV = const(33)
_L_MIN_LOAD_OHM = const(34)
_L_IMPLAUSIBLE_MS = const(35)
_L_ENABLE_IDLE_CHECK_MS = const(36)
_S_PERIOD_AT_COMPLIANCE = const(37)  # 1 when a reading of this period hit the compliance voltage
_S_HEAD_MAX_UA = const(73)  # the attached head's limit; 0: no known head, no output
# the session meter (roller.history), from the readings judged here: the largest |current|, no
# more than the setpoint it was read under, and |current| summed (uA * ms = nC) but for readings
# under _OPEN_CIRCUIT_UA, the sense noise of an open circuit
S_PEAK_UA = const(74)
S_CHARGE_NC = const(75)
_OPEN_CIRCUIT_UA = const(2)  # roller.limits.OPEN_CIRCUIT_UA (tests/test_hot.py checks)


class Supervisor:
    def __init__(self, board, slots=None):
        board.write_output(False, 0, 0)  # output off before anything else
        self._write = board.write_output
        slots = slots if slots is not None else hot.new()
        slots[_S_RAIL_UA] = board.isense_rail_ua  # a board constant: read once, not per tick
        slots[_S_ALLOWED] = slots[_S_NEXT_ALLOWED] = allowed_peak_ua(PROBE_UA)
        for index, value in (
            (_L_HARD_MAX_UA, HARD_MAX_UA),
            (_L_PROBE_UA, PROBE_UA),
            (_L_OVERCURRENT_PERCENT, OVERCURRENT_SETPOINT_PERCENT),
            (_L_OVERCURRENT_UA, OVERCURRENT_SETPOINT_UA),
            (_L_POLARITY_MIN_UA, POLARITY_CHECK_MIN_UA),
            (_L_IMBALANCE_PERMILLE, IMBALANCE_MAX_PERMILLE),
            (_L_SENSE_MIN_UA, SENSE_CHECK_MIN_UA),
            (_L_POOR_CONTACT_MV, POOR_CONTACT_MV),
            (_L_MIN_LOAD_OHM, MIN_LOAD_OHM),
            (_L_IMPLAUSIBLE_MS, IMPLAUSIBLE_MS),
            (_L_ENABLE_IDLE_CHECK_MS, ENABLE_IDLE_CHECK_MS),
            (_S_HEAD_MAX_UA, HARD_MAX_UA),  # a board without heads; the App sets the head's at once
        ):
            slots[index] = value
        self.slots = slots

    @property
    def latched(self):
        return self.slots[_S_LATCHED]

    # --- output stage (the cold paths; the tick calls the functions below directly) --------
    def halt(self):
        """Everything off: the state of FAULT, CHARGING and boot."""
        halt_output(self.slots, self._write)

    def drive(self, setpoint_ua, cap_ua, contact_confirmed, period_done):
        """The self-test's probe (a few ms at PROBE_UA): it checks the output stage itself, with
        or without a head, so the head's limit does not apply to it."""
        slots = self.slots
        head_max_ua = slots[_S_HEAD_MAX_UA]
        slots[_S_HEAD_MAX_UA] = HARD_MAX_UA
        drive_output(slots, self._write, setpoint_ua, cap_ua, contact_confirmed, period_done)
        slots[_S_HEAD_MAX_UA] = head_max_ua

    def trip(self, code):
        """Latch `code`; second barrier in the same call. Returns True for a new latch."""
        self.halt()
        if self.slots[_S_LATCHED]:
            return False
        self.slots[_S_LATCHED] = code
        return True

    def clear_latch(self):
        """Only after a power cycle (OFF, then a passing self-test)."""
        self.slots[_S_LATCHED] = faults.NONE
        self.new_waveform()

    def new_waveform(self):
        """The generator restarted in mid-period: a partial period proves nothing about
        balance, so the sums restart after the next reading (the last write's), unjudged."""
        slots = self.slots
        slots[_S_WRONG_POLARITY] = 0
        if not slots[_S_CLOSE_PERIOD]:  # a period that just ended is judged first
            slots[_S_CLOSE_PERIOD] = _DISCARD_PERIOD

    def discard_period(self):
        """The output was held at zero (no head) since the waveform restarted: the sums hold
        only the period cut then, judged by the waveform's carry, not here."""
        slots = self.slots
        slots[_S_CHARGE_POS] = slots[_S_CHARGE_NEG] = slots[_S_PERIOD_AT_COMPLIANCE] = 0
        slots[_S_CLOSE_PERIOD] = slots[_S_WRONG_POLARITY] = 0

    def reset_meter(self):
        self.slots[S_PEAK_UA] = self.slots[S_CHARGE_NC] = 0

    def set_cap(self, cap_ua):
        # a reading is judged against the cap its write was clamped to: a cap lowered between
        # write and check (serial `set` in service) must not make the last write an over-current
        head_max_ua = self.slots[_S_HEAD_MAX_UA]
        if cap_ua > head_max_ua:
            cap_ua = head_max_ua
        self.slots[_S_NEXT_ALLOWED] = allowed_peak_ua(cap_ua if cap_ua > PROBE_UA else PROBE_UA)

    def set_head(self, limit_ua):
        """The attached head's limit (0: none known). Every write from the next one is clamped
        to it, whatever cap the caller passes: cap = min(program and level, head)."""
        self.slots[_S_HEAD_MAX_UA] = limit_ua


# --- the output stage, per tick -----------------------------------------------------------------
@micropython.viper
def halt_output(slots, write):
    """Everything off: enable open, bridge released, DAC zero."""
    write(False, 0, 0)
    s = ptr32(slots)
    s[_S_LAST_MAG] = 0
    s[_S_ENABLE_TEST] = 0
    s[_S_VSENSE_WRONG] = 0  # no current: nothing to judge the voltage sense by


@micropython.viper
def drive_output(slots, write, setpoint_ua: int, cap_ua: int, contact_confirmed: int, period_done: int):
    """Clamp and write one setpoint; `period_done` closes a charge-balance period."""
    s = ptr32(slots)
    s[_S_ALLOWED] = s[_S_NEXT_ALLOWED]
    if s[_S_LATCHED]:
        halt_output(slots, write)
        return
    hard_max_ua = int(s[_L_HARD_MAX_UA])
    probe_ua = int(s[_L_PROBE_UA])
    limit = cap_ua if cap_ua < hard_max_ua else hard_max_ua
    head_max_ua = int(s[_S_HEAD_MAX_UA])
    if limit > head_max_ua:
        limit = head_max_ua
    if not contact_confirmed and limit > probe_ua:
        limit = probe_ua
    magnitude = setpoint_ua if setpoint_ua >= 0 else 0 - setpoint_ua
    if magnitude > limit:
        magnitude = limit
    if magnitude == 0:
        _test_enable(slots, write)
    else:
        negative = 1 if setpoint_ua < 0 else 0
        write(True, -1 if negative else 1, magnitude)
        s[_S_ENABLE_TEST] = 0
        s[_S_LAST_MAG] = magnitude
        s[_S_LAST_NEG] = negative
    if period_done and not s[_S_CLOSE_PERIOD]:  # a discard waiting (a cut) stands
        s[_S_CLOSE_PERIOD] = 1


@micropython.viper
def idle_output(slots, write):
    """Output off (OFF, DONE): every ENABLE_IDLE_CHECK_MS one tick tests the enable switch."""
    s = ptr32(slots)
    s[_S_IDLE_MS] += 1
    if s[_S_LATCHED] or int(s[_S_IDLE_MS]) < int(s[_L_ENABLE_IDLE_CHECK_MS]):
        halt_output(slots, write)
        return
    s[_S_IDLE_MS] = 0
    _test_enable(slots, write)


@micropython.viper
def _test_enable(slots, write):
    """Enable open, probe current through the bridge; the polarity alternates, so even a stuck
    switch behind a blind current sense passes no net charge."""
    s = ptr32(slots)
    negative = 0 if s[_S_TEST_NEG] else 1
    s[_S_TEST_NEG] = negative
    write(False, -1 if negative else 1, int(s[_L_PROBE_UA]))
    s[_S_ENABLE_TEST] = 1
    s[_S_LAST_MAG] = 0


# --- judging the readings, per tick -----------------------------------------------------------
@micropython.viper
def check_readings(slots, current_ua: int, electrode_mv: int) -> int:
    """Judge this tick's readings; a fault code to latch, or 0. Latches nothing itself."""
    s = ptr32(slots)
    s[S_READING_OK] = 0
    if s[_S_LATCHED]:
        return _NONE
    i_abs = current_ua if current_ua >= 0 else 0 - current_ua
    if i_abs >= int(s[_S_RAIL_UA]):
        return _SENSE_FAULT
    if s[_S_ENABLE_TEST]:
        if i_abs >= _ENABLE_LEAK_UA:
            return _OUTPUT_STUCK
        s[S_READING_OK] = 1
        # one zero tick inside a doubtful stretch (between halves): its time counts, a 10 ms half
        # holds 9 readings; zero ticks in a row mean no output to judge the sense by
        if s[_S_VSENSE_WRONG]:
            if s[_S_LAST_WAS_TEST]:
                s[_S_VSENSE_WRONG] = 0
            elif _vsense_stuck(slots, electrode_mv):
                return _SENSE_FAULT
        s[_S_LAST_WAS_TEST] = 1
        # a period closed (or cut) before this zero write is judged now, not at the next current
        # reading: held at zero (no head, PAUSED), its next period end would overwrite a discard
        if s[_S_CLOSE_PERIOD]:
            return int(_judge_period(slots))
        return _NONE
    s[_S_LAST_WAS_TEST] = 0
    last_abs = int(s[_S_LAST_MAG])
    if i_abs >= _OPEN_CIRCUIT_UA:  # the session meter
        s[S_CHARGE_NC] += i_abs
        if (i_abs if i_abs < last_abs else last_abs) > int(s[S_PEAK_UA]):
            s[S_PEAK_UA] = i_abs if i_abs < last_abs else last_abs
    if i_abs > int(s[_S_ALLOWED]) or (
        i_abs > last_abs * int(s[_L_OVERCURRENT_PERCENT]) // 100 + int(s[_L_OVERCURRENT_UA])
    ):
        return _OVER_CURRENT

    # R3: polarity follows the setpoint; each period's charge nets out
    polarity_min_ua = int(s[_L_POLARITY_MIN_UA])
    if last_abs >= polarity_min_ua and i_abs >= polarity_min_ua and (
        (current_ua > 0 and s[_S_LAST_NEG]) or (current_ua <= 0 and not s[_S_LAST_NEG])
    ):
        s[_S_WRONG_POLARITY] += 1
        if int(s[_S_WRONG_POLARITY]) >= _WRONG_POLARITY_TICKS:
            return _DC_IMBALANCE
    else:
        s[_S_WRONG_POLARITY] = 0
    if current_ua > 0:
        s[_S_CHARGE_POS] += current_ua
    else:
        s[_S_CHARGE_NEG] += i_abs
    v_abs = electrode_mv if electrode_mv >= 0 else 0 - electrode_mv
    if v_abs >= int(s[_L_POOR_CONTACT_MV]):
        s[_S_PERIOD_AT_COMPLIANCE] = 1
    if int(s[_S_CHARGE_POS]) + int(s[_S_CHARGE_NEG]) > _CHARGE_SUMS_MAX:
        # no period closes while the output is off: sense noise must not run the sums to 2**31
        s[_S_CHARGE_POS] = 0
        s[_S_CHARGE_NEG] = 0
    if s[_S_CLOSE_PERIOD] and _judge_period(slots):
        return _DC_IMBALANCE

    # R8: the current and voltage sense must agree with the setpoint and each other
    sense_min_ua = int(s[_L_SENSE_MIN_UA])
    if last_abs < sense_min_ua:
        s[S_READING_OK] = 1
        return _NONE
    # current missing although the source is not at its compliance limit: it may hide a real
    # over-current, act in 3 ms
    if i_abs * 4 < last_abs and v_abs < int(s[_L_POOR_CONTACT_MV]):
        s[_S_IMPLAUSIBLE] += 1
        if int(s[_S_IMPLAUSIBLE]) >= _MISSING_CURRENT_TICKS:
            return _SENSE_FAULT
        return _NONE
    s[_S_IMPLAUSIBLE] = 0
    # the voltage sense must be alive: a load below MIN_LOAD_OHM (a short, or a dead sense),
    # or a voltage of the wrong sign, is judged by whether the voltage moves. An R||C load's
    # voltage lags the current but moves towards it at I/C or faster; a stuck sense does not.
    too_low = i_abs >= _SHORT_CHECK_MIN_UA and v_abs * 1000 < i_abs * int(s[_L_MIN_LOAD_OHM])
    wrong_sign = (electrode_mv > 0 and current_ua <= 0) or (electrode_mv <= 0 and current_ua > 0)
    if i_abs >= sense_min_ua and (too_low or wrong_sign):
        if _vsense_stuck(slots, electrode_mv):
            return _SENSE_FAULT
    else:
        s[_S_VSENSE_WRONG] = 0
    s[S_READING_OK] = 1
    return _NONE


@micropython.viper
def _judge_period(slots) -> int:
    """The period that closed (its last reading summed): _DC_IMBALANCE if its charge does not
    net out, else 0; the sums restart either way."""
    s = ptr32(slots)
    positive = int(s[_S_CHARGE_POS])
    negative = int(s[_S_CHARGE_NEG])
    # at the compliance voltage the load, not the source, sets the current: skin capacitance
    # makes the halves differ for a period (the voltage is clamped both ways, so it cannot
    # build up); polarity is still checked on every reading
    if int(s[_S_CLOSE_PERIOD]) == _DISCARD_PERIOD or s[_S_PERIOD_AT_COMPLIANCE]:
        positive = negative = 0
    s[_S_CLOSE_PERIOD] = s[_S_CHARGE_POS] = s[_S_CHARGE_NEG] = s[_S_PERIOD_AT_COMPLIANCE] = 0
    net = positive - negative if positive >= negative else negative - positive
    total = positive + negative
    # net/total > permille/1000, in integers without a product near 2**31
    if total >= _BALANCE_MIN_CHARGE and net > total * int(s[_L_IMBALANCE_PERMILLE]) // 1000:
        return _DC_IMBALANCE
    return 0


@micropython.viper
def _vsense_stuck(slots, electrode_mv: int) -> bool:
    """One more ms of a doubtful electrode voltage: True once IMPLAUSIBLE_MS have passed without
    it moving. An R||C load's voltage lags the current but moves towards it at I/C or faster; a
    stuck sense does not move."""
    s = ptr32(slots)
    if not s[_S_VSENSE_WRONG]:
        s[_S_VSENSE_FIRST] = electrode_mv + _VSENSE_BIAS_MV
    s[_S_VSENSE_WRONG] += 1
    if int(s[_S_VSENSE_WRONG]) < int(s[_L_IMPLAUSIBLE_MS]):
        return False
    moved = electrode_mv + _VSENSE_BIAS_MV - int(s[_S_VSENSE_FIRST])
    if moved < 0:
        moved = 0 - moved
    if moved < _VSENSE_MOVE_MV:
        return True
    s[_S_VSENSE_WRONG] = 0  # it moves: judge the next stretch afresh
    return False
