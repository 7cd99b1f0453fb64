"""The oracle's view of a run: the C2 trace and the C1 stimuli as per-ms arrays and event lists.

Built once per judgement (tests/oracle.py runs the rules on it). Only the trace, the stimuli,
the limits module and the program table are read: never the firmware's state.
"""
import json
import math

import numpy as np

from roller import limits, programs
from tests import oracle as spec  # the oracle's declared figures

STATES = ("OFF", "SELFTEST", "STANDBY", "RUN", "PAUSED", "DONE", "CHARGING", "FAULT", "UNPOWERED")
S = {name: i for i, name in enumerate(STATES)}
ACTIVE = ("STANDBY", "RUN", "PAUSED")
ENDED = ("OFF", "DONE", "FAULT", "CHARGING", "UNPOWERED")  # a ramp-down is over (or cut short)
MODEL_FAULTS = ("dac_stuck_high", "polarity_stuck", "enable_stuck_on",
                "sense_stuck_low", "sense_stuck_high", "vsense_stuck")
CURRENT_FAULTS = ("dac_stuck_high", "polarity_stuck", "enable_stuck_on")  # they change the current
BURST_CYCLE_PERIODS = programs.BURST_ON_PERIODS + programs.BURST_OFF_PERIODS


def to_ms(t_s):
    return int(t_s * 1000 + 0.5)


def half_of(hz):
    """Half period (ms) the firmware generates for `hz`: the period is 2 * round(500 / hz)."""
    return min(max(int(500 / hz + 0.5), 1), 1000)


def _program(name):
    p = programs.PROGRAMS[programs.index_of(name)]
    return p.shape, p.hz, p.peak_ua


def _fill(n, changes, initial, dtype=np.int64):
    """Per-ms array from [(t, value)] (value from t on; the last of equal t wins)."""
    out = np.empty(n, dtype=dtype)
    out[:] = initial
    for t, value in changes:
        if t < n:
            out[max(t, 0):] = value
    return out


def _mask(n, intervals):
    out = np.zeros(n, dtype=bool)
    for a, b in intervals:
        out[max(a, 0):max(min(b, n), 0)] = True
    return out


def _runs(values):
    """(start, end, value) of the runs of equal values."""
    if not len(values):
        return []
    cuts = np.flatnonzero(np.diff(values)) + 1
    starts = np.concatenate([[0], cuts])
    ends = np.concatenate([cuts, [len(values)]])
    return [(int(a), int(b), values[a].item()) for a, b in zip(starts, ends, strict=True)]


def _parse(line):
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


_DEVICE_KINDS = ("out", "state", "led", "cue", "cue_pin", "fault", "hw")
_DRIVE_FIELDS = ("ua", "en", "pol", "set_ua")  # of an `out` record: what the device drives


class Timeline:
    def __init__(self, doc, events, end_ms=None):
        ends = [to_ms(e["t"]) for e in events if e["kind"] == "end"]
        last = max([to_ms(e["t"]) for e in events] + [to_ms(e["t"]) for e in doc.get("events", [])] + [0])
        self.n = end_ms or (ends[0] if ends else last + 1)
        self._current(events)
        self._walk(doc, events)
        self._per_ms(doc)
        self._contact()
        self._derived()

    # --- delivered current --------------------------------------------------------------------
    def _current(self, events):
        n = self.n
        ua = np.zeros(n, dtype=np.int64)
        mv = np.zeros(n, dtype=np.int64)  # the electrode voltage, signed
        last_t, last_ua, last_mv = 0, 0, 0
        for e in events:
            if e["kind"] == "out":
                t = min(to_ms(e["t"]), n)
                ua[last_t:t] = last_ua
                mv[last_t:t] = last_mv
                last_t, last_ua, last_mv = t, e["ua"], round(e.get("v", 0) * 1000)
        ua[last_t:] = last_ua
        mv[last_t:] = last_mv
        limited = np.abs(mv) >= limits.POOR_CONTACT_MV
        clipped = np.abs(mv) >= spec.CLIPPED_MV
        self.ua, self.mv = ua, mv
        self.limited_cum = np.concatenate([[0], np.cumsum(limited)])
        # the load driving the electrode into compliance mid-half clips the rest of that half
        self.compliance_entries = np.flatnonzero(clipped[1:] & ~clipped[:-1]) + 1
        self.abs_ua = np.abs(ua)
        self.sign = np.sign(ua).astype(np.int8)
        starts = np.flatnonzero(np.concatenate([[True], self.sign[1:] != self.sign[:-1]]))
        peaks = np.maximum.reduceat(self.abs_ua, starts) if n else np.zeros(0, dtype=np.int64)
        self.lobe_peak = np.repeat(peaks, np.diff(np.concatenate([starts, [n]])))
        self.q_cum = np.concatenate([[0], np.cumsum(ua)])
        self.abs_cum = np.concatenate([[0], np.cumsum(self.abs_ua)])

    # --- one pass over stimuli and trace, in the order the runner applies them ------------------
    def _walk(self, doc, events):
        items = []
        for i, e in enumerate(doc.get("events", [])):
            for key in ("skin", "usb", "battery_v", "fault", "power", "head"):
                if key in e:
                    items.append((to_ms(e["t"]), 0, i, "stim_" + key, e[key]))
        for i, e in enumerate(events):
            items.append((to_ms(e["t"]), 1, i, e["kind"], e))
        items.sort(key=lambda item: item[:3])
        # the stimuli of a ms come before its trace here, so a reset is seen after a "cut" that
        # followed its "on": whatever the order, the device ends the ms as the last of them says
        last_power = {}
        for e in doc.get("events", []):
            if e.get("power") in ("on", "cut"):
                last_power[to_ms(e["t"])] = e["power"]
        self._ends_cut = {t for t, value in last_power.items() if value == "cut"}
        settings = doc.get("settings", {})
        self.known = {"session_s": settings.get("session_s", limits.SESSION_DEFAULT_S),
                      "cue_s": settings.get("cue_s", limits.CUE_DEFAULT_S)}
        self._settings_changed = bool(set(settings) & {"session_s", "cue_s"})
        self.state_ch, self.cap_ch, self.period_ch = [(0, S["OFF"])], [], []
        self.graces, self.half_graces = [], []
        self.skin_ch, self.usb_ch, self.batt_ch = [(0, (0, 0))], [(0, False)], [(0, 3900)]
        self.head_ch = [(0, "face")]  # C1: the face head is on unless the scenario says otherwise
        self.injections, self.hangs, self.faults, self.resets, self.hw_events = [], [], [], [], []
        self.serial_stops, self.sets, self.presses, self.cues, self.notes = [], [], [], [], []
        self.cuts, self.changes, self.session_starts, self.corrupt_at, self.torn_at = [], [], [], [], []
        self.device_events, self.power_resets, self.unexplained_resets = [], [], []
        self.state, self.level, self.program, self.powered = "OFF", 1, "lift", True
        self.bench = None  # (ua, half, window_ms) while a bench command holds
        self.bench_settings = None  # (level, program) when it was accepted: what comes after it
        self.fifo = []
        self.partial = ""  # a line begun with serial_raw: the device loses it at a reset
        self.open_faults = {}  # injected model fault -> since
        self.hung, self.hang_since = False, None
        self._set_cap(0)
        last_drive = (0, 0, 0, 0)  # off, as from a reset
        for t, _, _, kind, value in items:
            speaks = kind in _DEVICE_KINDS or (kind == "serial" and value["dir"] == "out")
            if kind == "out":  # a record of the load's voltage alone is not the device speaking
                drive = tuple(value.get(k, 0) for k in _DRIVE_FIELDS)
                speaks = drive != last_drive
                last_drive = drive
            if speaks:
                self.device_events.append(t)
            handler = getattr(self, "_on_" + kind, None)
            if handler:
                handler(t, value)
        for name, since in self.open_faults.items():
            self.injections.append((since, self.n, name))
        if self.hang_since is not None:
            self.hangs.append((self.hang_since, self.n, False))

    def _note(self, t, text):
        self.notes.append((t, text))

    def _set_cap(self, t):
        """Cap and period from the bench or the level/program; a lower cap keeps the old one a
        period longer (a chosen change takes effect at a period boundary)."""
        if self.bench:
            cap, half, window = self.bench
        else:
            shape, hz, cap5 = _program(self.program)
            cap, half = limits.level_cap_ua(self.level, cap5), half_of(hz)
            window = 2 * half * (BURST_CYCLE_PERIODS if shape == programs.BURST else 1)
        old = getattr(self, "_cap", None)
        if old is not None and cap < old[0]:
            self.graces.append((t, t + 2 * max(half, old[1]) + 2, limits.allowed_peak_ua(old[0])))
        if old is not None and half < old[1]:  # the old, longer period may run to its end
            self.half_graces.append((t, t + 2 * old[1] + 2, old[1]))
        if old != (cap, half, window):
            self.cap_ch.append((t, cap))
            self.period_ch.append((t, (half, window)))
        self._cap = (cap, half, window)

    def _end_bench(self, t):
        if self.bench:
            self.bench = None
            self._set_cap(t)

    def _enter(self, t, state):
        self.state = state
        self.state_ch.append((t, S[state]))

    def _power_lost(self, t):
        self.powered = False
        self.fifo, self.partial = [], ""
        self._end_bench(t)
        self._enter(t, "UNPOWERED")
        self._unhang(t, False)
        self.hung = False  # the runner forgets a hang at power-off; one injected while off stays

    def _unhang(self, t, by_reset):
        self.hung = self.hung and not by_reset
        if self.hang_since is not None:
            self.hangs.append((self.hang_since, t, by_reset))
            self.hang_since = None

    # stimuli
    def _on_stim_skin(self, t, value):
        ohm, nf = (int(value["ohm"]), int(value.get("nf") or 0)) if value else (0, 0)
        self.skin_ch.append((t, (ohm, nf)))
        self._note(t, "skin %s" % ("off" if not ohm else "%dk%s" % (ohm // 1000, " %dnF" % nf if nf else "")))

    def _on_stim_head(self, t, value):
        if len(self.head_ch) > 1 and self.head_ch[-1][0] == t:
            self.head_ch.pop()  # the last head of a ms decides: the firmware reads it once per ms
        if value != self.head_ch[-1][1]:
            self.head_ch.append((t, value))
            self._note(t, "head %s" % value)
            self.cuts.append(t)  # the output stops at once, as at a lift-off

    def _on_stim_usb(self, t, value):
        self.usb_ch.append((t, bool(value)))
        self._note(t, "usb %s" % ("in" if value else "out"))
        if value:
            self.cuts.append(t)

    def _on_stim_battery_v(self, t, value):
        self.batt_ch.append((t, int(value * 1000 + 0.5)))
        self._note(t, "battery %.2f V" % value)

    def _on_stim_fault(self, t, name):
        self._note(t, "inject %s" % name)
        if name is None:
            for fault, since in self.open_faults.items():
                self.injections.append((since, t, fault))
            self.open_faults = {}
            self.hung = False
            self._unhang(t, False)
        elif name == "loop_hang":
            self.hung = True
            self.injections.append((t, t + 1, name))
            if self.powered and self.hang_since is None:
                self.hang_since = t
        elif name == "flash_corrupt":
            self.corrupt_at.append(t)
            self.injections.append((t, t + 1, name))
        elif name not in self.open_faults:
            self.open_faults[name] = t

    def _on_stim_power(self, t, value):
        self._note(t, "power %s" % value)
        if value == "cut" and self.powered:
            self.cuts.append(t)
            self._power_lost(t)
        elif value == "cut":
            self.hung = False  # the runner forgets a hang at a cut, even one injected while off
        elif value == "cut_during_write":
            self.torn_at.append(t)

    # trace
    def _on_reset(self, t, e):
        self._note(t, "reset (%s)" % e["cause"])
        self._unhang(t, e["cause"] == "watchdog")
        if e["cause"] == "power":
            self.power_resets.append(t)
            if self.powered and t > 0:  # back from a power loss the stimuli do not show
                self.unexplained_resets.append(t)
        self.powered = True
        self.fifo, self.partial = [], ""
        self.resets.append((t, e["cause"]))
        self.cuts.append(t)
        self._end_bench(t)
        self._enter(t, "OFF")
        if t in self._ends_cut:
            self._power_lost(t)
        if self.hung:  # injected while off: the loop hangs from boot
            self.hang_since = t
        if self._settings_changed and t > 0:  # the store may or may not have kept the last change
            self.known = {"session_s": None, "cue_s": None}

    def _on_state(self, t, e):
        if not self.powered:
            return  # the boot's state event, in the ms a power cut ended
        previous, state = self.state, e["state"]
        level, program = e["level"], e["program"]
        if (level, program) != (self.level, self.program):
            self._note(t, "level %d->%d" % (self.level, level) if program == self.program
                       else "program %s->%s" % (self.program, program))
            self.changes.append(t)
            self.level, self.program = level, program
            if (level, program) != self.bench_settings:
                self._end_bench(t)  # a button step did (a set ends it at its response)
            self._set_cap(t)
        if state != previous:
            self._note(t, state)
            if state in ("RUN", "STANDBY", "OFF", "DONE"):  # the waveform starts, or stops by choice
                self.changes.append(t)
            elif state in ("PAUSED", "FAULT", "CHARGING"):
                self.cuts.append(t)
            if state in ("OFF", "DONE", "CHARGING", "FAULT"):
                self._end_bench(t)
            if previous == "SELFTEST" and state == "STANDBY":
                self.session_starts.append((t, self.known["session_s"], self.known["cue_s"]))
        self._enter(t, state)

    def _on_fault(self, t, e):
        self.faults.append((t, e["code"]))
        self._note(t, "fault %s" % e["code"])

    def _on_hw(self, t, e):
        self.hw_events.append((t, e["event"]))

    def _on_cue(self, t, e):
        self.cues.append(t)

    def _on_button(self, t, e):
        self.presses.append((t, bool(e["pressed"])))

    def _on_serial(self, t, e):
        line = e["line"]
        if e["dir"] == "in":
            self._note(t, "serial %s" % line[:40])
            # serial_raw bytes ("raw") carry no newline of their own; "lost" never got in
            if self.powered and not e.get("lost"):
                parts = (self.partial + line + ("" if e.get("raw") else "\n")).split("\n")
                self.partial = parts.pop()
                self.fifo += [_parse(part) for part in parts]
            return
        response = _parse(line)
        if response is None or "ok" not in response:
            return  # telemetry
        request = self.fifo.pop(0) if self.fifo else None
        if response.get("ok") is not True:
            return
        for key in ("session_s", "cue_s"):
            if isinstance(response.get(key), int):
                self.known[key] = response[key]
        cmd = request.get("cmd") if request else None
        if cmd == "stop" and response.get("state") in ACTIVE:
            self.serial_stops.append(t)
        elif cmd == "set":
            self.sets.append(t)
            self.changes.append(t)
            if set(request) & {"session_s", "cue_s"}:
                self._settings_changed = True
            self._end_bench(t)
        elif cmd == "bench" and isinstance(response.get("ua"), int) and response.get("hz"):
            half = half_of(response["hz"])
            burst = response.get("shape") == "burst"
            self.bench = (response["ua"], half, 2 * half * (BURST_CYCLE_PERIODS if burst else 1))
            self.bench_settings = (response.get("level"), response.get("program"))
            self.changes.append(t)
            self._note(t, "bench %s" % line[:60])
            self._set_cap(t)

    # --- per-ms arrays ------------------------------------------------------------------------
    def _per_ms(self, doc):
        n = self.n
        self.state_code = _fill(n, self.state_ch, S["OFF"], np.int8)
        self.cap_ua = _fill(n, self.cap_ch, 0)
        periods = _fill(n, [(t, i) for i, (t, _) in enumerate(self.period_ch)], 0)
        table = np.array([p for _, p in self.period_ch], dtype=np.int64)
        self.half_ms, self.window_ms = table[periods, 0], table[periods, 1]
        for a, b, half in self.half_graces:  # half_ms: the longest half that may be running
            self.half_ms[a:b] = np.maximum(self.half_ms[a:b], half)
        self.allowed_ua = np.minimum(self.cap_ua + self.cap_ua * limits.CAP_MARGIN_PERCENT // 100
                                     + limits.CAP_MARGIN_UA, limits.HARD_MAX_UA)
        for a, b, allowed in self.graces:
            self.allowed_ua[a:b] = np.maximum(self.allowed_ua[a:b], allowed)
        skins = _fill(n, [(t, i) for i, (t, _) in enumerate(self.skin_ch)], 0)
        table = np.array([s for _, s in self.skin_ch], dtype=np.int64)
        self.skin_ohm, self.skin_nf = table[skins, 0], table[skins, 1]
        self.usb = _fill(n, self.usb_ch, False, bool)
        self._heads(n)
        self.battery_mv = _fill(n, self.batt_ch, 3900)
        tail = spec.FAULT_TAIL_MS
        self.injected = {name: _mask(n, [(a, b + tail) for a, b, f in self.injections if f == name])
                         for name in MODEL_FAULTS}
        self.any_injected = _mask(n, [(a, b) for a, b, _ in self.injections])
        self.hw_exempt = np.zeros(n, dtype=bool)
        self.current_exempt = np.zeros(n, dtype=bool)
        for name in MODEL_FAULTS:
            self.hw_exempt |= self.injected[name]
            if name in CURRENT_FAULTS:
                self.current_exempt |= self.injected[name]
        self.hang = _mask(n, [(a, b) for a, b, _ in self.hangs])
        ohm, nf = self.skin_ohm, self.skin_nf
        outside = (ohm < spec.LOAD_MIN_OHM) | (ohm > spec.LOAD_MAX_OHM) | (nf > spec.LOAD_MAX_NF)
        self.odd_load = (ohm > 0) & outside

    def _heads(self, n):
        """head_ok: a known head, settled or on at power-on; head_allowed_ua: its cap + margin;
        head_grace: LIFTOFF_DROP_MS after a change; selftest: the self-test's probe."""
        index = _fill(n, [(t, i) for i, (t, _) in enumerate(self.head_ch)], 0)
        names = [v for _, v in self.head_ch]
        limit = np.array([spec.HEAD_LIMITS_UA.get(v, 0) for v in names], dtype=np.int64)[index]
        changed_at = np.array([t for t, _ in self.head_ch], dtype=np.int64)[index]
        since = np.arange(n) - changed_at
        reset_at = _fill(n, [(t, t) for t, _ in self.resets], -1)
        self.head_name = np.array(names, dtype=object)[index]
        self.head_ok = (limit > 0) & ((since >= spec.HEAD_SETTLE_MS) | (reset_at >= changed_at))
        self.head_allowed_ua = np.where(limit > 0, np.minimum(
            limit + limit * limits.CAP_MARGIN_PERCENT // 100 + limits.CAP_MARGIN_UA,
            limits.HARD_MAX_UA + limits.CAP_MARGIN_UA), 0)
        self.head_grace = (since < spec.LIFTOFF_DROP_MS) & (changed_at > 0)
        self.selftest = self.state_code == S["SELFTEST"]

    def head_text(self, t):
        return str(self.head_name[t])

    def _revealed(self):
        """Where a scope on the electrodes shows a load above the lift-off impedance: v/i of one
        sign above it while the current does not fall (a falling current makes any capacitance's
        v/i read high), or at the compliance voltage (the load, not the source, sets the current
        there); an open circuit or a resistive load shows at once."""
        abs_ua, abs_mv = self.abs_ua, np.abs(self.mv)
        same = ((self.ua > 0) & (self.mv > 0)) | ((self.ua < 0) & (self.mv < 0))
        ohm = abs_mv * 1000 // np.maximum(abs_ua, 1)
        fall = spec.REVEAL_FALL_MS
        earlier = np.concatenate([np.zeros(fall, dtype=abs_ua.dtype), abs_ua[:-fall]])
        holds = (abs_ua >= earlier) & (abs_ua >= spec.REVEAL_MIN_UA)
        at_compliance = abs_mv >= limits.POOR_CONTACT_MV
        shown = same & (ohm > spec.LIFTOFF_OHM) & (holds | at_compliance) & (abs_ua > 0)
        return shown | (self.skin_ohm == 0) | (self.skin_nf == 0)

    def _contact(self):
        """contact_ok: skin confirmable (<= 150 kOhm, noise allowed) for 150 ms, not lifted off
        since (> 250 kOhm or open for 5 ms). lifted: 5 ms into a lift-off (onto R||C skin: 5 ms
        after the trace shows it, _revealed)."""
        n = self.n
        ohm = self.skin_ohm.astype(float)
        hz = 500.0 / self.half_ms
        z = ohm / np.sqrt(1 + (2 * math.pi * hz * ohm * self.skin_nf * 1e-9) ** 2)
        rc = self.skin_nf > 0
        rc_good = rc & ((ohm <= spec.RC_CONFIRM_OHM) | (z <= spec.CONFIRM_OHM))
        good = (ohm > 0) & ((ohm <= spec.CONFIRM_OHM) | rc_good)
        away = (ohm == 0) | ((ohm > spec.LIFTOFF_OHM) & (~rc | (z > spec.LIFTOFF_OHM)))
        category = np.where(good, 2, np.where(away, 0, 1)).astype(np.int8)
        ok = np.zeros(n, dtype=bool)
        lifted = np.zeros(n, dtype=bool)
        eligible_from = good_since = None
        revealed = self._revealed()
        for a, b, c in _runs(category):
            # onto R||C skin: once it shows (its capacitance charges, v/i reads low until then),
            # within half a period at most
            shown = np.flatnonzero(revealed[a:min(b, a + int(self.half_ms[a]))])
            drop_ms = spec.LIFTOFF_DROP_MS + (int(shown[0]) if len(shown) else int(self.half_ms[a]))
            if c == 0 and b - a >= drop_ms:  # a lift-off
                if eligible_from is not None:
                    ok[max(a, eligible_from):a + drop_ms] = True
                lifted[a + drop_ms:b] = True
                eligible_from = good_since = None
                continue
            if c == 1:
                good_since = None
            elif c == 2 and good_since is None:
                good_since = a
            if eligible_from is None and good_since is not None and good_since + spec.CONFIRM_MS < b:
                eligible_from = good_since + spec.CONFIRM_MS
            if eligible_from is not None:
                ok[max(a, eligible_from):b] = True
        self.contact_ok, self.lifted = ok, lifted
        self.touch_downs = []  # skin arriving: the load appears in the middle of a (probe) half
        runs = _runs(category)
        for (_, _, c), (b, _, d) in zip(runs, runs[1:], strict=False):
            if c != 0 and d == 0:
                self.cuts.append(b)
            elif c == 0 and d != 0:
                self.touch_downs.append(b)

    def _torn_off(self, n):
        """Where a torn write may have cut the power. The cut comes at the next flash write,
        whenever that is (after a reset, perhaps), and shows only as a power-on reset while the
        stimuli say the device was on. Until then, the device is off at t unless it speaks at
        or after t before the next power-on reset."""
        windows = []
        back = -1
        for w in self.torn_at:
            # a tear asked for while an earlier one's cut is still to come (or has cut the power)
            # cuts only after the reset that ends the earlier one: a power-on, then a write
            back = next((r for r in self.unexplained_resets if r > w and r > back), n)
            windows.append((w, back))
        maybe = _mask(n, windows)
        if not maybe.any():
            return maybe
        # next device event at or after t; next power-on reset after t
        spoke = np.full(n + 1, n + 1, dtype=np.int64)
        for t in self.device_events:
            if t < n:
                spoke[t] = min(spoke[t], t)
        spoke = np.minimum.accumulate(spoke[::-1])[::-1][:n]
        reset_after = np.full(n + 1, n + 1, dtype=np.int64)
        for r in self.power_resets:
            if 0 < r <= n:
                reset_after[r - 1] = min(reset_after[r - 1], r)
        reset_after = np.minimum.accumulate(reset_after[::-1])[::-1][:n]
        return maybe & ~(spoke < reset_after)

    def _derived(self):
        n = self.n
        code = self.state_code
        self.usb_settled = _mask(n, [(a + spec.USB_OFF_MS, b) for a, b, v in _runs(self.usb) if v])
        latched = []
        clears = sorted([t for t, _ in self.resets] + [t for t, s in self.state_ch
                                                      if s in (S["SELFTEST"], S["UNPOWERED"])])
        for t, _ in self.faults:
            later = [c for c in clears if c > t]
            latched.append((t + 1, later[0] if later else n))
        self.latched = _mask(n, latched)
        self.maybe_off = self._torn_off(n)
        testable = np.isin(code, [S[s] for s in ("OFF", "DONE", "STANDBY", "RUN", "PAUSED")])
        self.testable = testable & ~self.maybe_off & ~self.latched  # latched: no test pulse either
        self.ended = np.isin(code, [S[s] for s in ENDED])
        index = np.where(self.ended, np.arange(n), n)
        self.next_end = np.minimum.accumulate(index[::-1])[::-1]
        self.active = np.isin(code, [S[s] for s in ACTIVE])
        self.run = code == S["RUN"]
        self.run_cum = np.concatenate([[0], np.cumsum(self.run)])
        self._epochs()
        self._changes()
        self._stops()
        self._sessions()

    def _epochs(self):
        """Charge accounting restarts at each reset or power cut, and where a hang or a
        current-changing fault injection ends."""
        n = self.n
        bounds = {0, n}
        bounds.update(t for t, _ in self.resets)
        bounds.update(t for t, s in self.state_ch if s == S["UNPOWERED"])
        bounds.update(b for _, b in _runs_true(self.current_exempt | self.hang))
        bounds = sorted(b for b in bounds if 0 <= b <= n)
        self.epochs = list(zip(bounds[:-1], bounds[1:], strict=True))
        self.epoch = _fill(n, [(a, i) for i, (a, _) in enumerate(self.epochs)], 0)

    def _changes(self):
        """Windows that may hold one half period at the cap: those at a chosen change, at a cut,
        or at the first current after a cut (the leftover's compensation)."""
        n = self.n
        marks = np.zeros(n + 1, dtype=np.int64)
        flowing = np.flatnonzero(self.abs_ua > 0)
        strong = np.flatnonzero(self.abs_ua > spec.PROBE_UA + spec.PROBE_SLACK_UA)
        starts = list(self.changes) + self.touch_downs
        for t in self.cuts + [t for t, _ in self.faults]:
            starts.append(t)
            for pool in (flowing, strong):
                k = np.searchsorted(pool, t + spec.LIFTOFF_DROP_MS)
                if k < len(pool):
                    starts.append(int(pool[k]))
        for t in starts:
            if 0 <= t < n:
                period = 2 * int(self.half_ms[max(t - 1, 0):min(t + 2, n)].max())
                marks[t:min(t + 2 * period + 5, n)] = 1
        self.change_cum = np.concatenate([[0], np.cumsum(marks[:n])])
        self.exempt_cum = np.concatenate([[0], np.cumsum(self.current_exempt | self.hang)])
        ramping = []
        for t, s in self.state_ch:
            if s in (S["OFF"], S["DONE"]) and t > 0 and self.active[t - 1]:
                period = 2 * int(self.half_ms[t - 1])
                ramping.append((t - spec.RAMP_DOWN_MS - 3 * period - spec.STOP_SLACK_MS, t + period))
        self.ramping_down = _mask(n, ramping)

    def _stops(self):
        """(ms, why) of every accepted stop: serial stop, hold, low battery, session end."""
        n = self.n
        stops = [(t, "serial stop") for t in self.serial_stops]
        reset_times = [t for t, _ in self.resets]
        for i, (t, pressed) in enumerate(self.presses):
            if not pressed:
                continue
            release = self.presses[i + 1][0] if i + 1 < len(self.presses) else n
            before = self.presses[i - 1][0] if i else -10 ** 9
            due = t + spec.HOLD_MS + spec.DEBOUNCE_MS
            if release < due or t - before < spec.DOUBLE_GAP_MS + spec.DEBOUNCE_MS or due >= n:
                continue
            if any(t <= r <= due for r in reset_times) or not self.active[t + spec.HOLD_MS:due + 1].all():
                continue
            stops.append((due, "hold"))
        low = (self.battery_mv <= spec.BATTERY_STOP_MV) & self.active
        for a, b in _runs_true(low):
            if b - a > spec.BATTERY_DETECT_MS:
                stops.append((a + spec.BATTERY_DETECT_MS, "battery low"))
        for t0, session_s, _ in self.session_starts:
            end = int(self.next_end[t0]) if t0 < n else n
            if session_s is None:
                continue
            for entries, (a, b) in enumerate(_runs_true(self.run[t0:end]), start=1):
                need = session_s * 1000 + spec.SLOW_TICK_MS * (entries + 1)
                done = int(self.run_cum[t0 + a] - self.run_cum[t0])
                if done + (b - a) >= need:
                    stops.append((t0 + a + need - done, "session end"))
                    break
        self.stops = sorted(stops)

    def _sessions(self):
        """Sessions (leaving OFF .. OFF/DONE) ended by choice without a cut; cue gaps."""
        n = self.n
        cuts = sorted(self.cuts + [t for t, _ in self.faults])
        stop_times = [t for t, _ in self.stops]
        self.chosen_sessions = []
        on = ~np.isin(self.state_code, [S["OFF"], S["DONE"], S["UNPOWERED"]])
        for a, b in _runs_true(on):
            if b >= n or not self.active[b - 1] or self.hw_exempt[a:b].any() or self.hang[a:b].any():
                continue
            if any(a <= t <= b for t in cuts) or not any(a <= t <= b for t in stop_times):
                continue
            touch_downs = sum(1 for t in self.touch_downs if a <= t <= b)
            entries = self.compliance_entries
            clipped = int(np.count_nonzero((entries >= a) & (entries < b)))
            half = int(self.half_ms[a:b].max())
            self.chosen_sessions.append((a, min(b + 1, n), touch_downs, clipped, half))
        self.cue_gaps = []
        for t0, _, cue_s in self.session_starts:
            end = int(self.next_end[t0]) if t0 < n else n
            cues = [t for t in self.cues if t0 <= t < end]
            for c0, c1 in zip(cues, cues[1:], strict=False):
                entries = len(_runs_true(self.run[c0:c1 + 1]))
                if cue_s is not None:
                    self.cue_gaps.append((c0, c1, entries, cue_s))

    # --- queries for the rules ----------------------------------------------------------------
    def first_fault_after(self, t):
        later = [f for f, _ in self.faults if f >= t]
        return later[0] if later else None

    def first_end_after(self, t):
        return int(self.next_end[t]) if t < self.n and self.next_end[t] < self.n else None

    def max_half(self, a, b):
        return int(self.half_ms[max(a, 0):max(min(b, self.n), a + 1)].max()) if a < self.n else 1

    def stop_excused(self, t, deadline):
        """A hang (the watchdog ends it) or a torn write pending (power may be gone)."""
        return bool(self.hang[t:deadline + 1].any() or self.maybe_off[t:deadline + 1].any()
                    or any(t <= h <= deadline for h, _, _ in self.hangs))

    def state_name(self, t):
        return STATES[int(self.state_code[min(t, self.n - 1)])]

    def skin_text(self, t):
        ohm, nf = int(self.skin_ohm[t]), int(self.skin_nf[t])
        return "off" if not ohm else "%d ohm%s" % (ohm, " || %d nF" % nf if nf else "")

    def flash_corrupted_by(self, t):
        return any(c <= t for c in self.corrupt_at)

    def torn_by(self, t):
        return any(w <= t for w in self.torn_at)

    def hang_before(self, t):
        return any(a <= t for a, _, name in self.injections if name == "loop_hang")

    @property
    def run_segments(self):
        """(start, end) of the stretches of RUN at one cap and period."""
        key = np.where(self.run, self.cap_ua * 10_000 + self.half_ms, -1)
        return [(a, b) for a, b, v in _runs(key) if v >= 0]


def _runs_true(mask):
    return [(a, b) for a, b, v in _runs(np.asarray(mask, dtype=np.int8)) if v]
