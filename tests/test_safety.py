"""R1-R5, R8 measured on the delivered current of simulated sessions (SPEC section 3)."""
import numpy as np
import pytest

from boards.sim.model import INJECTED
from roller import limits, programs
from roller.waveform import Waveform
from tests.traceutil import current_ua, doc, first, ms, same_sign_runs, sliding_peak, states

SKIN = {"ohm": 20000}
CONTACT_S = 1.0  # skin touches at 1.0 s; contact confirmed 150 ms later


def _run_level(sim, program, level, seconds=5.0):
    events = sim(doc("caps", seconds, [{"t": CONTACT_S, "skin": SKIN}], program=program, level=level))
    return events, current_ua(events)


def _period_ms(program):
    """The generator's period (rounded to even ticks) for a program."""
    p = programs.PROGRAMS[programs.index_of(program)]
    wave = Waveform()
    wave.configure(p.shape, p.hz)
    return 2 * wave.half


def _cap(program, level):
    return limits.level_cap_ua(level, programs.PROGRAMS[programs.index_of(program)].peak_ua)


@pytest.mark.parametrize("program", programs.NAMES)
@pytest.mark.parametrize("level", [1, 2, 3, 4, 5])
def test_peak_current_reaches_and_respects_the_level_cap(sim, program, level):
    events, ua = _run_level(sim, program, level)
    cap = _cap(program, level)
    peak = int(np.abs(ua).max())
    assert peak <= limits.allowed_peak_ua(cap) and peak <= limits.HARD_MAX_UA  # R1
    assert peak >= cap * 95 // 100  # and it really gets there
    assert int(ua[ms(4.0):].max()) >= cap * 95 // 100  # both polarities, symmetric
    assert int(ua[ms(4.0):].min()) <= -cap * 95 // 100
    assert first(events, "fault") is None


def test_eye_program_never_exceeds_200_ua(sim):
    _, ua = _run_level(sim, "eye", 5)
    assert np.abs(ua).max() <= 200


def _fastest_rise_ua(abs_ua, start_ms, window_ms, rate_ua_per_ms):
    """How far the amplitude envelope ever gets ahead of a rise at `rate_ua_per_ms`.

    The envelope is the peak over one period; samples at or below probe level (burst gaps,
    the ramp's first steps) are left out. Zero or less means the rate was never exceeded
    between any two moments, however far apart.
    """
    envelope = sliding_peak(abs_ua, window_ms)[start_ms:].astype(float)
    t = np.arange(len(envelope))
    keep = envelope > limits.PROBE_UA + 5
    ahead = envelope[keep] - rate_ua_per_ms * t[keep]
    return float((ahead - np.minimum.accumulate(ahead)).max())


@pytest.mark.parametrize("program", programs.NAMES)
def test_soft_start_takes_at_least_a_second_and_never_rises_faster_than_10_percent_per_100ms(sim, program):
    events, ua = _run_level(sim, program, 5)
    cap = _cap(program, 5)
    start = ms(first(events, "state", state="RUN")["t"])
    window = _period_ms(program) if program != "tone" else 20  # tone: the carrier period
    envelope = sliding_peak(np.abs(ua), window)
    reached = start + int(np.argmax(envelope[start:] >= cap * 9 // 10))
    assert reached - start >= 900  # 0 -> 90 % takes >= 0.9 s (0 -> 100 % >= 1.0 s)
    slack = cap * window / 1000 + 2  # the peak window smears by up to one window
    assert _fastest_rise_ua(np.abs(ua), start, window, cap / 1000) <= slack


def test_level_increase_ramps_and_level_wrap_steps_down_at_once(sim):
    events = sim(doc("levels", 12, [
        {"t": CONTACT_S, "skin": SKIN},
        {"t": 4.0, "button": "click"},  # 3 -> 4
        {"t": 8.0, "button": "click"},  # 4 -> 5
        {"t": 10.0, "button": "click"},  # 5 -> 1 (wraps)
    ], level=3))
    ua = np.abs(current_ua(events))
    env = sliding_peak(ua, 100)
    level4 = first(events, "state", level=4)
    t4 = ms(level4["t"])
    assert env[t4] <= 250  # still at level 3 (240 uA) when the change lands
    assert 300 <= env[t4 + 1300] <= limits.allowed_peak_ua(320)
    assert _fastest_rise_ua(ua, t4, 100, 320 / 1000) <= 32 + 2  # 10 % of 320 per 100 ms
    level1 = first(events, "state", level=1, after_s=9)
    t1 = ms(level1["t"])
    assert ua[t1:].max() <= limits.allowed_peak_ua(80)  # the lower cap holds from that tick
    assert first(events, "fault") is None


def test_stop_ramps_down_over_half_a_second(sim):
    events = sim(doc("stop", 7, [{"t": CONTACT_S, "skin": SKIN}, {"t": 4.0, "button": "hold"}], level=5))
    ua = np.abs(current_ua(events))
    amplitude = sliding_peak(ua, _period_ms("lift"))
    hold_fired = ms(5.0)  # the hold gesture fires after 1 s of press
    assert amplitude[hold_fired] >= 380
    falling = amplitude[hold_fired:hold_fired + 600]
    assert (np.diff(falling) <= 0).all()  # the amplitude only goes down
    assert 100 <= amplitude[hold_fired + 300] <= 320  # on the way down: a ramp, not a cut
    assert ua[hold_fired + 520:].max() == 0
    off = first(events, "state", after_s=4.5, state="OFF")
    # the ramp leaves one period to close the last one balanced: OFF within RAMP_DOWN_MS
    assert 0.3 <= off["t"] - 5.0 <= limits.RAMP_DOWN_MS / 1000 + 0.002


def test_liftoff_drops_to_probe_level_within_5_ms(sim):
    """Dry skin (300 kOhm): current still flows, compliance-limited, so the drop is the firmware's."""
    events = sim(doc("liftoff", 5, [{"t": CONTACT_S, "skin": SKIN}, {"t": 4.0, "skin": {"ohm": 300000}}],
                     level=5))
    ua = np.abs(current_ua(events))
    t = ms(4.0)
    assert ua[t - 50:t].max() >= 380
    assert ua[t + 5:].max() <= limits.PROBE_UA
    assert first(events, "state", after_s=4.0, state="PAUSED")["t"] <= 4.005


def test_open_circuit_stops_current_at_once_and_recontact_ramps_from_zero(sim):
    events = sim(doc("recontact", 7, [
        {"t": CONTACT_S, "skin": SKIN},
        {"t": 3.0, "skin": None},
        {"t": 3.3, "skin": SKIN},
    ], level=5))
    ua = np.abs(current_ua(events))
    assert ua[ms(3.0):ms(3.3)].max() == 0
    assert ua[ms(3.3):ms(3.3) + 150].max() <= limits.PROBE_UA  # confirm time: probe only
    rerun = ms(first(events, "state", after_s=3.3, state="RUN")["t"])
    env = sliding_peak(ua, 100)
    assert env[rerun + 100] <= 40 + limits.PROBE_UA  # from zero, not back to 400
    assert env[rerun + 2500] >= 380


@pytest.mark.parametrize("program", programs.NAMES)
def test_charge_balance_per_period_and_same_sign_runs(sim, program):
    events = sim(doc("balance", 5, [{"t": CONTACT_S, "skin": {"ohm": 20000, "nf": 47}}],
                     program=program, level=4))
    ua = current_ua(events)
    period = _period_ms(program)
    steady = ua[ms(3.0):ms(5.0)]
    # a period starts with its dead tick (enable test), then positive current
    start = int(np.argmax((steady[:-1] == 0) & (steady[1:] > 0)))
    whole = (len(steady) - start) // period * period
    periods = steady[start:start + whole].reshape(-1, period)
    net = np.abs(periods.sum(axis=1))
    total = np.abs(periods).sum(axis=1)
    assert (net[total > 0] <= total[total > 0] * 0.01).all()  # exact by construction
    assert max(same_sign_runs(ua)) <= period // 2 + 5
    assert first(events, "fault") is None


# injected fault -> latest trip in ms after onset; the code it latches is the sim's table's
TRIP_MS = {
    "dac_stuck_high": 2,
    "polarity_stuck": 50 + 5,  # one phase of lift (50 ms) + 5 ms
    "sense_stuck_low": 10 + 2,
    "sense_stuck_high": 2,
    "vsense_stuck": 50 + 10 + 2,  # shows at the next reversal
    "enable_stuck_on": 100 + 2,  # at the next enable test (one period)
}


@pytest.mark.parametrize("fault", sorted(TRIP_MS))
@pytest.mark.parametrize("onset_s", [3.0, 3.013, 3.061])
def test_fault_trips_in_time_and_output_stays_off(sim, fault, onset_s):
    code, latest_ms = dict(INJECTED)[fault], TRIP_MS[fault]
    events = sim(doc("fault", 7, [
        {"t": CONTACT_S, "skin": SKIN},
        {"t": onset_s, "fault": fault},
        {"t": 4.5, "button": "click"},  # a user pressing buttons does not restart anything
        {"t": 5.0, "button": "double"},
        {"t": 5.5, "fault": None},  # the hardware recovers: still latched
        {"t": 5.6, "serial": '{"cmd": "start"}'},
    ], level=4))
    tripped = first(events, "fault")
    assert tripped is not None and tripped["code"] == code
    latency = ms(tripped["t"]) - ms(onset_s)
    assert 0 <= latency <= latest_ms
    ua = np.abs(current_ua(events))
    assert ua[ms(tripped["t"]) + 1:].max() == 0  # second barrier: nothing after the trip
    assert states(events)[-1][1] == "FAULT"
    assert ua[:ms(onset_s)].max() <= limits.allowed_peak_ua(320)


def test_overcurrent_second_barrier_holds_with_enable_stuck(sim):
    """Enable switch stuck on and the DAC stuck high: DAC zero + bridge off still stop it."""
    events = sim(doc("barrier", 5, [
        {"t": CONTACT_S, "skin": SKIN},
        {"t": 3.0, "fault": "enable_stuck_on"},
        {"t": 3.0, "fault": "dac_stuck_high"},
    ], level=3))
    ua = np.abs(current_ua(events))
    tripped = first(events, "fault")
    assert tripped["code"] in ("OVER_CURRENT", "OUTPUT_STUCK")
    assert ua[ms(tripped["t"]) + 1:].max() == 0


def test_usb_cuts_output_within_10_ms_and_blocks_start(sim):
    """The firmware's own R6, without the hardware interlock."""
    events = sim(doc("usb", 6, [
        {"t": CONTACT_S, "skin": SKIN},
        {"t": 3.0, "usb": True},
        {"t": 3.5, "button": "click"},
        {"t": 4.5, "serial": '{"cmd": "start"}'},
    ], level=3), vbus_interlock=False)
    ua = np.abs(current_ua(events))
    assert ua[ms(3.0) + 10:].max() == 0
    assert first(events, "state", after_s=3.0)["state"] == "CHARGING"
    assert states(events)[-1][1] == "CHARGING"


def test_usb_during_a_hung_loop_is_cut_by_the_hardware_interlock(sim):
    """The firmware cannot react while hung (until the watchdog, <= 250 ms); VBUS can."""
    scenario = doc("usb_hang", 4, [
        {"t": CONTACT_S, "skin": SKIN},
        {"t": 3.0, "fault": "loop_hang"},
        {"t": 3.05, "usb": True},
    ], level=3)
    ua = np.abs(current_ua(sim(scenario)))
    assert ua[ms(3.0) - 50:ms(3.0)].max() > 100 and ua[ms(3.05):].max() == 0
    unguarded = np.abs(current_ua(sim(scenario, vbus_interlock=False)))
    assert unguarded[ms(3.05):ms(3.05) + 20].max() > 100  # what the interlock is there for


def test_no_current_above_probe_without_confirmed_contact(sim):
    """Skin at 200 kOhm never confirms (> 150 kOhm): probe level only, however long."""
    events = sim(doc("dry", 5, [{"t": CONTACT_S, "skin": {"ohm": 200000}}], level=5))
    assert np.abs(current_ua(events)).max() <= limits.PROBE_UA
    assert first(events, "state", state="RUN") is None


@pytest.mark.parametrize("program", programs.NAMES)
def test_skin_just_inside_the_confirm_limit_confirms_on_every_program(sim, program):
    """140 kOhm (<= 150 kOhm, R4): at the probe's 10-15 uA one current-sense step moves v/i by
    7-10 %, so on the eye program's sine a reading above 150 kOhm broke every 150 ms streak and
    the session never began (the current source delivers its command unless compliance-limited)."""
    head = [{"t": 0.1, "head": "eye"}] if program == "eye" else []
    events = sim(doc("inside_" + program, 3, head + [{"t": CONTACT_S, "skin": {"ohm": 140_000}}],
                     program=program, level=1))
    entered = first(events, "state", state="RUN")
    assert entered is not None and entered["t"] < CONTACT_S + 1.0, entered


def test_poor_contact_is_shown_when_compliance_limited(sim):
    events = sim(doc("poor", 5, [{"t": CONTACT_S, "skin": {"ohm": 100000}}], level=5))
    ua = np.abs(current_ua(events))
    assert ua.max() <= 150  # 15 V / 100 kOhm
    leds = [e["rgb"] for e in events if e["kind"] == "led" and e["t"] > 3]
    # amber blink, steadily, as long as the compliance limits the current (no green in between)
    assert [255, 120, 0] in leds and all(rgb in ([255, 120, 0], [0, 0, 0]) for rgb in leds), leds


def test_better_contact_after_a_compliance_limited_stretch_ramps_instead_of_stepping(sim):
    """R5: dry skin (120 kOhm) lets through only 125 uA of a 400 uA level; when the skin gets
    wetter the current must rise at the ramp rate from there, not jump to the level."""
    events = sim(doc("wetter", 9, [
        {"t": CONTACT_S, "skin": {"ohm": 120_000}},
        {"t": 5.0, "skin": SKIN},
    ], level=5))
    ua = np.abs(current_ua(events))
    t = ms(5.0)
    assert 115 <= ua[t - 200:t].max() <= 130  # compliance-limited: 15 V / 120 kOhm
    assert ua[t + 3000:].max() >= 380  # and the level is reached in the end
    rise = _fastest_rise_ua(ua, t - 200, 100, 400 / 1000)
    assert rise <= 40 + limits.PROBE_UA, "stepped up by %d uA" % rise  # 10 % of 400 per 100 ms
    assert first(events, "fault") is None



def test_voltage_sense_stuck_at_a_low_reading_trips_within_10_ms(sim):
    """R8: the voltage sense freezes at a few hundred mV (just after a dead tick, the skin's
    capacitance half discharged) while the current goes on at the level: the load it implies is
    under 2 kOhm, and ten such readings trip it, even though probe-level current would look
    plausible."""
    skin = {"ohm": 5000, "nf": 100}  # tau 0.5 ms: 1.6 V at the level, ~0.2 V 1 ms after a dead tick
    contact = [{"t": CONTACT_S, "skin": skin}]
    ua = current_ua(sim(doc("vstuck_low_ref", 4, contact, level=4)))
    dead_ms = ms(3.0) + int(np.argmax(ua[ms(3.0):] == 0))  # a dead tick at the full level
    onset_s = (dead_ms + 1) / 1000
    events = sim(doc("vstuck_low", 4, contact + [{"t": onset_s, "fault": "vsense_stuck"}], level=4))
    tripped = first(events, "fault")
    assert tripped is not None and tripped["code"] == "SENSE_FAULT"
    assert ms(tripped["t"]) - ms(onset_s) <= limits.IMPLAUSIBLE_MS + 2


def test_charge_sums_restart_when_no_period_closes():
    """In OFF no period closes; the sense noise summed per tick must not grow without end (the
    slots are 32-bit on the boards): past 2**24 uA*ms the sums start again."""
    from roller import hot, supervisor

    class Board:
        isense_rail_ua = 1200

        def write_output(self, enable, polarity, magnitude_ua):
            pass

    slots = supervisor.Supervisor(Board(), hot.new()).slots
    slots[supervisor._S_CHARGE_POS] = (1 << 24) - 30  # weeks of noise in OFF
    for _ in range(5):
        assert supervisor.check_readings(slots, 10, 0) == 0
    assert slots[supervisor._S_CHARGE_POS] + slots[supervisor._S_CHARGE_NEG] <= 50
