"""A SimBoard without a trace: the trace writer formats strings (allocates), the firmware
must not, so alloc-free and heap measurements use this board."""
from boards.sim.board import SimBoard


class QuietBoard(SimBoard):
    """A SimBoard whose user outputs are kept as values, not written to a trace."""

    def __init__(self, model, flash):
        super().__init__(model, flash, None)
        self.led_r = self.led_g = self.led_b = 0
        self.shown = None

    def set_led(self, r, g, b):
        self.led_r = r
        self.led_g = g
        self.led_b = b

    def set_cue(self, on):
        self.cue_on = bool(on)

    def console_write(self, line):
        self.shown = line

    def emit_state(self, state, level, program):
        self.shown = state

    def emit_fault(self, code):
        self.shown = code

    def emit_cue(self, zone):
        self.shown = zone

    def emit_head(self, name):
        self.shown = name
