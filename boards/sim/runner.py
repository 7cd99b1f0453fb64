"""Runs a checked scenario against the firmware on the virtual board, writing a C2 trace.

MicroPython-compatible: the same code runs under CPython and the unix port.
"""
from array import array

import micropython

from boards.sim import deployfs
from boards.sim import scenario as _scenario
from boards.sim.board import SimBoard
from boards.sim.flash import Flash, PowerLost
from boards.sim.model import Model
from boards.sim.trace import OUT_STEP_MV, Trace

BOUNCE_MS = 4  # contact bounce after each button edge


def _limits():
    from roller import limits

    return {
        "hard_max_ua": limits.HARD_MAX_UA,
        "probe_ua": limits.PROBE_UA,
        "cap_margin_percent": limits.CAP_MARGIN_PERCENT,
        "cap_margin_ua": limits.CAP_MARGIN_UA,
        "ramp_up_ms": limits.RAMP_UP_MS,
        "ramp_down_ms": limits.RAMP_DOWN_MS,
        "contact_confirm_ohm": limits.CONTACT_CONFIRM_OHM,
        "liftoff_ohm": limits.LIFTOFF_OHM,
        "session_default_s": limits.SESSION_DEFAULT_S,
    }


class Runner:
    """One simulated device for the length of a scenario."""

    def __init__(self, doc, trace_stream, runtime, flash_dir, firmware_dir, vbus_interlock=True):
        from roller import VERSION

        self.doc = doc
        self.timeline = _scenario.timeline(doc)
        self.duration_ms = _scenario.to_ms(doc["duration_s"])
        self.model = Model(doc.get("seed", 1), vbus_interlock)
        self.flash = Flash(flash_dir)
        self.flash.on_cut = self.power_off
        deployfs.prepare(self.flash, firmware_dir)
        self.trace = Trace(trace_stream)
        self.trace.header(runtime, SimBoard.name, VERSION, doc["name"], _limits())
        self.board = None
        self.app = None
        self.hung = False
        self.ticks = 0
        self.elapsed_ms = 0
        self._pressed = False
        self._bounce_until_ms = 0
        self._last_out = (0, 0, array("i", self.model.pins))  # ua, mv, pins of the last `out`
        self._last_hw = None
        self._bounce_rng = Model(doc.get("seed", 1) + 7)  # bounce pattern, apart from ADC noise
        self._next_event = 0
        self._more = None  # see run()
        self.now_ms = 0
        self.power_on("power")

    # --- power and resets ---------------------------------------------------------------------
    def power_on(self, cause):
        from roller.app import App

        self.trace.reset(cause)
        self.board = SimBoard(self.model, self.flash, self.trace, self.elapsed_ms, cause)
        self.app = App(self.board)
        if cause == "power" and "settings" in self.doc and self.elapsed_ms == 0:
            self.app.apply_settings(self.doc["settings"])

    def power_off(self):
        if self.board is not None and self.board.cue_on:
            self.trace.cue_pin(False)  # the pin falls with the power
        self.app = None
        self.board = None
        self.hung = False
        self.model.power_off()

    # --- scenario events ----------------------------------------------------------------------
    def apply(self, key, value, t_ms):
        model = self.model
        if key == "pin":
            if value != self._pressed:
                self._pressed = value
                self._bounce_until_ms = t_ms + BOUNCE_MS
                self.trace.button(value)
        elif key == "skin":
            if value is None:
                model.set_skin(0)
            else:
                model.set_skin(value["ohm"], value.get("nf", 0))
        elif key == "head":
            model.set_head(value)
        elif key == "battery_v":
            model.battery_mv = int(value * 1000 + 0.5)
        elif key == "usb":
            model.usb = value
        elif key == "fault":
            self._inject(value)
        elif key == "serial" or key == "serial_raw":
            raw = key == "serial_raw"
            data = value.encode() if raw else value.encode() + b"\n"
            lost = self.board is not None and not self.board.console_receive(data)
            data = None  # a long write is not kept while the trace writes it
            self.trace.serial("in", value, raw, lost)
        elif key == "power":
            if value == "cut":
                self.power_off()
            elif value == "on":
                if self.app is None:
                    self.power_on("power")
            else:
                self.flash.tear_next_write = True

    def _inject(self, name):
        if name is None:
            self.model.clear_faults()
            self.hung = False
        elif name == "loop_hang":
            self.hung = True
        elif name == "flash_corrupt":
            self._corrupt_flash()
        else:
            self.model.set_fault(name)

    def _corrupt_flash(self):
        """Flip one byte in the first deployed firmware file, as a failing flash cell would."""
        for name in self.flash.listdir():
            if name.endswith(".py") or name.endswith(".mpy"):
                with open(self.flash.path(name), "rb") as f:
                    data = bytearray(f.read())
                if data:
                    data[len(data) // 2] ^= 0x01
                    with open(self.flash.path(name), "wb") as f:
                        f.write(data)
                    return

    # --- the loop -----------------------------------------------------------------------------
    def _device(self):
        """What the per-ms loop keeps in locals; read again after events and resets."""
        board = self.board
        pin_low = board.button_pin_is_low() if board is not None else False
        return board, self.app, self.hung, self._pressed, self._bounce_until_ms, pin_low

    @micropython.native
    def advance_to(self, end_ms):
        """Simulate up to (not including) `end_ms`, applying the timeline on the way."""
        # locals for the loop: what changes every ms, and what changes only with an event or a
        # reset (board, app, button, hang), read again after one
        timeline = self.timeline
        n_events = len(timeline)
        next_event = self._next_event
        next_ms = timeline[next_event][0] if next_event < n_events else end_ms
        model = self.model
        trace = self.trace
        bounce_rng = self._bounce_rng
        last_ua, last_mv, last_pins = self._last_out
        step_mv = OUT_STEP_MV
        pins = model.pins
        last_hw = self._last_hw
        ticks = self.ticks
        board, app, hung, pressed, bounce_until_ms, pin_low = self._device()
        for t_ms in range(self.now_ms, end_ms):
            trace.now_ms = t_ms
            if t_ms >= next_ms:
                self.elapsed_ms = t_ms
                while next_event < n_events and timeline[next_event][0] <= t_ms:
                    _, key, value = timeline[next_event]
                    next_event += 1
                    self.apply(key, value, t_ms)
                    if next_event == n_events and self._more is not None:  # read on
                        timeline = self.timeline = self._more()
                        n_events = len(timeline)
                        next_event = 0
                next_ms = timeline[next_event][0] if next_event < n_events else end_ms
                model.settle()  # the load may have changed: sense reads it this ms
                board, app, hung, pressed, bounce_until_ms, pin_low = self._device()
            if board is not None:
                level = bounce_rng._noise() > 0 if t_ms < bounce_until_ms else pressed
                if level != pin_low:  # the pin is written when it changes
                    board.set_button_pin_low(level)
                    pin_low = level
                if not hung:
                    try:
                        # a real board services the console in the time left after a tick,
                        # so what it decides takes effect at the next tick: this one
                        app.service()
                        app.tick()
                        ticks += 1
                    except PowerLost:
                        board = None  # the flash's on_cut has already powered the device off
            ua = model.step()
            mv = model.electrode_mv
            # the `out` rule (boards/sim/trace.py), inline: a call per ms would cost more
            if ua != last_ua or pins != last_pins or mv - last_mv > step_mv or last_mv - mv > step_mv or (
                    mv == 0 and last_mv != 0):
                trace.out(ua, mv, pins)
                last_ua = ua
                last_mv = mv
                last_pins = array("i", pins)
            if model.hw_violation != last_hw:
                last_hw = model.hw_violation
                if last_hw:
                    trace.hw(last_hw)
            if board is not None and board.advance_ms(1):  # the watchdog expired
                self.power_off()
                self.elapsed_ms = t_ms + 1
                trace.now_ms = t_ms + 1
                self.power_on("watchdog")
                board = self.board
                app = self.app
                hung = False
                pin_low = False
        if end_ms > self.now_ms:
            # the last ms simulated (or the reset after it): power_on() stamps its clock so
            if self.elapsed_ms < end_ms - 1:
                self.elapsed_ms = end_ms - 1
            self.now_ms = end_ms
        self._next_event = next_event
        self._last_out = (last_ua, last_mv, last_pins)
        self._last_hw = last_hw
        self.ticks = ticks

    def run(self, wall_clock=None, more=None):
        """Run to the end. `more`, for a timeline read as the run goes (instead of
        self.timeline): returns the next items in time order, [] at the end."""
        start_s = wall_clock() if wall_clock else 0
        if more is not None:
            self._more = more
            self.timeline = more()
            self._next_event = 0
        self.advance_to(self.duration_ms)
        self.trace.now_ms = self.duration_ms
        self.trace.end(self.ticks, (wall_clock() - start_s) if wall_clock else 0)
        return self.ticks


def run_text(text, trace_stream, runtime, flash_dir, firmware_dir, wall_clock=None, vbus_interlock=True):
    """Parse, check and run scenario text; raises ScenarioError for a malformed one."""
    doc = _scenario.parse(text)
    return Runner(doc, trace_stream, runtime, flash_dir, firmware_dir, vbus_interlock).run(wall_clock)
