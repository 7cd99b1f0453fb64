"""The electrical model and the virtual board themselves (SPEC section 3, C1 faults)."""
import os
from array import array

import pytest

from host_tools import paths

from boards.sim.board import SimBoard
from boards.sim.flash import Flash, PowerLost
from boards.sim.model import FAULT_NAMES, PIN_LEG_B, Model
from boards.sim.trace import Trace


class _NullTrace(Trace):
    def __init__(self):
        super().__init__(None)

    def _line(self, kind, body):
        self.lines += 1


def _board(tmp_path, model=None):
    return SimBoard(model or Model(3), Flash(str(tmp_path / "fs")), _NullTrace())


def _sensed(board):
    """board.sample(): current (uA), electrode voltage (mV), USB, button."""
    inputs = array("i", bytes(20))
    board.sample(inputs)
    return inputs


def _drive(board, enable, polarity, ua):
    board.write_output(enable, polarity, ua)
    board.model.step()
    return board.model.delivered_ua


def test_compliance_limits_current_into_high_impedance(tmp_path):
    board = _board(tmp_path)
    board.model.set_skin(100_000)
    assert _drive(board, True, 1, 400) == 150  # 15 V / 100 kOhm
    assert board.model.electrode_mv == 15_000
    assert _drive(board, True, -1, 400) == -150


def test_current_source_delivers_setpoint_below_compliance(tmp_path):
    board = _board(tmp_path)
    board.model.set_skin(20_000)
    assert _drive(board, True, 1, 400) == 400
    assert board.model.electrode_mv == 8000
    assert abs(_sensed(board)[0] - 400) <= 3  # calibrated sense with +-2 LSB noise
    assert abs(_sensed(board)[1] - 8000) <= 30


def test_no_contact_means_no_current_and_compliance_voltage(tmp_path):
    board = _board(tmp_path)
    assert _drive(board, True, 1, 400) == 0
    assert board.model.electrode_mv == 15_000
    assert abs(_sensed(board)[0]) <= 2


def test_enable_off_gives_zero_whatever_the_dac_says(tmp_path):
    board = _board(tmp_path)
    board.model.set_skin(20_000)
    for ua in (0, 15, 400, 1000):
        for polarity in (-1, 0, 1):
            assert _drive(board, False, polarity, ua) == 0


def test_bridge_off_gives_zero(tmp_path):
    board = _board(tmp_path)
    board.model.set_skin(20_000)
    assert _drive(board, True, 0, 400) == 0


def test_skin_capacitance_charges_exponentially(tmp_path):
    board = _board(tmp_path)
    board.model.set_skin(20_000, 100)  # tau = 2 ms
    volts = []
    for _ in range(10):
        _drive(board, True, 1, 100)
        volts.append(board.model.electrode_mv)
    assert board.model.delivered_ua == 100
    assert volts[0] < volts[1] < volts[3] < 2000  # rising towards I*R = 2 V
    assert 2000 - volts[9] < 20  # settled after 5 tau
    assert 600 < volts[0] < 900  # 1 - exp(-0.5) = 39 %


@pytest.mark.parametrize("polarity", [1, -1])
def test_skin_capacitance_discharges_to_zero_from_either_polarity(tmp_path, polarity):
    """Issue 14: a charge of either sign decays away; mV steps once held a negative voltage
    short of zero for ever (-tau/1 ms mV), a DC offset the model never had."""
    board = _board(tmp_path)
    board.model.set_skin(100_000, 470)  # tau = 47 ms
    for _ in range(1000):  # > 20 tau: charged to I*R
        _drive(board, True, polarity, 100)
    assert board.model.electrode_mv == polarity * 10_000
    volts = []
    for _ in range(500):  # > 10 tau with the output off
        _drive(board, False, 0, 0)
        volts.append(board.model.electrode_mv)
    assert volts[46] == pytest.approx(polarity * 10_000 * 0.368, abs=40)  # one tau: 1/e
    assert volts[-1] == 0


def test_shoot_through_is_recorded_and_delivers_nothing(tmp_path):
    board = _board(tmp_path)
    board.model.set_skin(20_000)
    board.write_output(True, 1, 400)
    board.model.pins[PIN_LEG_B] = 1  # a broken driver: both legs on
    board.model.step()
    assert board.model.hw_violation == "shoot_through"
    assert board.model.delivered_ua == 0


@pytest.mark.parametrize("name", [n for n in FAULT_NAMES if n not in ("loop_hang", "flash_corrupt")])
def test_each_injected_fault_does_what_it_says(tmp_path, name):
    board = _board(tmp_path)
    model = board.model
    model.set_skin(20_000)
    _drive(board, True, 1, 200)
    model.set_fault(name)
    if name == "dac_stuck_high":
        assert _drive(board, True, 1, 100) == 750  # full scale, compliance-limited at 20 kOhm
        assert _drive(board, False, 1, 100) == 0  # the enable switch still works
    elif name == "polarity_stuck":
        assert _drive(board, True, -1, 100) == 100  # reverse command, forward current
    elif name == "sense_stuck_low":
        assert _drive(board, True, 1, 300) == 300
        assert _sensed(board)[0] == 0
    elif name == "sense_stuck_high":
        _drive(board, True, 1, 100)
        assert _sensed(board)[0] >= board.isense_rail_ua
    elif name == "vsense_stuck":
        model.step()  # the ADCs convert at the end of each step
        frozen = _sensed(board)[1]
        _drive(board, True, -1, 300)
        assert _sensed(board)[1] == frozen  # stuck at the value it had
        assert abs(frozen - 4000) < 30
    elif name == "enable_stuck_on":
        assert _drive(board, False, 1, 100) == 100
    model.clear_faults()
    assert _drive(board, False, 1, 100) == 0


def test_torn_write_leaves_a_torn_file_and_cuts_power(tmp_path):
    cuts = []
    flash = Flash(str(tmp_path / "fs"))
    flash.on_cut = lambda: cuts.append(1)
    with flash.open("settings.json", "w") as f:
        f.write("old contents, complete")
    flash.tear_next_write = True
    with pytest.raises(PowerLost), flash.open("settings.json", "w") as f:
        f.write("new contents, much longer than half")
    with open(flash.path("settings.json")) as f:
        assert f.read() == "new contents, muc"  # the first half (17 of 35 bytes) only
    assert cuts == [1]
    with flash.open("other", "w") as f:  # only the next write is torn
        f.write("whole")
    with open(flash.path("other")) as f:
        assert f.read() == "whole"


def test_clock_crosses_the_ticks_wraparound(tmp_path):
    board = _board(tmp_path)
    start_ms, start_us = board.ticks_ms(), board.ticks_us()
    assert start_ms > (1 << 30) - 5000
    wrapped = False
    previous = start_ms
    for _ in range(6000):
        board.advance_ms(1)
        now = board.ticks_ms()
        wrapped |= now < previous
        assert board.ticks_diff(now, previous) == 1
        previous = now
    assert wrapped
    assert board.ticks_diff(board.ticks_ms(), start_ms) == 6000
    assert board.ticks_diff(board.ticks_us(), start_us) == 6_000_000
    assert board.ticks_us() < start_us  # the us counter wrapped too
    assert board.ticks_diff(start_ms, board.ticks_ms()) == -6000
    assert board.ticks_add(board.ticks_ms(), -6000) == start_ms


def test_button_pin_bounces_after_each_edge(tmp_path):
    doc = {"name": "bounce", "duration_s": 1, "events": [{"t": 0.1, "button": "down"}]}
    from boards.sim import runner as runner_mod

    class Spy(runner_mod.Runner):
        levels = []

        def run(self, wall_clock=None):
            original = self.app.tick

            def tick():
                self.levels.append(self.board.button_pin_is_low())
                original()

            self.app.tick = tick
            return super().run(wall_clock)

    with open(os.devnull, "w") as out:
        Spy(doc, out, "cpython", str(tmp_path / "fs"), paths.FIRMWARE).run()
    edge = Spy.levels[100:100 + runner_mod.BOUNCE_MS]
    assert True in edge and False in edge  # contact bounce right after the press
    assert all(Spy.levels[100 + runner_mod.BOUNCE_MS:])  # then firmly pressed


def test_usb_power_cuts_the_current_source_in_hardware(tmp_path):
    """R6 in hardware: with VBUS present nothing flows, whatever the pins or a stuck switch."""
    board = _board(tmp_path)
    model = board.model
    model.set_skin(20_000)
    model.usb = True
    assert _drive(board, True, 1, 400) == 0
    model.set_fault("enable_stuck_on")
    assert _drive(board, False, 1, 400) == 0
    model.usb = False
    assert _drive(board, False, 1, 400) == 400
