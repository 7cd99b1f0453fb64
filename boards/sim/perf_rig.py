"""The perf rig: the App on a SimBoard with a model and skin, walked through every state.

MicroPython-compatible. The board is a QuietBoard (no trace), so what runs under heap_lock
is the firmware path plus the board's pin model.
"""
import micropython

from boards.sim import deployfs
from boards.sim.flash import Flash
from boards.sim.model import Model
from boards.sim.quiet_board import QuietBoard
from boards.sim.scenario import GESTURE_EDGES
from roller.programs import NAMES as PROGRAMS  # in the order a double click steps

SKIN_OHM = 20_000
SETTLE_MS = 3000  # past the soft start (2.4 s: it moves in positive halves only)
CHUNK_TICKS = 1000  # locked ticks between two rewinds of the state timers
STATES = ("OFF", "CHARGING", "STANDBY") + tuple("RUN_" + p for p in PROGRAMS) + (
    "PAUSED", "DONE", "FAULT")


class Rig:
    """One simulated device; `tour()` brings it into each of STATES in turn."""

    def __init__(self, flash_dir, firmware_dir):
        from roller.app import App

        self.model = Model(1)
        flash = Flash(flash_dir)
        deployfs.prepare(flash, firmware_dir)
        self.board = QuietBoard(self.model, flash)
        self.app = App(self.board)
        # a mid level; cues every 10 s, so a 10,000-tick window in RUN holds one
        self.app.apply_settings({"level": 3, "session_s": 600, "cue_s": 10})

    def ticks(self, n):
        """n control ticks, each on the model settled for the pins of the previous one."""
        model = self.model
        app = self.app
        board = self.board
        for _ in range(n):  # method calls, not bound methods kept in locals: those allocate
            model.step()
            app.tick()
            board.advance_ms(1)

    def ticks_locking_the_tick(self, n):
        """As `ticks`, with only the firmware's tick under heap_lock: on a 31-bit port (the
        emulated RP2040) the model's xorshift32 noise makes big ints, which the firmware does not."""
        model = self.model
        app = self.app
        board = self.board
        for _ in range(n):
            model.step()
            micropython.heap_lock()
            app.tick()
            micropython.heap_unlock()
            board.advance_ms(1)

    def idle(self, n):
        """The loop of `ticks` without the tick: subtracted to leave the tick's own cost."""
        model = self.model
        board = self.board
        for _ in range(n):
            model.step()
            board.advance_ms(1)

    def services(self, n):
        """n idle App.service() calls: the other work of every ms, besides the tick."""
        app = self.app
        for _ in range(n):
            app.service()

    def hold(self):
        """Rewind the state timers (DONE ends after 5 s, idle after 120 s) between chunks."""
        self.app.timer_ms = 0

    def state_name(self):
        from roller import ui

        return ui.STATE_NAMES[self.app.state]

    def locked_ticks(self, n, tick=None, tick_only=False):
        """n ticks under heap_lock, in chunks; None when alloc-free, else what went wrong.
        `tick_only`: the model and the clock outside the lock (ticks_locking_the_tick)."""
        if tick is not None:
            self.app.tick = tick
        expected = self.state_name()
        done = 0
        while done < n:
            self.hold()
            chunk = CHUNK_TICKS if n - done > CHUNK_TICKS else n - done
            run = self.ticks_locking_the_tick if tick_only else self.ticks
            if not tick_only:
                micropython.heap_lock()
            try:
                run(chunk)
            except MemoryError:
                micropython.heap_unlock()  # locked where it was raised
                return "MemoryError within ticks %d..%d" % (done, done + chunk)
            if not tick_only:
                micropython.heap_unlock()
            done += chunk
            if self.state_name() != expected:
                return "left %s for %s after %d ticks" % (expected, self.state_name(), done)
        return None

    def _gesture(self, name):
        """Press the button as a person does (the pin edges of a scenario gesture)."""
        at_ms = 0
        for edge_ms, pressed in GESTURE_EDGES[name]:
            self.ticks(edge_ms - at_ms)
            at_ms = edge_ms
            self.board.set_button_pin_low(pressed)

    def _skin(self, ohm):
        self.model.set_skin(ohm)
        self.model.step()

    def _at(self, label):
        state = self.state_name()
        program = self.app.settings.program_name()
        if label.split("_")[0] != state or (state == "RUN" and (
                label != "RUN_" + program or not self.app.envelope.settled())):
            raise RuntimeError("perf tour: expected %s, in %s (%s)" % (label, state, program))
        return label

    def tour(self):
        """Yields each name of STATES once the device has settled in that state."""
        app = self.app
        model = self.model
        self.ticks(100)
        yield self._at("OFF")
        model.usb = True
        self.ticks(100)
        yield self._at("CHARGING")
        model.usb = False
        self.ticks(100)
        self._gesture("click")  # OFF -> SELFTEST -> STANDBY
        self.ticks(SETTLE_MS)
        yield self._at("STANDBY")
        self._skin(SKIN_OHM)
        for program in PROGRAMS:
            if program != PROGRAMS[0]:
                self._gesture("double")  # the next program, with a fresh soft start
            self.ticks(SETTLE_MS)
            yield self._at("RUN_" + program)
        self._skin(0)
        self.ticks(100)
        yield self._at("PAUSED")
        self._skin(SKIN_OHM)
        self.ticks(SETTLE_MS)
        session = app.session
        session.contact_ms = session.limit_ms - 1000  # fast-forward to the last second
        self.ticks(2000)  # session end, 0.5 s ramp down
        yield self._at("DONE")
        model.set_fault("sense_stuck_high")
        self.ticks(10)
        model.clear_faults()
        self.ticks(100)
        yield self._at("FAULT")
