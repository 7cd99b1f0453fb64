"""The generator against the analytic shapes, and its balance by construction."""
import math

import numpy as np
import pytest

from roller import hot, limits, programs, waveform
from roller.envelope import Envelope
from roller.waveform import Waveform, next_setpoint_ua

AMPLITUDE_UA = 400


def _next(wave, amplitude_ua, gap_ua, from_envelope):
    """One generator tick, as the App's tick calls it."""
    return next_setpoint_ua(wave.slots, wave.tables, amplitude_ua, gap_ua, from_envelope)


def _periods(shape, hz, n_periods=4, amplitude=AMPLITUDE_UA, **burst):
    wave = Waveform()
    wave.configure(shape, hz, **burst)
    n = 2 * wave.half * n_periods
    samples = np.array([_next(wave, amplitude, 15, False) for _ in range(n)])
    return wave, samples


# shape -> RMS / peak of the ideal waveform
ANALYTIC_RMS = {programs.SQUARE: 1.0, programs.SINE: 1 / math.sqrt(2), programs.TRIANGLE: 1 / math.sqrt(3)}


@pytest.mark.parametrize("name", programs.NAMES)
def test_every_program_matches_its_analytic_shape(name):
    program = programs.PROGRAMS[programs.index_of(name)]
    shape, hz = program.shape, program.hz
    wave, samples = _periods(shape, hz, n_periods=20, burst_on=programs.BURST_ON_PERIODS,
                             burst_off=programs.BURST_OFF_PERIODS)
    period = 2 * wave.half
    assert abs(1000 / period - hz) / hz < 0.03  # frequency within 3 % (even-tick rounding)
    spectrum = np.abs(np.fft.rfft(samples))
    freqs = np.fft.rfftfreq(len(samples), d=0.001)
    assert abs(freqs[np.argmax(spectrum)] - 1000 / period) < 1e-9  # the fundamental dominates
    first = samples[:period]
    assert (first[wave.half:] == -first[:wave.half]).all()  # negative half mirrors the positive
    assert samples.sum() == 0  # zero net charge
    if shape == programs.BURST:
        on = samples[: period * programs.BURST_ON_PERIODS]
        gap = samples[period * programs.BURST_ON_PERIODS: period * 20]
        assert np.abs(on).max() == AMPLITUDE_UA and np.abs(gap).max() == 15
        return
    dead = 1 if period >= 20 else 0  # the enable-test tick at each half start
    rms = math.sqrt((first.astype(float) ** 2).mean())
    expected = ANALYTIC_RMS[shape] * AMPLITUDE_UA * math.sqrt((wave.half - dead) / wave.half)
    assert abs(rms - expected) / expected < 0.04
    assert np.abs(first).max() <= AMPLITUDE_UA


@pytest.mark.parametrize("hz", [0.5, 1, 3, 7.5, 10, 33, 50, 100, 125, 250])
@pytest.mark.parametrize("shape", [programs.SQUARE, programs.SINE, programs.TRIANGLE])
def test_frequencies_across_the_range(shape, hz):
    if shape != programs.SQUARE and hz > programs.MAX_SMOOTH_HZ:
        pytest.skip("sine and triangle stop at 100 Hz")
    wave, samples = _periods(shape, hz)
    period = 2 * wave.half
    assert abs(1000 / period - hz) / hz <= 0.02 or period == 2 * round(500 / hz)
    assert samples.sum() == 0
    signs = np.sign(samples[samples != 0])
    assert (np.diff(signs) != 0).sum() == 2 * 4 - 1  # one polarity change per half period


def test_balance_holds_while_the_amplitude_ramps():
    """The negative half replays what the positive half commanded, ramp and all."""
    slots = hot.new()  # the envelope and the waveform share it, as in the App
    env = Envelope(slots)
    env.ramp_to(400)
    wave = Waveform(slots)
    wave.configure(programs.SINE, 7)
    samples = []
    for _ in range(2 * wave.half * 12):
        samples.append(_next(wave, 0, 15, True))  # the envelope moves in positive halves
    periods = np.array(samples).reshape(12, -1)
    assert (periods.sum(axis=1) == 0).all()
    peaks = np.abs(periods).max(axis=1)
    assert (np.diff(peaks) > 0).all()  # and it does ramp


def test_a_cut_in_the_first_half_restarts_with_the_half_that_pays_it_back():
    wave, _ = _periods(programs.SQUARE, 10, n_periods=1)
    for _ in range(17):  # the dead tick, then 16 ticks at +100 uA
        _next(wave, 100, 15, False)
    wave.restart()
    assert wave.carry_ua_ms == 1600
    assert _next(wave, 100, 15, False) == 0  # the dead tick
    assert _next(wave, 100, 15, False) == -100


def test_cuts_anywhere_never_leave_more_than_one_half_period_of_charge():
    """Every cut, at any tick and any amplitude, is paid back by the next periods' order: the
    net charge (the sum of every setpoint) stays within one half-period at the peak."""
    wave = Waveform()
    wave.configure(programs.SQUARE, 10)
    rng = np.random.default_rng(7)
    net_ua_ms = 0
    worst_ua_ms = 0
    for _ in range(300):
        amplitude = int(rng.integers(15, 400))
        for _ in range(int(rng.integers(1, 250))):
            net_ua_ms += _next(wave, amplitude, 15, False)
            worst_ua_ms = max(worst_ua_ms, abs(net_ua_ms))
        wave.restart()
        assert wave.carry_ua_ms == net_ua_ms  # the generator's account is the output's
    assert worst_ua_ms <= 400 * wave.half


def test_short_periods_get_an_enable_test_tick_every_50_ms():
    wave, samples = _periods(programs.SQUARE, 250, n_periods=100)  # 400 ms of 4-tick periods
    zeros = np.flatnonzero(samples == 0)
    # after 50 ms without a zero tick, the next period begins with one (4-tick periods: + 6 ms)
    assert len(zeros) >= 2 * 7 and np.diff(zeros[::2]).max() <= limits.ENABLE_CHECK_PERIOD_MS + 6
    assert samples.sum() == 0  # each zero tick has its mirror


def test_the_enable_test_interval_is_the_limits_one():
    assert waveform._ENABLE_TEST_MS == limits.ENABLE_CHECK_PERIOD_MS
