"""The virtual board: the board interface of docs/board.md on top of the electrical model."""
from array import array

import micropython
from micropython import const

from boards.sim import model as _model

NAME = "sim"
_TICKS_PERIOD = const(1 << 30)  # as on ESP32/RP2040: ticks_ms and ticks_us wrap at 2**30
_TICKS_MASK = const((1 << 30) - 1)
_TICKS_HALF = const(1 << 29)
_CLOCK_START_MS = const((1 << 30) - 3000)  # every run crosses the ticks_ms wraparound ...
_CLOCK_START_US = const((1 << 30) - 3_000_000)  # ... and the ticks_us one, 3 s in
# the clock and the watchdog, read every ms: an int array for viper (roller.supervisor says why)
_C_ELAPSED_MS = const(0)
_C_WDT_TIMEOUT_MS = const(1)  # 0 = not started
_C_SINCE_FEED_MS = const(2)
# the console's receive buffer: a write that does not fit in what is free of it is lost whole.
# Twice the longest string a scenario may hold (scenario_check.MAX_TEXT_BYTES, derived from
# this): the writes a scenario makes while the firmware reads none (a hung loop, or many in one
# ms: it reads one per ms) take no more of the unix port's heap than this.
RX_BUFFER_BYTES = 32768


class SimBoard:
    """One powered lifetime of the virtual device (a power cycle makes a new SimBoard)."""

    name = NAME
    # sense readings at or beyond these mean the ADC sits on a rail: broken or stuck
    isense_rail_ua = (2047 - 4) * _model.ISENSE_FULL_UA // 2048
    deployed = ()  # names of the firmware files checked against the hash manifest
    head_bands_mv = _model.HEAD_BANDS_MV  # the head ID's thresholds (roller.heads)
    head_open_mv = _model.HEAD_OPEN_MV
    calibrated = True  # the model's own sense conversions (no board_config to calibrate)

    def __init__(self, model, flash, trace, elapsed_ms=0, reset_cause="power"):
        self.model = model
        # the model's sense conversions, ideally calibrated (the real boards keep their
        # calibration in boards/<name>/), and USB
        self._sensed = model.sensed
        self.set_button_pin_low(False)  # until the runner (or a test) presses it
        # the output stage's pins are the model's: write_output (only the supervisor calls it)
        # sets them, one call
        self.write_output = model.pin_writer()
        self.fs = flash  # open/rename/remove/listdir/exists, like os on littlefs
        self.trace = trace
        self._clock = array("i", (elapsed_ms, 0, 0))
        # the two per-tick board calls besides write_output, as closures over their arrays: a
        # cell costs nothing where `self._x` costs a map lookup
        self.sample = _sampler(self._sensed)
        self.wdt_feed = _feeder(self._clock)
        self._reset_cause = reset_cause
        self.console_in = []  # writes received, not yet read
        self._console_in_bytes = 0
        self._led_r = self._led_g = self._led_b = -1  # three ints: a tuple per call allocates
        self.cue_on = False

    # --- clock ---------------------------------------------------------------------------
    @micropython.viper
    def advance_ms(self, ms: int) -> bool:
        """Move the clock on; True when the watchdog has expired."""
        clock = ptr32(self._clock)
        clock[_C_ELAPSED_MS] += ms
        clock[_C_SINCE_FEED_MS] += ms
        timeout_ms = int(clock[_C_WDT_TIMEOUT_MS])
        return timeout_ms != 0 and int(clock[_C_SINCE_FEED_MS]) >= timeout_ms

    @micropython.viper
    def ticks_ms(self) -> int:
        clock = ptr32(self._clock)
        return (_CLOCK_START_MS + int(clock[_C_ELAPSED_MS])) & _TICKS_MASK

    def ticks_us(self):
        return (_CLOCK_START_US + self._clock[_C_ELAPSED_MS] * 1000) & _TICKS_MASK

    @staticmethod
    def ticks_diff(end, start):
        return ((end - start + _TICKS_HALF) & _TICKS_MASK) - _TICKS_HALF

    @staticmethod
    def ticks_add(ticks, delta):
        return (ticks + delta) & _TICKS_MASK

    # --- sensing ---------------------------------------------------------------------------
    # the button pin, active low: low while pressed (bounce included); methods, not a property:
    # a class with one makes every attribute read look in the class first
    def button_pin_is_low(self):
        return self._sensed[3] == 1

    def set_button_pin_low(self, low):
        self._sensed[3] = 1 if low else 0

    def read_battery_mv(self):
        return self.model.vbat_code() * 2 * _model.VBAT_REF_MV // _model.ADC_MAX_CODE

    # --- user outputs -----------------------------------------------------------------------
    def set_led(self, r, g, b):
        if r != self._led_r or g != self._led_g or b != self._led_b:
            self._led_r = r
            self._led_g = g
            self._led_b = b
            self.trace.led(r, g, b)

    def set_cue(self, on):
        on = bool(on)
        if on != self.cue_on:
            self.cue_on = on
            self.trace.cue_pin(on)

    # --- watchdog and reset -------------------------------------------------------------------
    def wdt_start(self, timeout_ms):
        self._clock[_C_WDT_TIMEOUT_MS] = timeout_ms
        self._clock[_C_SINCE_FEED_MS] = 0

    def reset_cause(self):
        return self._reset_cause

    # --- console (the serial port) ------------------------------------------------------------
    @micropython.native
    def console_read(self):
        """The oldest write received and not yet read, or None."""
        if self.console_in:
            data = self.console_in.pop(0)
            self._console_in_bytes -= len(data)
            return data
        return None

    def console_receive(self, data):
        """A write from the host; False (and nothing kept) when it does not fit."""
        if self._console_in_bytes + len(data) > RX_BUFFER_BYTES:
            return False
        self.console_in.append(data)
        self._console_in_bytes += len(data)
        return True

    def console_write(self, line):
        self.trace.serial("out", line)

    # --- telemetry hooks: what the device shows, for the trace ---------------------------------
    def emit_state(self, state, level, program):
        self.trace.state(state, level, program)

    def emit_fault(self, code):
        self.trace.fault(code)

    def emit_cue(self, zone):
        self.trace.cue(zone)

    def emit_head(self, name):
        self.trace.head(name)


def _sampler(sensed):
    @micropython.viper
    def sample(inputs):
        """inputs[0..4] = current (uA), electrode voltage (mV), USB, button, head ID (mV)
        (docs/board.md)."""
        to = ptr32(inputs)
        source = ptr32(sensed)
        to[0] = source[0]  # 32-bit copies: the sign survives
        to[1] = source[1]
        to[2] = source[2]
        to[3] = source[3]
        to[4] = source[4]

    return sample


def _feeder(clock):
    @micropython.viper
    def wdt_feed():
        ptr32(clock)[_C_SINCE_FEED_MS] = 0

    return wdt_feed
