"""C2 trace writer: one JSON object per line, times in simulated seconds."""
import json

from boards.sim.model import (
    ADC_MID_CODE,
    DAC_FULL_UA,
    DAC_MAX_CODE,
    NOISE_LSB,
    PIN_DAC_CODE,
    PIN_ENABLE,
    PIN_LEG_A,
    PIN_LEG_B,
    VSENSE_FULL_MV,
)

# An `out` record is written when the delivered current changes, the output pins change, the
# electrode voltage reaches 0, or it has moved more than this from the last record: the voltage
# sense's noise (+-NOISE_LSB codes, 16 mV), a change the firmware cannot see either
OUT_STEP_MV = NOISE_LSB * VSENSE_FULL_MV // ADC_MID_CODE


def _seconds(ms):
    return "%d.%03d" % (ms // 1000, ms % 1000)


class Trace:
    """Writes trace lines; `now_ms` is kept current by the runner."""

    def __init__(self, stream):
        self._out = stream
        self.now_ms = 0
        self.lines = 0

    def _line(self, kind, body):
        self.lines += 1
        self._out.write('{"kind":"%s","t":%s%s}\n' % (kind, _seconds(self.now_ms), body))

    def header(self, runtime, board, firmware, scenario, limits):
        self._line(
            "header",
            ',"format":"roller-trace/1","runtime":%s,"board":%s,"firmware":%s,"scenario":%s,'
            '"limits":%s' % tuple(json.dumps(x) for x in (runtime, board, firmware, scenario, limits)),
        )

    def out(self, ua, mv, pins):
        """Delivered current, electrode voltage, and the output pins as the board wrote them:
        enable, bridge polarity (forward leg minus reverse leg) and setpoint (DAC code in uA)."""
        # the commonest line: one format, not _line()'s three
        self.lines += 1
        t_ms = self.now_ms
        sign = "-" if mv < 0 else ""
        mv = -mv if mv < 0 else mv
        self._out.write('{"kind":"out","t":%d.%03d,"ua":%d,"v":%s%d.%03d,"en":%d,"pol":%d,"set_ua":%d}\n' % (
            t_ms // 1000, t_ms % 1000, ua, sign, mv // 1000, mv % 1000, pins[PIN_ENABLE],
            pins[PIN_LEG_A] - pins[PIN_LEG_B],
            (pins[PIN_DAC_CODE] * DAC_FULL_UA + DAC_MAX_CODE // 2) // DAC_MAX_CODE))

    def state(self, state, level, program):
        self._line("state", ',"state":"%s","level":%d,"program":"%s"' % (state, level, program))

    def fault(self, code):
        self._line("fault", ',"code":"%s"' % code)

    def led(self, r, g, b):
        self._line("led", ',"rgb":[%d,%d,%d]' % (r, g, b))

    def cue(self, zone):
        self._line("cue", ',"zone":"%s"' % zone)

    def head(self, name):
        """The head the firmware has accepted (None: none, or one it is settling on)."""
        self._line("head", ',"head":%s' % ('"%s"' % name if name else "null"))

    def cue_pin(self, on):
        self._line("cue_pin", ',"on":%s' % ("true" if on else "false"))

    def button(self, pressed):
        self._line("button", ',"pressed":%s' % ("true" if pressed else "false"))

    def serial(self, direction, line, raw=False, lost=False):
        """`raw`: a serial_raw write, no newline after it; `lost`: it did not fit in the
        device's receive buffer. Written in pieces: a long line is not copied again."""
        self.lines += 1
        out = self._out
        out.write('{"kind":"serial","t":%s,"dir":"%s","line":' % (_seconds(self.now_ms), direction))
        out.write(json.dumps(line))
        out.write('%s%s}\n' % (',"raw":true' if raw else "", ',"lost":true' if lost else ""))

    def reset(self, cause):
        self._line("reset", ',"cause":"%s"' % cause)

    def hw(self, event):
        self._line("hw", ',"event":"%s"' % event)

    def end(self, ticks, wall_s):
        self._line("end", ',"ticks":%d,"wall_s":%s' % (ticks, _seconds(int(wall_s * 1000))))
