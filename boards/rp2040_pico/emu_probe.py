"""Emulated Pico only (docs/emulation.md): what the device shows, for the trace.

`sim --runtime pico` imports this from boot.py on its flash image (never on a board): the
HAL's telemetry hooks (emit_state, emit_fault, emit_cue: the ones the virtual board turns
into trace records) also write a line, byte by byte, to WATCHDOG SCRATCH0, where the harness
(host_tools/emu_pico.mjs) reads it at the emulated µs it was written. "ready" marks the App
built: the scenario's clock starts there.
"""
import machine
from micropython import const

from hal import common
from roller import app

_SCRATCH0 = const(0x4005_800C)  # free to software (the boot ROM uses SCRATCH4-7)


def _put(text):
    mem = machine.mem32
    for c in text:
        mem[_SCRATCH0] = ord(c)
    mem[_SCRATCH0] = 10


def _state(self, state, level, program):
    self.last_state = state
    _put("state %s %d %s" % (state, level, program))


def _fault(self, code):
    self.last_fault = code
    _put("fault " + code)


def _cue(self, zone):
    _put("cue " + zone)


_init = app.App.__init__


def _app(self, board):
    _put("boot")
    _init(self, board)
    _put("ready")


common.Board.emit_state = _state
common.Board.emit_fault = _fault
common.Board.emit_cue = _cue
app.App.__init__ = _app
