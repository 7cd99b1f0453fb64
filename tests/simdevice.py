"""The firmware on the virtual board, driven ms by ms from a test (CPython, no scenario file).

Mirrors boards/sim/runner.py (tick, service, power cuts, watchdog resets) but lets a test look
at the model and the App between any two milliseconds.
"""
import atexit
import json
import os
import shutil
import tempfile

from boards.sim import deployfs
from boards.sim.board import SimBoard
from boards.sim.flash import Flash, PowerLost
from boards.sim.model import Model
from boards.sim.trace import Trace
from host_tools import paths
from roller.app import App

_TEMPLATE = {}  # one deployed flash image per session, copied for every device


class _Sink:
    def write(self, text):
        pass


def deployed_flash(flash_dir):
    """A flash dir holding the firmware files and their manifest, as `deploy` leaves it."""
    if "dir" not in _TEMPLATE:
        root = tempfile.mkdtemp(prefix="roller-deployed-")
        atexit.register(shutil.rmtree, root, True)
        template = root + "/fs"
        deployfs.prepare(Flash(template), paths.FIRMWARE)
        _TEMPLATE["dir"] = template
    shutil.copytree(_TEMPLATE["dir"], flash_dir)
    return Flash(flash_dir)


class Device:
    def __init__(self, flash_dir, seed=1, skin_ohm=0):
        self.model = Model(seed)
        if skin_ohm:
            self.model.set_skin(skin_ohm)
        self.flash = Flash(flash_dir) if os.path.exists(flash_dir) else deployed_flash(flash_dir)
        self.flash.on_cut = self.power_off
        self.trace = Trace(_Sink())
        self.t_ms = 0
        self.board = None
        self.app = None
        self.hung = False
        self.text = []  # everything the device wrote to the console
        self.lines = []  # ... parsed
        self.resets = []  # (t_ms, cause)
        self.power_on()

    # --- power ------------------------------------------------------------------------------
    def power_on(self, cause="power"):
        self.resets.append((self.t_ms, cause))
        self.board = SimBoard(self.model, self.flash, self.trace, self.t_ms, cause)
        self.board.console_write = self._console_write
        self.app = App(self.board)

    def power_off(self):
        self.app = None
        self.board = None
        self.hung = False
        self.model.power_off()

    @property
    def on(self):
        return self.app is not None

    # --- console --------------------------------------------------------------------------
    def _console_write(self, line):
        self.text.append(line)
        self.lines.append(json.loads(line))

    def send(self, data):
        """Queue raw bytes (a newline is added) for the console."""
        if self.board is not None:
            self.board.console_in.append(data + b"\n")

    def responses(self):
        return [x for x in self.lines if "ok" in x]

    def request(self, obj, ms=1):
        """Send one request (a dict, str or bytes) and return its response."""
        if isinstance(obj, dict):
            obj = json.dumps(obj)
        if isinstance(obj, str):
            obj = obj.encode()
        before = len(self.responses())
        self.send(obj)
        self.step(ms)
        got = self.responses()[before:]
        assert len(got) == 1, got
        return got[0]

    # --- time -----------------------------------------------------------------------------
    def step(self, ms=1, check=None):
        """Run `ms` milliseconds; `check(device)` after each, with the outputs of that ms."""
        model = self.model
        for _ in range(ms):
            self.trace.now_ms = self.t_ms
            if self.board is not None and not self.hung:
                try:
                    self.app.tick()
                    self.app.service()
                except PowerLost:
                    pass  # the flash already cut the power
            model.step()
            if check is not None:
                check(self)
            board = self.board
            if board is not None and board.advance_ms(1):  # the watchdog expired
                self.power_off()
                self.t_ms += 1
                self.power_on("watchdog")
                continue
            self.t_ms += 1

    def hold_button(self, ms=1100):
        """A long press (FAULT -> OFF, or a ramp-down in a session)."""
        self.board.set_button_pin_low(True)
        self.step(ms)
        self.board.set_button_pin_low(False)
        self.step(60)
