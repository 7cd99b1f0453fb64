"""What the real boards share: scaling, output-stage order, flash, console, the paced loop.

esp32.py and rp2040.py build the machine objects and hand them in; this module never imports
machine at run time (the TYPE_CHECKING import is read by mypy only, against each port's stubs,
so the calls made here are checked too).
"""
import os
import select
import sys
import time

from micropython import const

from roller.limits import HARD_MAX_UA

TYPE_CHECKING = False
if TYPE_CHECKING:
    from machine import ADC, PWM, WDT, Pin

_TICK_US = const(1000)
# this far behind, missed ticks are dropped (the waveform then holds its sample that long); short
# of it they catch up, one per pace() call: a flash write or a collection comes where the output
# holds its level (roller.app._level_held), so what the missed ticks would have written is that
# level. 20 ms once: a 22 ms checkpoint write and collection then stretched a half by 22 ms.
# Short of the watchdog (250 ms), which ends a real hang anyway.
_RESYNC_US = const(200_000)
_CONSOLE_READ_BYTES = const(64)  # per call, so a flood of input cannot starve the tick
_CONSOLE_KEEP_BYTES = const(512)  # unread input beyond this is dropped, like a full UART FIFO
_HALF_SCALE = const(32768)


def offset_binary(code, zero_code, value_per_half_scale):
    """Signed value of an offset-binary ADC reading: zero at zero_code."""
    return (code - zero_code) * value_per_half_scale // _HALF_SCALE


def rail_value(zero_code, value_per_half_scale):
    """Magnitude at which a signed reading sits on the nearer ADC rail (less 1 %)."""
    room = zero_code if zero_code < 65535 - zero_code else 65535 - zero_code
    return room * 99 // 100 * value_per_half_scale // _HALF_SCALE


class Flash:
    """The `fs` of docs/board.md over os (littlefs on the boards), names relative to the cwd."""

    def open(self, name, mode="r"):
        return open(name, mode)

    def rename(self, old, new):
        os.rename(old, new)

    def remove(self, name):
        try:
            os.remove(name)
        except OSError:
            pass  # already gone: the store only removes what it no longer needs

    def listdir(self):
        return sorted(os.listdir())

    def exists(self, name):
        try:
            os.stat(name)
            return True
        except OSError:
            return False


class Console:
    """The serial console (the REPL's stdin/stdout), read without blocking."""

    def __init__(self, stdin=None, stdout=None):
        stdin = stdin or sys.stdin
        self._in = stdin.buffer if hasattr(stdin, "buffer") else stdin
        self._out = stdout or sys.stdout
        self._poll = select.poll()
        self._poll.register(stdin, select.POLLIN)
        # MicroPython's ipoll makes no list per call (poll() does); CPython (tests) has only poll
        self._ready = getattr(self._poll, "ipoll", self._poll.poll)
        self._pending = b""

    def pump(self):
        """Take in what waits on stdin. A board's port catches Ctrl-C before stdin; the unix
        port in raw-REPL mode hands it over as a byte, so it interrupts here, as on a board."""
        for _ in range(_CONSOLE_READ_BYTES):
            if not self._waiting():
                return
            byte = self._in.read(1)
            if not byte:
                return
            if byte == b"\x03":
                raise KeyboardInterrupt
            if len(self._pending) < _CONSOLE_KEEP_BYTES:
                self._pending += byte

    def _waiting(self):
        for _ in self._ready(0):
            return True
        return False

    def read(self):
        """Up to 64 received bytes (App.service takes one line per call), or None."""
        self.pump()
        if not self._pending:  # idle (every ms): the slices below would allocate 96 bytes
            return None
        data = self._pending[:_CONSOLE_READ_BYTES]
        self._pending = self._pending[_CONSOLE_READ_BYTES:]
        return data

    def write(self, line):
        self._out.write(line)
        self._out.write("\n")


class Pacer:
    """The control tick once per ms of time.ticks_us. pace() runs it when its ms has come: the
    main loop calls it, and so does service() between slices of a long answer (App.pace), so a
    request never holds the tick for longer than one slice."""

    def __init__(self, tick):
        self._tick = tick
        self._deadline_us = time.ticks_us()
        # made now: raised when the tick runs out of memory, which the protocol's own
        # MemoryError handler (a refused request) must not take for its own
        self._tick_failed = RuntimeError("control tick: out of memory")

    def pace(self):
        """The tick, if due; one per call, so missed ticks catch up a call at a time."""
        late_us = time.ticks_diff(time.ticks_us(), self._deadline_us)
        if late_us < 0:
            return
        if late_us > _RESYNC_US:
            self._deadline_us = time.ticks_us()
        self._deadline_us = time.ticks_add(self._deadline_us, _TICK_US)
        try:
            self._tick()
        except MemoryError:  # in a transition: the loop ends, the output goes off, a reset follows
            raise self._tick_failed  # noqa: B904 -- nothing to allocate a chain with

    def wait_us(self):
        """µs until the next tick is due (<= 0: due now)."""
        return time.ticks_diff(self._deadline_us, time.ticks_us())


def run_paced(pacer, service):
    """pacer.pace() then service() (if any) in the time left, forever."""
    while True:
        pacer.pace()
        if service is not None:
            service()
        wait_us = pacer.wait_us()
        if wait_us > 0:
            time.sleep_us(wait_us)


class Board:
    """docs/board.md for a board with an enable switch, an H-bridge and 16-bit ADC reads.

    Subclasses set the setpoint (`_write_setpoint`, or write_output and sample of their own on the
    registers, as rp2040.py), the watchdog and the reset cause.
    """

    name = ""
    _wdt: "WDT | None" = None  # set by wdt_start

    def __init__(self, cfg, enable: "Pin", leg_a: "Pin", leg_b: "Pin", isense: "ADC",
                 vsense: "ADC", vbat: "ADC", usb: "Pin", button: "Pin", led: "tuple[PWM, PWM, PWM]",
                 cue: "Pin", head: "ADC", console=None, adc_mux: "Pin | None" = None):
        self._enable = enable
        self._leg_a = leg_a
        self._leg_b = leg_b
        self._polarity = 0
        self._isense = isense
        self._vsense = vsense
        self._vbat = vbat
        self._usb = usb
        self._button = button
        self._led = led
        self._cue = cue
        self._head = head
        # a board short of ADC inputs shares one between the battery and the head ID through
        # an analog switch: at 0 (the head, read every tick), at 1 for a battery reading
        self._adc_mux = adc_mux
        self._head_scale = cfg.HEAD_MV_PER_65536
        self.head_bands_mv = cfg.HEAD_BANDS_MV
        self.head_open_mv = cfg.HEAD_OPEN_MV
        # False: cfg is the board's nominal board_config frozen into the image (make uf2 adds
        # NOMINAL to its copy); a unit's own deployed board_config is calibrated
        self.calibrated = not getattr(cfg, "NOMINAL", False)
        self._setpoint_max = cfg.SETPOINT_MAX_CODE
        self._setpoint_full_ua = cfg.SETPOINT_FULL_UA
        self._i_zero = cfg.ISENSE_ZERO_U16
        self._i_scale = cfg.ISENSE_UA_PER_32768
        self._v_zero = cfg.VSENSE_ZERO_U16
        self._v_scale = cfg.VSENSE_MV_PER_32768
        self._bat_scale = cfg.VBAT_MV_PER_65536
        self.isense_rail_ua = rail_value(cfg.ISENSE_ZERO_U16, cfg.ISENSE_UA_PER_32768)
        self.fs = Flash()
        self._console = console
        self.last_state = None  # what the device shows, for a look from the REPL
        self.last_fault = None
        self.last_head = None

    def _write_setpoint(self, code):
        raise NotImplementedError

    # --- clock ---------------------------------------------------------------------------
    def ticks_ms(self):
        return time.ticks_ms()

    def ticks_us(self):
        return time.ticks_us()

    def ticks_diff(self, end, start):
        return time.ticks_diff(end, start)

    def ticks_add(self, ticks, delta):
        return time.ticks_add(ticks, delta)

    # --- output stage -----------------------------------------------------------------------
    def write_output(self, enable, polarity, magnitude_ua):
        if not enable:
            self._enable.value(0)  # first: the switch stops the current fastest
        if polarity != self._polarity:
            # break before make: release the active leg, only then drive the other
            if self._polarity > 0:
                self._leg_a.value(0)
            elif self._polarity < 0:
                self._leg_b.value(0)
            if polarity > 0:
                self._leg_a.value(1)
            elif polarity < 0:
                self._leg_b.value(1)
            self._polarity = polarity
        # last barrier after the supervisor: the hard cap, and the DAC's range
        if magnitude_ua > HARD_MAX_UA:
            magnitude_ua = HARD_MAX_UA
        elif magnitude_ua < 0:
            magnitude_ua = 0
        full = self._setpoint_full_ua
        self._write_setpoint((magnitude_ua * self._setpoint_max + full // 2) // full)
        if enable:
            self._enable.value(1)  # last: the new setpoint and polarity are in place

    # --- sensing ------------------------------------------------------------------------------
    def sample(self, inputs):
        """inputs[0..4] = current (uA), electrode voltage (mV), USB, button, head ID (mV)
        (docs/board.md)."""
        inputs[0] = offset_binary(self._isense.read_u16(), self._i_zero, self._i_scale)
        inputs[1] = offset_binary(self._vsense.read_u16(), self._v_zero, self._v_scale)
        inputs[2] = self._usb.value()
        inputs[3] = 1 - self._button.value()  # active low
        inputs[4] = self._head.read_u16() * self._head_scale >> 16

    def read_battery_mv(self):
        mux = self._adc_mux
        if mux is None:
            return self._vbat.read_u16() * self._bat_scale >> 16
        mux.value(1)  # both sources sit on 100 nF: the ADC's sample cap settles at once
        mv = self._vbat.read_u16() * self._bat_scale >> 16
        mux.value(0)
        return mv

    # --- user outputs ---------------------------------------------------------------------------
    def set_led(self, r, g, b):
        led = self._led
        led[0].duty_u16(r * 257)  # 0-255 to 0-65535
        led[1].duty_u16(g * 257)
        led[2].duty_u16(b * 257)

    def set_cue(self, on):
        self._cue.value(1 if on else 0)

    def wdt_feed(self):
        if self._wdt is not None:
            self._wdt.feed()

    # --- console --------------------------------------------------------------------------------
    def console_read(self):
        if self._console is None:
            self._console = Console()
        return self._console.read()

    def console_write(self, line):
        if self._console is None:
            self._console = Console()
        self._console.write(line)

    # --- what the device shows: kept for the REPL; the app logs faults itself ---------------------
    def emit_state(self, state, level, program):
        self.last_state = state

    def emit_fault(self, code):
        self.last_fault = code

    def emit_cue(self, zone):
        pass  # the cue pin already tells the user

    def emit_head(self, name):
        self.last_head = name

    # --- the main loop ----------------------------------------------------------------------------
    def run(self, app):
        try:
            pacer = Pacer(app.tick)
            app.pace = pacer.pace  # service() lets the tick in between slices of its work
            ble = getattr(app, "ble", None)
            if ble is None:
                run_paced(pacer, getattr(app, "service", None))
            else:  # its loop: the same pacing, with aioble's tasks in the slack (roller.ble_uart)
                ble.run(pacer, app.service)
        except KeyboardInterrupt:
            # Ctrl-C from the host (mpremote, deploy): with the output off, keep the watchdog
            # (which cannot be stopped) quiet so the REPL stays usable until the next reset.
            # Any other exception lets it bite: a crash resets the board.
            if self._wdt is not None:
                self._keep_watchdog_quiet(self._wdt)
            raise
        finally:
            self.write_output(False, 0, 0)  # whatever stopped the loop, the output is off

    def _keep_watchdog_quiet(self, wdt):
        raise NotImplementedError
