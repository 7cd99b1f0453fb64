"""The application: one run-to-completion control tick per ms on a board object.

tick(): read sense -> supervisor check -> contact -> UI events -> waveform -> supervisor clamp
and write; every 10 ms the slower work (battery, timers, session, LED). service(), called in
the time left between ticks: serial requests and flash writes.

While the waveform runs, what the user or a host chooses (level, program, bench, entering RUN,
the end of a ramp-down) takes effect at the end of a period, so it never leaves net charge:
`settings` and `bench` hold what was asked, run_level, run_program and run_bench what the output
runs (and the trace shows). A ramp-down, once started, always ends in OFF or DONE
(docs/safety.md). The tick is the hot path (docs/performance.md): viper over the shared slot
array (roller.hot), few calls, no allocation. Nothing here imports machine: the board object is
the only way out.
"""
import gc

import micropython
from micropython import const

from roller import faults, heads, hot, programs, ui
from roller.battery import Battery
from roller.button import Button
from roller.contact import Contact, update_contact
from roller.envelope import Envelope
from roller.history import Record
from roller.led import STATE_PATTERNS, LedPlayer
from roller.limits import (
    BATTERY_RUN_MIN_MV,
    DONE_TO_OFF_MS,
    HARD_MAX_UA,
    HEAD_SETTLE_MS,
    HISTORY_CHECKPOINT_MS,
    IDLE_OFF_MS,
    LEVEL_MAX,
    PROBE_UA,
    RAMP_DOWN_MS,
    WATCHDOG_TIMEOUT_MS,
    level_cap_ua,
)
from roller.protocol import Protocol
from roller.selftest import FAILED, LOW_BATTERY, PASSED, SelfTest
from roller.session import Session
from roller.settings import Settings
from roller.store import Store
from roller.supervisor import (
    S_CHARGE_NC as _SUP_CHARGE_NC,  # the session meter's slots, read when a session ends
)
from roller.supervisor import (
    S_PEAK_UA as _SUP_PEAK_UA,
    Supervisor,
    check_readings,
    drive_output,
    halt_output,
    idle_output,
)
from roller.waveform import Waveform, next_setpoint_ua

_SLOW_MS = const(10)
# slots 5-7 and 68-72 of roller.hot: the tick's own state (its region includes the inputs, 0-4)
REGIONS = ((0, 8), (68, 73))
_A_STATE = const(5)  # ui state number
_A_SLOW_MS = const(6)  # ms since the last slow tick
_A_CAP_UA = const(7)  # peak current of the program and level (or bench) and head
_A_BUTTON_BUSY = const(68)  # 1 while the button has something to debounce or time
_A_HEAD_OK = const(69)  # 1 while a known head is attached and its reading stays in its band
_A_HEAD_LO_MV = const(70)  # the attached head's band (roller.heads)
_A_HEAD_HI_MV = const(71)
_A_RUN_MS = const(72)  # ms in RUN, for the session meter (roller.supervisor has the rest)
# roller.waveform's slots: the tick closing a period, and work waiting for it (tests/test_hot.py
# checks)
_WAVE_INDEX = const(57)
_WAVE_PERIOD_DONE = const(61)
_WAVE_WAIT_PERIOD_END = const(64)
# slots 0-3 of roller.hot: board.sample() fills them (docs/board.md)
_IN_CURRENT_UA = const(0)
_IN_ELECTRODE_MV = const(1)
_IN_USB = const(2)
_IN_BUTTON = const(3)
_IN_HEAD_MV = const(4)  # the head's ID-resistor voltage
# roller.ui's state and event numbers: local constants fold, imported names cost a global and an
# attribute lookup each, and a name in this module's qstrs (tests/test_ui.py checks they agree)
_OFF = const(0)
_SELFTEST = const(1)
_STANDBY = const(2)
_RUN = const(3)
_PAUSED = const(4)
_DONE = const(5)
_CHARGING = const(6)
_FAULT = const(7)
_HOLD = const(3)
_START = const(4)
_STOP = const(5)
_SELFTEST_PASSED = const(6)
_BATTERY_TOO_LOW = const(7)
_CONTACT = const(8)
_LIFTOFF = const(9)
_SESSION_END = const(10)
_IDLE_TIMEOUT = const(11)
_DONE_TIMEOUT = const(12)
_USB_IN = const(13)
_USB_OUT = const(14)
_FAULTED = const(15)
_RAMPED_DOWN = const(16)
_CHECK_PASSED = const(17)
# roller.led's patterns the app picks, and roller.contact's poor-contact slot, alike
_LED_RUN = const(3)
_LED_POOR_CONTACT = const(4)
_LED_CUE = const(6)
_LED_CHARGING = const(8)
_LED_CHARGED = const(9)
_LED_LOW_BATTERY = const(10)
_LED_NO_HEAD = const(15)
_LED_REFUSED = const(16)
_LED_WEEK_ON_TRACK = const(17)
_LED_WEEK_DUE = const(18)
_LED_PAIRING = const(19)
_CONTACT_POOR = const(42)
# what roller.contact's update_contact() returns: 1-3 confirmed (tests/test_ui.py checks)
_CONTACT_CONFIRMED = const(1)
_CONTACT_LIMITED = const(2)
_CONTACT_KEPT = const(3)
_CONTACT_LOST = const(4)
_LOW_BATTERY_SIGNAL_MS = const(3000)
_CHARGED_MV = const(4150)
_RUN_BRIGHTNESS_PER_LEVEL = const(51)  # levels 1-5: 51..255
# on a board, answers' garbage is collected where the output holds its level (App._level_held),
# not whenever an allocation finds the heap full: a collection holds the loop (15 ms on the
# RP2040). Answers allocate many times their text (a status's 440 bytes took 6.9 KB).
_COLLECT_AFTER_BYTES = const(4096)
_WRITE_STALL_MS = const(3)  # a store write, littlefs on the emulated RP2040 (2.5 ms)
_STOP_MARGIN_MS = const(50)  # a ramp-down's backstop: RAMP_DOWN_MS + one period + this
_SIGNAL_MS = const(2000)  # a refusal, or the week at switch-on, shows this long
_POOR_SHOWN_MS = const(1000)  # two blinks of the poor-contact pattern at least
_WEEK_S = const(7 * 86400)
# what ends a session, by the event that ends it (roller.history); a fault adds its name
_END_REASONS = {
    _HOLD: "hold",
    _STOP: "stop",
    _IDLE_TIMEOUT: "idle",
    _SESSION_END: "done",
    _BATTERY_TOO_LOW: "low_battery",
    _USB_IN: "usb",
    _FAULTED: "fault:",
}


class App:
    def __init__(self, board):
        slots = hot.new()
        # first thing: the supervisor, the only writer of the output stage, switches it off
        self.supervisor = Supervisor(board, slots)
        self.slots = slots
        self.board = board
        self.settings = Settings()
        self.store = Store(board.fs)
        self.store.load()
        for key in self.store.settings:  # one by one: a stale key costs only itself
            self.settings.update({key: self.store.settings[key]})
        self.envelope = Envelope(slots)
        self.wave = Waveform(slots)
        if self.store.run_negative_first is not None:
            # a power cut may have left charge of the last RUN's first sign: begin with the other
            self.wave.carry_ua_ms = -1 if self.store.run_negative_first else 1
        self.contact = Contact(slots)
        self.button = Button()
        self.led = LedPlayer(board)
        self.battery = Battery()
        self.session = Session()
        self.selftest = None
        self.last_selftest = None
        self.check_only = False  # serial `selftest`: back to OFF when it passes
        self.bench = None  # serial `bench` asked for: (shape, hz, ua), until a `set` or OFF
        self.run_bench = None  # the bench running, as asked
        self.bench_ua = 0  # its cap (0: a program runs)
        self.run_level = self.settings.level  # what the output runs; settings may be ahead
        self.run_program = self.settings.program
        self._due = None  # (level, program, bench) asked for, for the next period end
        self.state = _OFF  # slots[_A_STATE] too (0): _enter keeps the two the same
        self.cap_ua = 0  # slots[_A_CAP_UA] too: _update_cap keeps the two the same
        self.fault = faults.NONE
        self.pending = None  # OFF or DONE while ramping down towards it
        self.stopping_ms = 0  # time since the ramp-down began
        self.stop_period_ends = 0  # period ends left until the ramp-down must end
        self.low_battery_signal_ms = 0
        self.low_battery = False
        # in objects of their own: every attribute of the App makes each one's lookup dearer
        self.heads = heads.Heads(board)
        self.record = Record()
        self.timer_ms = 0  # idle time in STANDBY/PAUSED, time in DONE
        self._posted = []
        self.ble = None  # the Bluetooth link on boards with one (roller.ble_uart sets it)
        self._up_ms = 0  # since boot, up to _up_ticks: uptime_ms() folds the clock in
        self._up_ticks = board.ticks_ms()
        self.protocol = Protocol(self)
        self.pace = None  # the board's loop sets it where time is real (hal.common.Pacer)
        self.answered_bytes = 0  # answer text since the last collection (roller.protocol counts)
        self.collect_ms = 20  # how long the last collection held the loop (a board measures it)
        self.transitions = 0  # states entered
        self._console_read = board.console_read
        self._feed = board.wdt_feed
        self.tick = _control_tick(self, slots, self.wave.tables, board.sample, board.write_output)
        self._configure_wave(None)
        board.sample(slots)  # the head on at power-on counts at once; later changes settle
        self._attach(heads.classify(slots[_IN_HEAD_MV], self.heads.bands_mv, self.heads.open_mv))
        board.wdt_start(WATCHDOG_TIMEOUT_MS)
        self._enter(_OFF)
        if board.reset_cause() == "watchdog":
            self.on_fault(faults.WATCHDOG)

    # no properties on App: a class with one makes every attribute read look in the class first
    def usb_present(self):
        """USB power present, as this tick read it."""
        return self.slots[_IN_USB] == 1

    def sense_ua(self):
        """This tick's current reading, for telemetry."""
        return self.slots[_IN_CURRENT_UA]

    def sense_mv(self):
        return self.slots[_IN_ELECTRODE_MV]

    @micropython.native
    def service(self):
        """Work outside the control tick: one serial request, then any flash write due.

        Idle (no bytes, no line buffered, no telemetry, nothing to store) it costs one console
        read: it runs every ms besides the tick.
        """
        if self.answered_bytes >= _COLLECT_AFTER_BYTES and self.pace is not None and not self._collect():
            return  # requests wait (in the console's buffer) for the collection
        protocol = self.protocol
        if protocol.lines.chunk is None:  # the last chunk used up: the console's turn
            chunk = self._console_read()
            if chunk or protocol.streaming:
                protocol.service(chunk)
        else:
            protocol.service(None)
        if self.store.dirty:
            self._save()

    def _collect(self):
        """A board, after _COLLECT_AFTER_BYTES of answers: the collection where the output holds
        its level for as long as the last one took. True: requests may go on (collected, or no
        such moment in this waveform: then once the output is off); False: wait for it."""
        if not self._level_held(self.collect_ms):
            return self.collect_ms > self.wave.level_ticks  # else within a half
        board = self.board
        start_us = board.ticks_us()
        gc.collect()
        self.collect_ms = board.ticks_diff(board.ticks_us(), start_us) // 1000 + 1
        self.answered_bytes = 0
        return True

    def _level_held(self, stall_ms):
        """Real time: the loop may pause here for `stall_ms` without moving charge. The output
        is off, or the tick where the level changes least has just run (Waveform.hold_index) and
        it stays that long: the ticks missed meanwhile then run back to back, and the output
        delivers what it would have."""
        if not _STANDBY <= self.state <= _PAUSED:
            return True
        wave = self.wave
        return stall_ms <= wave.level_ticks and (self.slots[_WAVE_INDEX] - wave.hold_index) % wave.half == 0

    def may_write(self):
        """A flash write may hold the loop now (the store's, the Bluetooth bonds')."""
        return self.pace is None or self._level_held(_WRITE_STALL_MS)

    def _save(self):
        """service(), while the store has something to write: when due, it writes. On a board,
        where the output holds its level: a write holds the loop for ms (littlefs)."""
        if not self.may_write():
            return
        store = self.store
        if self.record.save_open:  # built here, not in the tick: it allocates
            self.record.save_open = False
            if self.record.ran:
                store.open_session(self.session_entry(""))
        store.service(self.uptime_ms(), self.settings)

    def uptime_ms(self):
        """ms since boot. Called at least once per half ticks period (2**29 ms on the boards:
        the slow tick does, once a second), or a clock wrap goes unseen."""
        now = self.board.ticks_ms()
        self._up_ms += self.board.ticks_diff(now, self._up_ticks)
        self._up_ticks = now
        return self._up_ms

    def _selftest_tick(self, current_ua, electrode_mv):
        test = self.selftest
        test.step(current_ua, electrode_mv, self.battery.filtered_mv or self.board.read_battery_mv())
        if test.result == PASSED:
            self.dispatch(_CHECK_PASSED if self.check_only else _SELFTEST_PASSED)
        elif test.result == FAILED:
            self.on_fault(faults.SELFTEST)
        elif test.result == LOW_BATTERY:
            self.dispatch(_BATTERY_TOO_LOW)

    @micropython.native
    def _slow_tick(self):
        """Every _SLOW_MS: battery, session and timers, cue, LED. A call costs as much as
        ten attribute reads here, so the common paths are inline and calls happen on changes."""
        board = self.board
        # battery (R7): summed here, averaged by the Battery once per window
        mv = board.read_battery_mv()
        battery = self.battery
        battery.sum_mv += mv
        battery.samples_left -= 1
        if not battery.samples_left or not battery.filtered_mv:
            battery.settle(mv)
            self.uptime_ms()  # once a battery window (1 s) is plenty, and keeps the tick cheap
        state = self.state
        session = self.session
        if _STANDBY <= state <= _PAUSED:
            if battery.filtered_mv < BATTERY_RUN_MIN_MV and not self.low_battery:
                self.dispatch(_BATTERY_TOO_LOW)
            if state == _RUN and self.pending is None:
                contact_ms = session.contact_ms
                if contact_ms >= session.next_cue_ms:
                    self._cue()
                contact_ms += _SLOW_MS
                session.contact_ms = contact_ms
                if contact_ms >= self.record.checkpoint_ms:  # saved now and then: a power cut may come
                    self._checkpoint()
                if contact_ms >= session.limit_ms:  # the session is over
                    self.dispatch(_SESSION_END)
            else:
                self.timer_ms += _SLOW_MS
                if self.timer_ms >= IDLE_OFF_MS:
                    self.dispatch(_IDLE_TIMEOUT)
            if self.pending is not None:
                self._stop_backstop()
        elif state == _DONE:
            self.timer_ms += _SLOW_MS
            if self.timer_ms >= DONE_TO_OFF_MS:
                self.dispatch(_DONE_TIMEOUT)
        if self.low_battery_signal_ms > 0:
            self.low_battery_signal_ms -= _SLOW_MS
        led = self.led
        signal_ms = led.signal_ms
        if signal_ms > 0:
            signal_ms -= _SLOW_MS
            led.signal_ms = signal_ms
        head_ok = self.slots[_A_HEAD_OK]
        if not head_ok:  # no known head: is another settling in?
            self._head_settle()
        if session.cue_left_ms > 0 or session.cue_on:  # a cue on, or just over: the pin changes
            board.set_cue(session.cue_tick(_SLOW_MS))
        # the LED: the pattern for now; played on only when what it shows can change
        state = self.state
        scale = 255
        if state != _RUN:
            led.poor_ms = 0  # shown only in the stretch of RUN it was seen in
        if state == _RUN:
            if session.cue_left_ms > 0:
                pattern = _LED_CUE
            elif signal_ms > 0:
                pattern = led.signal_pattern
            elif self.low_battery:
                pattern = _LED_LOW_BATTERY
            elif self.slots[_CONTACT_POOR] or led.poor_ms > 0:
                led.poor_ms = _POOR_SHOWN_MS if self.slots[_CONTACT_POOR] else led.poor_ms - _SLOW_MS
                pattern = _LED_POOR_CONTACT
            else:
                pattern = _LED_RUN
                scale = _RUN_BRIGHTNESS_PER_LEVEL * self.run_level
        elif state == _FAULT:
            pattern = faults.LED_PATTERNS[self.fault]
        elif state == _CHARGING:
            pattern = _LED_CHARGED if battery.filtered_mv >= _CHARGED_MV else _LED_CHARGING
        elif self.low_battery_signal_ms > 0 or (self.low_battery and state != _OFF):
            pattern = _LED_LOW_BATTERY
        elif signal_ms > 0:
            pattern = led.signal_pattern
        elif _STANDBY <= state <= _PAUSED and not head_ok:
            pattern = _LED_NO_HEAD
        elif state == _OFF and self.ble is not None and self.ble.pairing:
            pattern = _LED_PAIRING
        else:
            pattern = STATE_PATTERNS[state]
        led.wait_ms -= _SLOW_MS
        if pattern != led.pattern or scale != led.scale or led.wait_ms <= 0:
            led.play(pattern, scale, _SLOW_MS)

    # the slow tick's rarer work, in bytecode: smaller than native code, and cheap enough here
    def _cue(self):
        zone = self.session.next_zone()
        if zone is not None:
            self.board.emit_cue(zone)

    def _checkpoint(self):
        self.record.checkpoint_ms += HISTORY_CHECKPOINT_MS
        self.record.save_open = self.store.dirty = True

    def _stop_backstop(self):
        """A ramp-down ends at a period's end (_period_end); should it not, this does."""
        self.stopping_ms += _SLOW_MS
        if self.stopping_ms >= RAMP_DOWN_MS + 2 * self.wave.half + _STOP_MARGIN_MS:
            self._cut()
            self.dispatch(_RAMPED_DOWN)

    # --- events and transitions ---------------------------------------------------------------
    def dispatch(self, event):
        """Run one event to completion, then any the actions posted."""
        self._run_event(event)
        while self._posted:
            self._run_event(self._posted.pop(0))

    def _run_event(self, event):
        row = ui.find(self.state, event)
        if row is None:
            return
        target = row[2]
        action = row[3]
        reason = _END_REASONS.get(event)
        # the first reason stands (a ramp-down, once begun, ends), unless USB or a fault cuts
        if reason is not None and self.record.ran and (
                self.record.end is None or event in (_USB_IN, _FAULTED)):
            self.record.end = reason + faults.NAMES[self.fault] if event == _FAULTED else reason
        if target is not None:
            self._exit(self.state)
        if action is not None:
            getattr(self, "_do_" + action)()
        if target is not None:
            self._enter(target)

    def _enter(self, state):
        if _STANDBY <= self.state <= _PAUSED and not _STANDBY <= state <= _PAUSED:  # leaving ACTIVE
            self.store.add_session(self.session.contact_ms)  # a session ends
            if self.record.ran:
                self.record.ran = False
                self.store.close_session(self.session_entry(self.record.end or "stop"))
        self.state = state
        self.slots[_A_STATE] = state  # the tick's copy
        self.transitions += 1  # for answers built in slices (roller.protocol)
        self.timer_ms = 0
        sup = self.supervisor
        if state == _RUN:
            self.envelope.ramp_to(self.cap_ua if self.pending is None else 0)
            self.store.note_run_polarity(self.wave.negative_first())
            self.record.head = self.heads.on
            if self.run_level > self.record.level:
                self.record.level = self.run_level
            # recorded from now on, saved at once; a bench run (a dummy load on the bench) is no session
            if not self.record.ran and self.run_bench is None:
                self.record.ran = True
                up_s = self.uptime_ms() // 1000
                self.record.start = (self.unix_at(up_s), up_s)
                self.record.checkpoint_ms = HISTORY_CHECKPOINT_MS
                self.record.save_open = True
                self.store.save_now()
        elif state == _SELFTEST:
            sup.clear_latch()  # switched off and on: the self-test decides
            self.fault = faults.NONE
            self.selftest = SelfTest(self.board, sup)
        elif state == _STANDBY:
            self.contact.reset()
            self.low_battery = False
        elif state != _PAUSED:  # OFF, DONE, CHARGING, FAULT: no stimulation
            self.envelope.off()
            self.pending = None
            self.slots[_WAVE_WAIT_PERIOD_END] = 0  # no period ends here: nothing waits for one
            self._restart_wave()
            self.contact.reset()
            if state in (_FAULT, _CHARGING):
                sup.halt()
            # the output is off: what was asked applies now, and bench mode ends
            self._due = None
            self.bench = None
            self._apply_changes(self.settings.level, self.settings.program, None)
        self._emit_state()

    def _exit(self, state):
        if state == _SELFTEST:
            self.last_selftest = self.selftest
            self.selftest = None
            self.check_only = False

    def on_fault(self, code):
        """A latched fault: it shows, it is logged, the state machine goes to FAULT."""
        if self.supervisor.latched != code:
            self.supervisor.trip(code)
        self.fault = code
        self.board.emit_fault(faults.NAMES[code])
        self.store.add_fault(faults.NAMES[code], self.uptime_ms())
        self.dispatch(_FAULTED)

    def _emit_state(self):
        self.board.emit_state(ui.STATE_NAMES[self.state], self.run_level, programs.NAMES[self.run_program])

    # --- actions (named in ui.TRANSITIONS) ----------------------------------------------------
    def _do_new_session(self):
        s = self.settings
        self.session.start(s.session_s, s.cue_s, programs.PROGRAMS[s.program].zones)
        self.slots[_A_RUN_MS] = 0
        self.supervisor.reset_meter()
        self.record.level = 0
        self.record.end = None
        week = self.sessions_7d()  # the routine, at switch-on: on track for the week or not
        if week is not None:
            self.signal(_LED_WEEK_ON_TRACK if week >= s.week_target else _LED_WEEK_DUE)

    def _do_level_up(self):
        self.apply_settings({"level": self.settings.level % LEVEL_MAX + 1})

    def _do_next_program(self):
        # a new shape starts from zero, with a soft start (at the end of the period)
        self.apply_settings({"program": programs.NAMES[(self.settings.program + 1) % len(programs.NAMES)]})

    def _do_ramp_down_to_off(self):
        self._ramp_down(_OFF)

    def _do_ramp_down_to_done(self):
        self._ramp_down(_DONE)

    def _do_ramp_down_low_battery(self):
        self.low_battery = True
        self.low_battery_signal_ms = _LOW_BATTERY_SIGNAL_MS
        self._ramp_down(_OFF)

    def _do_finish_ramp_down(self):
        target = self.pending
        self._exit(self.state)
        self._enter(target)

    def _do_pairing(self):
        """Double click in OFF: the Bluetooth pairing window (nothing on boards without BLE)."""
        if self.ble is not None:
            self.ble.open_pairing()

    def _do_forget_bonds(self):
        """Hold in OFF: with the pairing window open, every Bluetooth bond is forgotten."""
        if self.ble is not None:
            self.ble.hold()

    def _do_signal_low_battery(self):
        self.low_battery_signal_ms = _LOW_BATTERY_SIGNAL_MS

    def apply_settings(self, changes):
        """Validated settings change (serial `set`, the button, scenario settings); error text or
        None. Stored at once; the output takes it at the end of a period (_apply_when_safe).
        With the eye head on, only the eye program: another is refused, and the LED says so."""
        error = self.settings.check(changes)
        if error is None and self.heads.on == heads.EYE and "program" in changes:
            name = changes["program"]
            if name != programs.NAMES[programs.EYE]:
                self.signal(_LED_REFUSED)
                return "program %s needs the face head (the eye head is on)" % name
        error = self.settings.update(changes)
        if error is not None:
            return error
        self.store.dirty = True
        self.bench = None  # any settings change ends bench mode: the program comes back
        self._apply_when_safe()
        return None

    def start_bench(self, shape, hz, ua):
        """Serial `bench` (checked by the protocol): a session whose waveform is fixed and whose
        cap is `ua`. From OFF it starts like a click; contact, ramps and every supervisor check
        apply as in any session."""
        self.bench = (shape, hz, ua if ua < HARD_MAX_UA else HARD_MAX_UA)
        self._apply_when_safe()
        if self.state == _OFF:
            self.dispatch(_START)

    def _apply_when_safe(self):
        """Settings or bench asked for: now if the waveform is not running, else at the end of
        its period (balanced). Asked during a ramp-down: once it has ended (_enter); asked
        before it, at the period end as promised (a lower cap, or the ramp-down's end)."""
        if not _STANDBY <= self.state <= _PAUSED:  # not ACTIVE
            self._apply_changes(self.settings.level, self.settings.program, self.bench)
            self._emit_state()
        elif self.pending is None:
            self._due = (self.settings.level, self.settings.program, self.bench)
            self.slots[_WAVE_WAIT_PERIOD_END] = 1

    def _apply_changes(self, level, program, bench):
        """What was asked takes over the output: a new shape starts from zero with a soft
        start; a lower cap applies to the envelope at once, a higher one ramps (not while
        ramping down)."""
        self.run_level = level
        old_cap_ua = self.cap_ua
        if bench != self.run_bench or program != self.run_program:
            self.run_program = program
            self.session.zones = programs.PROGRAMS[program].zones
            self._configure_wave(bench)
            self.envelope.cut()
        else:
            self._update_cap()
        if self.cap_ua < old_cap_ua:
            # the soft start keeps its progress as a share of the target: R5's 10 % per 100 ms
            # is of the new target from here on
            self.envelope.scale(self.cap_ua, old_cap_ua)
        if self.state == _RUN and self.pending is None:
            self.envelope.ramp_to(self.cap_ua)

    def _period_end(self):
        """The waveform has closed a period and something waited for it: a ramp-down that has
        reached zero ends, settings and bench apply, confirmed contact enters RUN."""
        slots = self.slots
        slots[_WAVE_WAIT_PERIOD_END] = 0
        due = self._due
        if due is not None:
            self._due = None
            self._apply_changes(due[0], due[1], due[2])
            self._emit_state()
        if self.pending is not None:
            self.stop_period_ends -= 1
            if self.envelope.now_na == 0 or self.stop_period_ends <= 0:
                self.dispatch(_RAMPED_DOWN)  # at the deadline what is left steps to zero
            else:
                slots[_WAVE_WAIT_PERIOD_END] = 1
            return
        if self.state != _RUN and self.contact.confirmed and self.slots[_A_HEAD_OK]:
            self.dispatch(_CONTACT)

    # --- helpers ------------------------------------------------------------------------------
    def _ramp_down(self, target):
        if self.pending is not None:
            return  # already stopping: nothing cancels a ramp-down
        self.pending = target
        self.stopping_ms = 0
        # OFF/DONE at the last period end within RAMP_DOWN_MS (the first one, for periods longer
        # than that); the envelope reaches zero on the last first-half tick before it
        half = self.wave.half
        period = 2 * half
        index = self.wave.index  # 0: a period ends now
        to_end_ms = period - index if index else 0
        later = (RAMP_DOWN_MS - to_end_ms) // period if to_end_ms <= RAMP_DOWN_MS else 0
        self.stop_period_ends = later + 1
        steps = (half - index if 0 < index < half else 0) + later * half
        self.envelope.ramp_to(0, 2 * steps if steps else 2)
        self.slots[_WAVE_WAIT_PERIOD_END] = 1

    def _cut(self):
        """Output to zero at once (lift-off, the ramp-down backstop): the envelope restarts
        from zero, the waveform carries what the cut period left."""
        self.envelope.cut()
        self._restart_wave()

    def _restart_wave(self):
        self.wave.restart()
        self.supervisor.new_waveform()

    def _configure_wave(self, bench):
        """The waveform and cap of `bench`, or of the program running."""
        if bench is not None:
            shape, hz, ua = bench
        else:
            program = programs.PROGRAMS[self.run_program]
            shape, hz, ua = program.shape, program.hz, 0
        self.wave.configure(shape, hz, programs.BURST_ON_PERIODS, programs.BURST_OFF_PERIODS)
        self.run_bench = bench
        self.bench_ua = ua
        self._update_cap()

    # --- heads -----------------------------------------------------------------------------------
    def _head_lost(self):
        """The tick saw the head's reading leave its band: output off now, as at a lift-off
        (RUN pauses, the waveform carries what the cut period left); another head settles."""
        slots = self.slots
        slots[_A_HEAD_OK] = 0
        self.supervisor.set_head(0)
        self.heads.on = heads.NONE
        self.heads.seen = -1
        self._update_cap()
        self.board.emit_head(None)
        if _STANDBY <= self.state <= _PAUSED:  # ACTIVE
            self._cut()
            self.dispatch(_LIFTOFF)

    def _head_settle(self):
        """Slow tick, while no known head is attached: a reading must hold HEAD_SETTLE_MS."""
        seen = heads.classify(self.slots[_IN_HEAD_MV], self.heads.bands_mv, self.heads.open_mv)
        if seen != self.heads.seen:
            self.heads.seen = seen
            self.heads.seen_ms = 0
        elif seen != self.heads.on:
            self.heads.seen_ms += _SLOW_MS
            if self.heads.seen_ms >= HEAD_SETTLE_MS:
                self._attach(seen)

    def _attach(self, head):
        """`head` is on: its band and limit; the eye head selects the eye program, the face
        head brings back the program the eye head replaced."""
        slots = self.slots
        self.heads.on = head
        self.heads.seen = head
        if heads.known(head):
            band = self.heads.bands_mv[head - heads.FACE]
            slots[_A_HEAD_LO_MV] = band[0]
            slots[_A_HEAD_HI_MV] = band[1]
            slots[_A_HEAD_OK] = 1
        self.supervisor.set_head(heads.LIMITS_UA[head])
        self.board.emit_head(heads.NAMES[head])
        if _STANDBY <= self.state <= _PAUSED:  # ACTIVE
            # nothing was delivered since the head went: a fresh period, the carry still stands;
            # contact is confirmed afresh, from probe readings under this head
            self.wave.rewind()
            self.supervisor.discard_period()
            self.contact.reset()
        program = self.settings.program
        if head == heads.EYE and program != programs.EYE:
            self.heads.face_program = program
            self.apply_settings({"program": programs.NAMES[programs.EYE]})
        elif head == heads.FACE and self.heads.face_program is not None:
            if program == programs.EYE:
                self.apply_settings({"program": programs.NAMES[self.heads.face_program]})
            self.heads.face_program = None
        self._update_cap()

    def signal(self, pattern):
        """Show `pattern` for _SIGNAL_MS (where no fault, cue or charging has the LED)."""
        self.led.signal_pattern = pattern
        self.led.signal_ms = _SIGNAL_MS

    # --- the routine and the history -----------------------------------------------------------
    def set_clock(self, unix_s):
        """Serial `clock`: the time now. Sessions of this boot recorded before it get theirs."""
        up_s = self.uptime_ms() // 1000
        self.record.unix_at_boot = unix_s - up_s
        store = self.store
        entries = store.history + ([store.open] if store.open is not None else [])
        for entry in entries:
            if entry[0] < 0 and entry[1] == store.boot:
                entry[0] = self.record.unix_at_boot + entry[2]
                store.dirty = True
        if self.record.start[0] < 0:
            self.record.start = (self.unix_at(self.record.start[1]), self.record.start[1])

    def unix_at(self, up_s):
        """The unix time of `up_s` s after boot, or -1 while the clock is not set."""
        return -1 if self.record.unix_at_boot is None else self.record.unix_at_boot + up_s

    def unix_now(self):
        """The unix time now, or None while the clock is not set."""
        unix_s = self.unix_at(self.uptime_ms() // 1000)
        return None if unix_s < 0 else unix_s

    def sessions_7d(self):
        """Sessions recorded in the last seven days, or None while the clock is not set."""
        if self.record.unix_at_boot is None:
            return None
        since = self.unix_now() - _WEEK_S
        n = 0
        for entry in self.store.history:
            if entry[0] >= since:
                n += 1
        return n

    def session_entry(self, end):
        """The history entry of the session running, as it stands (roller.history)."""
        slots = self.slots
        run_ms = slots[_A_RUN_MS]
        charge_nc = slots[_SUP_CHARGE_NC]
        session = self.session
        return [
            self.record.start[0], self.store.boot, self.record.start[1], run_ms,
            session.contact_ms // session.cue_ms if session.cue_ms else 0,
            heads.NAMES[self.record.head] or "none", programs.NAMES[self.run_program],
            self.record.level, slots[_SUP_PEAK_UA], charge_nc // run_ms if run_ms else 0,
            charge_nc, end,
        ]

    def _update_cap(self):
        peak_ua = programs.PROGRAMS[self.run_program].peak_ua
        cap_ua = self.bench_ua or level_cap_ua(self.run_level, peak_ua)
        head_ua = heads.LIMITS_UA[self.heads.on] if self.slots[_A_HEAD_OK] else 0
        self.cap_ua = cap_ua if cap_ua < head_ua else head_ua
        self.slots[_A_CAP_UA] = self.cap_ua  # the tick's copy
        self.supervisor.set_cap(self.cap_ua)


def _control_tick(app, slots, tables, sample, write):
    """`app.tick()`: one run-to-completion control tick, as a closure over the shared slot
    array and the board's two per-tick calls. Cells cost next to nothing where an attribute
    costs a map lookup; five cells at most, or each call allocates (docs/performance.md)."""

    @micropython.viper
    def tick():
        a = ptr32(slots)
        sample(slots)
        # the signed readings as Python ints: viper's array loads are unsigned (roller.hot)
        current_ua = slots[_IN_CURRENT_UA]
        electrode_mv = slots[_IN_ELECTRODE_MV]
        code = int(check_readings(slots, current_ua, electrode_mv))
        if code:
            app.on_fault(code)
        if a[_A_HEAD_OK]:  # the head's reading left its band: off now, like a lift-off
            code = int(a[_IN_HEAD_MV])  # `code` again: a new local would push others off registers
            if code < int(a[_A_HEAD_LO_MV]) or code > int(a[_A_HEAD_HI_MV]):
                app._head_lost()
        state = int(a[_A_STATE])
        contact = 0
        if state == _SELFTEST:
            app._selftest_tick(current_ua, electrode_mv)
        elif state >= _STANDBY and state <= _PAUSED:
            if state == _RUN:
                a[_A_RUN_MS] += 1
            contact = int(update_contact(slots, current_ua, electrode_mv))
            if contact == _CONTACT_LOST:
                if state == _RUN:
                    app._cut()  # STANDBY and PAUSED are at probe level already
                app.dispatch(_LIFTOFF)
            elif contact == _CONTACT_KEPT:
                pass  # no verdict this tick: the state and the envelope stay
            elif contact and state != _RUN:
                a[_WAVE_WAIT_PERIOD_END] = 1  # RUN begins with a period
            elif contact == _CONTACT_LIMITED:
                delivered_ua = int(current_ua)
                app.envelope.hold(delivered_ua if delivered_ua >= 0 else 0 - delivered_ua)
        # USB is a level, not an edge: plugged in during FAULT, it still holds off the next start
        if a[_IN_USB]:
            state = int(a[_A_STATE])
            if state != _CHARGING and state != _FAULT:
                app.dispatch(_USB_IN)
        elif int(a[_A_STATE]) == _CHARGING:
            app.dispatch(_USB_OUT)
        pressed = int(a[_IN_BUTTON])
        if pressed or a[_A_BUTTON_BUSY]:  # released and settled: nothing to debounce or time
            button = app.button
            gesture = int(button.update(pressed))
            a[_A_BUTTON_BUSY] = 0 if button.idle else 1
            if gesture:
                app.dispatch(gesture)  # button gesture numbers are the UI's event numbers
        a[_A_SLOW_MS] += 1
        if int(a[_A_SLOW_MS]) >= _SLOW_MS:
            a[_A_SLOW_MS] = 0
            app._slow_tick()
        # work waiting for a period's end, before the next period's first tick: its state event
        # lands on the tick whose output it describes
        if a[_WAVE_WAIT_PERIOD_END] and a[_WAVE_INDEX] == 0:
            app._period_end()
        # outputs, for the state the events above left
        state = int(a[_A_STATE])
        if state >= _STANDBY and state <= _PAUSED:
            if state == _RUN and contact >= _CONTACT_CONFIRMED and contact <= _CONTACT_KEPT:
                setpoint_ua = int(next_setpoint_ua(slots, tables, 0, PROBE_UA, True))
                confirmed = True
            else:
                setpoint_ua = int(next_setpoint_ua(slots, tables, PROBE_UA, PROBE_UA, False))
                confirmed = False
            drive_output(slots, write, setpoint_ua, int(a[_A_CAP_UA]), confirmed, int(a[_WAVE_PERIOD_DONE]))
        elif state == _OFF or state == _DONE:  # noqa: SIM109
            idle_output(slots, write)  # output off, enable switch under test now and then
        elif state != _SELFTEST:
            halt_output(slots, write)
        app._feed()

    return tick
