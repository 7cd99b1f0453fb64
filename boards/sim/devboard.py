"""The virtual board as a device (host_tools devsim): the sim board on the unix port with real
time, the console on stdin/stdout and the flash in the current directory.

The load on the electrodes is a dummy resistor, as on a bench: ROLLER_DEVSIM_LOAD_OHM (0 = open).
"""
import os
import time

from boards.sim import DUMMY_LOAD_OHM
from boards.sim.board import SimBoard
from boards.sim.model import Model
from hal.common import Console, Flash, run_paced


class _NoTrace:
    """The sim board reports LED and cue pin changes to a trace; a device has none."""

    def led(self, r, g, b):
        pass

    def cue_pin(self, on):
        pass


class Board(SimBoard):
    def __init__(self, console=None):
        model = Model(time.ticks_us() | 1)
        load = os.getenv("ROLLER_DEVSIM_LOAD_OHM")
        model.set_skin(int(load) if load else DUMMY_LOAD_OHM)
        super().__init__(model, Flash(), _NoTrace())
        self._console = console or Console()
        self.last_state = None
        self.last_fault = None

    # real time instead of the simulated clock
    def ticks_ms(self):
        return time.ticks_ms()

    def ticks_us(self):
        return time.ticks_us()

    def ticks_diff(self, end, start):
        return time.ticks_diff(end, start)

    def ticks_add(self, ticks, delta):
        return time.ticks_add(ticks, delta)

    def console_read(self):
        return self._console.read()

    def console_write(self, line):
        self._console.write(line)

    def emit_state(self, state, level, program):
        self.last_state = state

    def emit_fault(self, code):
        self.last_fault = code

    def emit_cue(self, zone):
        pass

    def emit_head(self, name):
        self.last_head = name

    def run(self, app):
        model = self.model
        console = self._console

        def tick():
            app.tick()
            model.step()  # the load answers the pins this ms, as in the scenario runner
            console.pump()  # Ctrl-C from the host stops the app even without a protocol

        try:
            run_paced(tick, getattr(app, "service", None))
        finally:
            self.write_output(False, 0, 0)
            model.step()
