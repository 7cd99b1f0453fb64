"""The application: one run-to-completion control tick per ms on a board object.

tick(): read sense -> supervisor check -> contact -> UI events -> waveform -> supervisor clamp
and write; every 10 ms the slower work (battery, timers, session, LED). service(), called in
the time left between ticks: serial requests and flash writes. The tick is the hot path
(docs/performance.md): native, few calls, no allocation. Nothing here imports machine: the
board object is the only way out.
"""
import micropython
from micropython import const

from roller import faults, programs, ui
from roller import led as leds  # patterns as leds.X: one more global here, not eight
from roller.battery import Battery
from roller.button import Button
from roller.contact import Contact
from roller.envelope import Envelope
from roller.led import LedPlayer
from roller.limits import (
    BATTERY_RUN_MIN_MV,
    DONE_TO_OFF_MS,
    HARD_MAX_UA,
    IDLE_OFF_MS,
    LEVEL_MAX,
    PROBE_UA,
    WATCHDOG_TIMEOUT_MS,
    level_cap_ua,
)
from roller.protocol import Protocol
from roller.selftest import FAILED, LOW_BATTERY, PASSED, SelfTest
from roller.session import Session
from roller.settings import Settings
from roller.store import Store
from roller.supervisor import Supervisor
from roller.ui import CHARGING, FAULT, PAUSED, RUN, SELFTEST, STANDBY  # the tick's: 1 lookup
from roller.waveform import Waveform

_SLOW_MS = const(10)
_LOW_BATTERY_SIGNAL_MS = const(3000)
_CHARGED_MV = const(4150)
_RUN_BRIGHTNESS_PER_LEVEL = const(51)  # levels 1-5: 51..255
_NO_WRAP_MS = const(1 << 16)  # far below any board's ticks period (2**30): a plain difference


class App:
    def __init__(self, board):
        # first thing: the supervisor, the only writer of the output stage, switches it off
        self.supervisor = Supervisor(board)
        self.board = board
        self.settings = Settings()
        self.store = Store(board.fs)
        self.store.load()
        for key in self.store.settings:  # one by one: a stale key costs only itself
            self.settings.update({key: self.store.settings[key]})
        self.wave = Waveform()
        self.envelope = Envelope()
        self.contact = Contact()
        self.button = Button()
        self.led = LedPlayer(board)
        self.battery = Battery()
        self.session = Session()
        self.selftest = None
        self.last_selftest = None
        self.check_only = False  # serial `selftest`: back to OFF when it passes
        self.bench_ua = 0  # serial `bench`: a fixed waveform with this cap (0 = programs)
        self.bench_shape = 0
        self.state = ui.OFF
        self.fault = faults.NONE
        self.cap_ua = 0
        self.pending = None  # OFF or DONE while ramping down towards it
        self.low_battery_signal_ms = 0
        self.low_battery = False
        self.timer_ms = 0  # idle time in STANDBY/PAUSED, time in DONE
        self.usb = False
        self._slow_ms = 0
        self._posted = []
        self.sense_ua = 0  # last readings, for telemetry
        self.sense_mv = 0
        self.up_ms = 0  # since boot, kept by service()
        self._up_ticks = board.ticks_ms()
        self.protocol = Protocol(self)
        self._configure_program()
        board.wdt_start(WATCHDOG_TIMEOUT_MS)
        self._enter(ui.OFF)
        if board.reset_cause() == "watchdog":
            self.on_fault(faults.WATCHDOG)

    # --- the control tick ---------------------------------------------------------------------
    @micropython.native
    def tick(self):
        board = self.board
        current_ua = board.read_current_ua()
        electrode_mv = board.read_electrode_mv()
        self.sense_ua = current_ua
        self.sense_mv = electrode_mv
        sup = self.supervisor
        code = sup.check(current_ua, electrode_mv)
        if code:
            self.on_fault(code)
        state = self.state
        if state == SELFTEST:
            self._selftest_tick(current_ua, electrode_mv)
        elif STANDBY <= state <= PAUSED and sup.reading_ok:
            contact = self.contact
            contact.update(sup.last_ua, current_ua, electrode_mv)
            if contact.lost:
                contact.lost = False
                self._cut()
                self.dispatch(ui.LIFTOFF)
            elif contact.confirmed and state != RUN:
                self.dispatch(ui.CONTACT)
        # USB is a level, not an edge: plugged in during FAULT, it still holds off the next start
        usb = board.usb_present()
        self.usb = usb
        state = self.state
        if usb:
            if state != CHARGING and state != FAULT:
                self.dispatch(ui.USB_IN)
        elif state == CHARGING:
            self.dispatch(ui.USB_OUT)
        pressed = board.button_pressed()
        button = self.button
        if pressed or not button.idle:  # released and settled: nothing to debounce or time
            gesture = button.update(pressed)
            if gesture:
                self.dispatch(gesture)  # button gesture numbers are the UI's event numbers
        self._slow_ms += 1
        if self._slow_ms >= _SLOW_MS:
            self._slow_ms = 0
            self._slow_tick()
        # outputs, for the state the events above left
        state = self.state
        if STANDBY <= state <= PAUSED:
            confirmed = state == RUN and self.contact.confirmed
            wave = self.wave
            if not confirmed:
                amplitude_ua = PROBE_UA
            elif wave.index < wave.half:
                amplitude_ua = self.envelope.next_ua()  # the negative half replays these
            else:
                amplitude_ua = 0  # unused: the negative half is the mirror
            setpoint_ua = wave.next_ua(amplitude_ua, PROBE_UA)
            sup.drive(setpoint_ua, self.cap_ua, confirmed, wave.period_done)
        elif state == ui.OFF or state == ui.DONE:
            sup.idle()  # output off, enable switch under test now and then
        elif state != SELFTEST:
            sup.halt()
        board.wdt_feed()

    @micropython.native
    def service(self):
        """Work outside the control tick: one serial request, then any flash write due.

        Idle (no bytes, no line buffered, no telemetry, nothing to store) it costs a clock read
        and a console read: it runs every ms besides the tick.
        """
        board = self.board
        now = board.ticks_ms()
        elapsed_ms = now - self._up_ticks
        if elapsed_ms < 0 or elapsed_ms > _NO_WRAP_MS:  # the clock wrapped (or a long stall)
            elapsed_ms = board.ticks_diff(now, self._up_ticks)
        self.up_ms += elapsed_ms
        self._up_ticks = now
        protocol = self.protocol
        if protocol.lines.chunk is None:  # the last chunk used up: the console's turn
            chunk = board.console_read()
            if chunk or protocol.streaming:
                protocol.service(chunk)
        else:
            protocol.service(None)
        store = self.store
        if store.dirty:
            store.service(self.up_ms, self.settings)

    def _selftest_tick(self, current_ua, electrode_mv):
        test = self.selftest
        test.step(current_ua, electrode_mv, self.battery.filtered_mv or self.board.read_battery_mv())
        if test.result == PASSED:
            self.dispatch(ui.CHECK_PASSED if self.check_only else ui.SELFTEST_PASSED)
        elif test.result == FAILED:
            self.on_fault(faults.SELFTEST)
        elif test.result == LOW_BATTERY:
            self.dispatch(ui.BATTERY_TOO_LOW)

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
        state = self.state
        session = self.session
        if STANDBY <= state <= PAUSED:
            if battery.filtered_mv < BATTERY_RUN_MIN_MV and not self.low_battery:
                self.dispatch(ui.BATTERY_TOO_LOW)
            if state == RUN and self.pending is None:
                contact_ms = session.contact_ms
                if contact_ms >= session.next_cue_ms:
                    zone = session.next_zone()
                    if zone is not None:
                        board.emit_cue(zone)
                contact_ms += _SLOW_MS
                session.contact_ms = contact_ms
                if contact_ms >= session.limit_ms:  # the session is over
                    self.dispatch(ui.SESSION_END)
            else:
                self.timer_ms += _SLOW_MS
                if self.timer_ms >= IDLE_OFF_MS:
                    self.dispatch(ui.IDLE_TIMEOUT)
            if self.pending is not None and self.envelope.now_na == 0:
                self.dispatch(ui.RAMPED_DOWN)
        elif state == ui.DONE:
            self.timer_ms += _SLOW_MS
            if self.timer_ms >= DONE_TO_OFF_MS:
                self.dispatch(ui.DONE_TIMEOUT)
        if self.low_battery_signal_ms > 0:
            self.low_battery_signal_ms -= _SLOW_MS
        if session.cue_left_ms > 0 or session.cue_on:  # a cue on, or just over: the pin changes
            board.set_cue(session.cue_tick(_SLOW_MS))
        # the LED: the pattern for now; played on only when what it shows can change
        state = self.state
        scale = 255
        if state == RUN:
            if session.cue_left_ms > 0:
                pattern = leds.LED_CUE
            elif self.low_battery:
                pattern = leds.LED_LOW_BATTERY
            elif self.contact.poor:
                pattern = leds.LED_POOR_CONTACT
            else:
                pattern = leds.LED_RUN
                scale = _RUN_BRIGHTNESS_PER_LEVEL * self.settings.level
        elif state == FAULT:
            pattern = leds.FAULT_PATTERNS[self.fault]
        elif state == CHARGING:
            pattern = leds.LED_CHARGED if battery.filtered_mv >= _CHARGED_MV else leds.LED_CHARGING
        elif self.low_battery_signal_ms > 0 or (self.low_battery and state != ui.OFF):
            pattern = leds.LED_LOW_BATTERY
        else:
            pattern = leds.STATE_PATTERNS[state]
        led = self.led
        led.wait_ms -= _SLOW_MS
        if pattern != led.pattern or scale != led.scale or led.wait_ms <= 0:
            led.play(pattern, scale, _SLOW_MS)

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
        if target is not None:
            self._exit(self.state)
        if action is not None:
            getattr(self, "_do_" + action)()
        if target is not None:
            self._enter(target)

    def _enter(self, state):
        if ui.superstate(self.state) is not None and ui.superstate(state) is None:
            self.store.add_session(self.session.contact_ms)  # a session ends
        self.state = state
        self.timer_ms = 0
        sup = self.supervisor
        if state == ui.RUN:
            self.envelope.ramp_to(self.cap_ua)
        elif state == ui.SELFTEST:
            sup.clear_latch()  # switched off and on: the self-test decides
            self.fault = faults.NONE
            self.selftest = SelfTest(self.board, sup)
        elif state == ui.STANDBY:
            self.contact.reset()
            self.low_battery = False
        elif state != ui.PAUSED:  # OFF, DONE, CHARGING, FAULT: no stimulation
            if self.bench_ua:
                self._end_bench()
            self.envelope.off()
            self.pending = None
            self._restart_wave()
            self.contact.reset()
            if state == ui.FAULT or state == ui.CHARGING:
                sup.halt()
        self._emit_state()

    def _exit(self, state):
        if state == ui.SELFTEST:
            self.last_selftest = self.selftest
            self.selftest = None
            self.check_only = False

    def on_fault(self, code):
        """A latched fault: it shows, it is logged, the state machine goes to FAULT."""
        if self.supervisor.latched != code:
            self.supervisor.trip(code)
        self.fault = code
        self.board.emit_fault(faults.NAMES[code])
        self.store.add_fault(faults.NAMES[code], self.up_ms)
        self.dispatch(ui.FAULTED)

    def _emit_state(self):
        self.board.emit_state(ui.STATE_NAMES[self.state], self.settings.level, self.settings.program_name())

    # --- actions (named in ui.TRANSITIONS) ----------------------------------------------------
    def _do_new_session(self):
        s = self.settings
        self.session.start(s.session_s, s.cue_s, programs.PROGRAMS[s.program][4])

    def _do_level_up(self):
        self.apply_settings({"level": self.settings.level % LEVEL_MAX + 1})

    def _do_next_program(self):
        # a new shape starts from zero, with a soft start (apply_settings cuts)
        self.apply_settings({"program": programs.NAMES[(self.settings.program + 1) % len(programs.NAMES)]})

    def _do_ramp_down_to_off(self):
        self._ramp_down(ui.OFF)

    def _do_ramp_down_to_done(self):
        self._ramp_down(ui.DONE)

    def _do_ramp_down_low_battery(self):
        self.low_battery = True
        self.low_battery_signal_ms = _LOW_BATTERY_SIGNAL_MS
        self._ramp_down(ui.OFF)

    def _do_finish_ramp_down(self):
        target = self.pending
        self._exit(self.state)
        self._enter(target)

    def _do_signal_low_battery(self):
        self.low_battery_signal_ms = _LOW_BATTERY_SIGNAL_MS

    def apply_settings(self, changes):
        """Validated settings change (serial `set`, scenario settings); error text or None."""
        s = self.settings
        old_program = s.program
        old_level = s.level
        error = s.update(changes)
        if error is not None:
            return error
        old_cap_ua = self.cap_ua
        self.store.dirty = True
        if self.bench_ua:  # any settings change ends bench mode: the program comes back
            self.bench_ua = 0
            old_program = -1
        if s.program != old_program:
            self._configure_program()
            self.session.zones = programs.PROGRAMS[s.program][4]
            self._cut()
        else:
            self._update_cap()
        if self.cap_ua < old_cap_ua and self.envelope.now_na > self.cap_ua * 1000:
            # a lower level applies at once; the half-done period restarts so balance holds
            self.envelope.clip(self.cap_ua)
            self._restart_wave()
        if self.state == ui.RUN and self.pending is None and (
            s.program != old_program or s.level != old_level
        ):
            self.envelope.ramp_to(self.cap_ua)
        self._emit_state()
        return None

    def start_bench(self, shape, hz, ua):
        """Serial `bench` (checked by the protocol): a session whose waveform is fixed and whose
        cap is `ua`. From OFF it starts like a click; contact, ramps and every supervisor check
        apply as in any session."""
        self.bench_ua = ua if ua < HARD_MAX_UA else HARD_MAX_UA
        self.bench_shape = shape
        self.wave.configure(shape, hz, programs.BURST_ON_PERIODS, programs.BURST_OFF_PERIODS)
        self._update_cap()
        self._cut()
        if self.state == ui.OFF:
            self.dispatch(ui.START)
        elif self.state == ui.RUN:
            self.envelope.ramp_to(self.cap_ua)

    def _end_bench(self):
        self.bench_ua = 0
        self._configure_program()

    # --- helpers ------------------------------------------------------------------------------
    def _ramp_down(self, target):
        if self.pending is not None:
            return
        self.pending = target
        self.envelope.ramp_to(0)
        if self.envelope.now_na == 0:
            self._posted.append(ui.RAMPED_DOWN)

    def _cut(self):
        self.envelope.cut()
        self._restart_wave()

    def _restart_wave(self):
        self.wave.restart()
        self.supervisor.new_waveform()

    def _configure_program(self):
        _, shape, hz, _, _ = programs.PROGRAMS[self.settings.program]
        self.wave.configure(shape, hz, programs.BURST_ON_PERIODS, programs.BURST_OFF_PERIODS)
        self._update_cap()

    def _update_cap(self):
        s = self.settings
        self.cap_ua = self.bench_ua or level_cap_ua(s.level, programs.PROGRAMS[s.program][3])
        self.supervisor.set_cap(self.cap_ua)
