"""The virtual board as a device (host_tools devsim): the sim board on the unix port with real
time, the console on stdin/stdout and the flash in the current directory.

The load on the electrodes is a dummy resistor, as on a bench: ROLLER_DEVSIM_LOAD_OHM (0 = open).
Stimuli from outside (the browser tests, a person at a shell): a JSON object written to
devsim-inject.json in the flash folder is applied within 100 ms and the file removed; its keys are
those of a scenario event (C1): `fault` (a name, or null to clear), `skin` ({"ohm": R} or null),
`battery_v`, `usb`.
"""
import json
import os
import time

from boards.sim import DUMMY_LOAD_OHM
from boards.sim.board import SimBoard
from boards.sim.model import Model
from hal.common import Console, Flash, Pacer, run_paced

INJECT_FILE = "devsim-inject.json"
_INJECT_POLL_MS = 100


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

    def inject(self, doc):
        """Apply one stimulus object (the keys of a scenario event that act on the model)."""
        model = self.model
        if "fault" in doc:
            if doc["fault"] is None:
                model.clear_faults()
            else:
                model.set_fault(doc["fault"])
        if "skin" in doc:
            skin = doc["skin"]
            model.set_skin(skin["ohm"] if skin else 0, skin.get("nf", 0) if skin else 0)
        if "battery_v" in doc:
            model.battery_mv = int(doc["battery_v"] * 1000 + 0.5)
        if "usb" in doc:
            model.usb = bool(doc["usb"])

    def _poll_inject(self):
        try:
            with open(INJECT_FILE) as f:
                doc = json.loads(f.read())
        except (OSError, ValueError):
            return  # none (or half written: read again next time)
        os.remove(INJECT_FILE)
        if isinstance(doc, dict):
            self.inject(doc)

    def run(self, app):
        model = self.model
        console = self._console
        service = app.service
        poll = [time.ticks_ms()]

        def tick():
            app.tick()
            model.step()  # the load answers the pins this ms, as in the scenario runner
            console.pump()  # Ctrl-C from the host stops the app even without a protocol

        def service_and_inject():
            service()
            now = time.ticks_ms()
            if time.ticks_diff(now, poll[0]) >= _INJECT_POLL_MS:
                poll[0] = now
                self._poll_inject()

        pacer = Pacer(tick)
        app.pace = pacer.pace  # real time here too: a long answer lets the tick in
        try:
            run_paced(pacer, service_and_inject)
        finally:
            self.write_output(False, 0, 0)
            model.step()
