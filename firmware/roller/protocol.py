"""Serial protocol (SPEC C4, docs/protocol.md): JSON lines in, one response line each.

Runs in App.service(), never in the control tick. A request is checked in full (line length,
ASCII, strict JSON, command, field names, types, ranges) before anything acts on it, so a bad
line changes nothing. Commands act only through the App's own events and setters; the
supervisor still clamps and checks whatever they start.
"""
from micropython import const

from roller import VERSION, faults, heads, history, programs, ui
from roller.led import PATTERNS as LED_PATTERNS
from roller.contact import OPEN_OHM
from roller.jsonline import Milli, dumps, parse
from roller.limits import HARD_MAX_UA, HISTORY_ENTRIES, LINE_MAX_BYTES, PROBE_UA, STREAM_PERIOD_MS
from roller.linebuf import LONG, LineBuffer
from roller.selftest import FAILED, LOW_BATTERY, PASSED
from roller.waveform import half_ms

PROTOCOL_VERSION = const(1)
# command: the fields it takes besides "cmd"
COMMANDS = {
    "info": (),
    "status": (),
    "set": ("level", "program", "session_s", "cue_s", "week_target"),
    "start": (),
    "stop": (),
    "log": (),
    "selftest": (),
    "stream": ("on",),
    "bench": ("shape", "hz", "ua"),
    "history": ("limit",),
    "clock": ("unix",),
}
_SELFTEST_RESULTS = {PASSED: "passed", FAILED: "failed", LOW_BATTERY: "battery low"}
_LED_MODES = ("solid", "blink", "breathe", "double")  # roller.led's modes, in number order


def _error(text):
    return {"ok": False, "error": text}


def _state_name(app):
    return ui.STATE_NAMES[app.state]


class Protocol:
    def __init__(self, app):
        self.app = app
        self.lines = LineBuffer(LINE_MAX_BYTES)
        self.streaming = False
        self._stream_ms = 0
        self.link = None  # another link (roller.ble_uart) while handle() answers it

    def service(self, chunk):
        """At most one request line, then telemetry when due. `chunk`: bytes the App has just
        read from the console (it reads only once the last chunk is used up), or None. The App
        calls this only with a chunk, a chunk still buffered, or streaming on: idle costs no call.
        Called every ms while streaming: a small frame (bytecode frames over 11 slots come from
        the heap), the work in calls.
        """
        lines = self.lines
        if chunk:
            lines.feed(chunk)
        line = lines.line()
        if line is not None:
            self._answer(line)
        if self.streaming:
            board = self.app.board
            now = board.ticks_ms()
            if board.ticks_diff(now, self._stream_ms) >= STREAM_PERIOD_MS:
                self._stream_ms = now
                self._write(self._telemetry())

    def _answer(self, line):
        try:
            response = self.handle(line)
        except MemoryError:  # a fragmented heap on a small board: refuse, do not crash
            response = _error("out of memory")
        self._write(response)

    def _write(self, response):
        app = self.app
        text = dumps(response, app.pace)
        app.answered_bytes += len(text)  # garbage to collect (App.service)
        app.board.console_write(text)

    def handle(self, line, link=None):
        """The response object for one request line (bytes, or LONG). `link`: another link
        than the console, whose rules (link.refuse) come before anything else."""
        if line is LONG:
            return _error("line too long (max %d bytes)" % LINE_MAX_BYTES)
        request, error = parse(line, self.app.pace)
        if error:
            return _error(error)
        cmd = request.get("cmd")
        if cmd is None:
            return _error("missing cmd")
        if not isinstance(cmd, str) or cmd not in COMMANDS:
            return _error("unknown command")
        if link is not None:
            refused = link.refuse(cmd)
            if refused:
                return _error(refused)
        fields = COMMANDS[cmd]
        for key in request:
            if key != "cmd" and key not in fields:
                return _error("unknown field for " + cmd)
        command = getattr(self, "_cmd_" + cmd)
        pace = self.app.pace
        if pace is not None:
            pace()  # a tick due runs before the command does
        return command(request)

    # --- commands ---------------------------------------------------------------------------
    def _cmd_info(self, request):
        return {
            "ok": True,
            "fw": VERSION,
            "board": self.app.board.name,
            "calibrated": self.app.board.calibrated,
            "protocol": PROTOCOL_VERSION,
            "commands": sorted(COMMANDS),
            "programs": programs.NAMES,
            "shapes": programs.SHAPE_NAMES,
            "hard_max_ua": HARD_MAX_UA,
            "line_max": LINE_MAX_BYTES,
        }

    def _cmd_status(self, request):
        """Built in three parts with the tick let in between (App.pace); built again without a
        break should a tick in between change the state, so that no answer contradicts itself."""
        pace = self.app.pace
        if pace is None:
            return self._status(None)
        transitions = self.app.transitions
        answer = self._status(pace)
        return answer if self.app.transitions == transitions else self._status(None)

    def _status(self, pace):
        app = self.app
        s = app.settings
        answer = {
            "ok": True,
            "state": _state_name(app),
            "level": s.level,
            "program": s.program_name(),
            "session_s": s.session_s,
            "cue_s": s.cue_s,
            "week_target": s.week_target,
            "elapsed_s": app.session.contact_ms // 1000,
        }
        if pace is not None:
            pace()
        active = ui.superstate(app.state) is not None
        ohm = app.contact.ohm
        answer["contact"] = active and app.contact.confirmed
        answer["ohm"] = ohm if active and ohm < OPEN_OHM else None
        answer["battery_v"] = Milli(app.battery.filtered_mv)
        answer["usb"] = app.usb_present()
        answer["calibrated"] = app.board.calibrated
        answer["fault"] = faults.NAMES[app.fault] or None
        answer["head"] = heads.NAMES[app.heads.on]
        if pace is not None:
            pace()
        answer["led"] = self._led_status()
        answer["bench"] = self._bench_status()
        answer["selftest"] = self._selftest_status()
        answer["stream"] = self.streaming
        answer["sessions_7d"] = app.sessions_7d()
        answer["clock"] = app.record.unix_at_boot is not None
        answer["unix"] = app.unix_now()
        ble = app.ble
        if ble is not None:  # Bluetooth boards (roller.ble_uart): the window, the bonds kept
            answer["pairing"] = ble.pairing
            answer["bonds"] = ble.bond_count()
        return answer

    def _cmd_set(self, request):
        changes = {}
        for key in request:
            if key != "cmd":
                changes[key] = request[key]
        error = self.app.apply_settings(changes)  # validates all, applies all or nothing
        if error:
            return _error(error)
        response = self.app.settings.as_dict()
        response["ok"] = True
        return response

    def _cmd_start(self, request):
        app = self.app
        if app.state != ui.OFF:
            return _error("start needs state OFF, not " + _state_name(app))
        app.dispatch(ui.START)
        return {"ok": True, "state": _state_name(app)}

    def _cmd_stop(self, request):
        app = self.app
        state = app.state
        if ui.superstate(state) is not None:
            app.dispatch(ui.STOP)  # ramps down to OFF
        elif state == ui.SELFTEST:
            return _error("self-test running, retry")
        elif state == ui.FAULT:
            return _error("fault latched: hold the button to switch off")
        return {"ok": True, "state": _state_name(app)}  # OFF, DONE, CHARGING: output is off

    def _cmd_log(self, request):
        store = self.app.store
        pace = self.app.pace
        entries = []
        for e in store.log:
            if pace is not None:
                pace()  # a fault a tick logs meanwhile comes last: listed or not, all else stands
            entries.append({"boot": e[0], "ms": e[1], "code": e[2]})
        return {
            "ok": True,
            "boot": store.boot,
            "sessions": store.sessions,
            "stim_s": store.stim_s,
            "last_fault": store.last_fault or None,
            "entries": entries,
        }

    def _cmd_history(self, request):
        limit = request.get("limit", HISTORY_ENTRIES)
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            return _error("limit must be an integer >= 1")
        entries = self.app.store.history
        pace = self.app.pace
        n = len(entries)
        sessions = []
        for i in range(min(limit, n)):
            if pace is not None:
                pace()  # a session a tick closes meanwhile comes last: counted from the end as read
            sessions.append(history.as_dict(entries[n - 1 - i]))
        return {"ok": True, "sessions": sessions}

    def _cmd_clock(self, request):
        unix = request.get("unix")
        error = history.check_unix(unix)
        if error:
            return _error(error)
        self.app.set_clock(unix)
        return {"ok": True}

    def _cmd_selftest(self, request):
        app = self.app
        if app.state != ui.OFF:
            return _error("selftest needs state OFF, not " + _state_name(app))
        app.check_only = True
        app.dispatch(ui.START)
        return {"ok": True, "state": _state_name(app)}

    def _cmd_stream(self, request):
        on = request.get("on")
        if not isinstance(on, bool):
            return _error("on must be true or false")
        link = self.link or self  # telemetry goes on the link that asked
        link.streaming = on
        link._stream_ms = self.app.board.ticks_ms()
        return {"ok": True, "stream": on}

    def _cmd_bench(self, request):
        app = self.app
        shape = request.get("shape")
        hz = request.get("hz")
        ua = request.get("ua")
        if not isinstance(shape, str) or shape not in programs.SHAPE_NAMES:
            return _error("shape must be one of " + ", ".join(programs.SHAPE_NAMES))
        kind = programs.SHAPE_NAMES.index(shape)
        if not isinstance(hz, (int, float)) or isinstance(hz, bool):
            return _error("hz must be a number")
        smooth = kind == programs.SINE or kind == programs.TRIANGLE
        top_hz = programs.MAX_SMOOTH_HZ if smooth else programs.MAX_HZ
        if hz < programs.MIN_HZ or hz > top_hz:
            return _error("hz must be %s..%d for %s" % (programs.MIN_HZ, top_hz, shape))
        # below the contact probe the cap could not hold in STANDBY (nor contact be measured)
        if not isinstance(ua, int) or isinstance(ua, bool) or ua < PROBE_UA or ua > HARD_MAX_UA:
            return _error("ua must be an integer %d..%d" % (PROBE_UA, HARD_MAX_UA))
        if app.state != ui.OFF and ui.superstate(app.state) is None:
            return _error("bench needs state OFF, STANDBY, RUN or PAUSED, not " + _state_name(app))
        if app.pending is not None:
            return _error("stopping, retry")
        app.start_bench(kind, hz, ua)
        response = self._bench_status()
        response["ok"] = True
        response["state"] = _state_name(app)
        response["level"] = app.settings.level  # what comes back when the bench ends
        response["program"] = app.settings.program_name()
        return response

    # --- reports ------------------------------------------------------------------------------
    def _bench_status(self):
        bench = self.app.bench  # as asked: the output takes it at the end of a period
        if bench is None:
            return None
        shape, hz, ua = bench
        half = half_ms(hz)
        return {
            "shape": programs.SHAPE_NAMES[shape],
            "hz": Milli((1_000_000 + half) // (2 * half)),  # the generated period, rounded
            "ua": ua,
        }

    def _selftest_status(self):
        app = self.app
        if app.selftest is not None:
            return {"result": "running"}
        test = app.last_selftest
        if test is None:
            return None
        return {"result": _SELFTEST_RESULTS.get(test.result, "interrupted"), "reason": test.failed}

    def _led_status(self):
        """The pattern the LED plays: its colour at full brightness, mode and period."""
        led = self.app.led
        if led.pattern < 0:
            return None
        r, g, b, mode, period_ms = LED_PATTERNS[led.pattern]
        scale = led.scale
        return {"rgb": [r * scale // 255, g * scale // 255, b * scale // 255], "mode": _LED_MODES[mode],
                "period_ms": period_ms}

    def _telemetry(self):
        app = self.app
        ohm = app.contact.ohm
        return {
            "t": Milli(app.uptime_ms()),
            "state": _state_name(app),
            "ua": app.sense_ua(),
            "v": Milli(app.sense_mv()),
            "ohm": ohm if ui.superstate(app.state) is not None and ohm < OPEN_OHM else None,
            "level": app.settings.level,
        }
