"""Where a board lets its loop pause (roller.app: App.pace, _level_held, _collect; hal.common.Pacer).

On the simulator App.pace is None and nothing here applies; a board sets it. These tests set a
stand-in (time stays virtual) and read, tick by tick, when a flash write and a collection may
hold the loop: only where the output holds its level for as long as they take. The emulated
Pico checks the same from outside, on the trace (tests/test_emu_sim.py).
"""
import fake_machine
import pytest
from simdevice import Device

from roller import app as app_module

RUN = 3


@pytest.fixture
def dev(tmp_path):
    dev = Device(str(tmp_path / "fs"), skin_ohm=20_000)
    dev.app.pace = lambda: None  # a board's: the gates apply
    return dev


def _run(dev, program):
    assert dev.request({"cmd": "set", "program": program})["ok"] is True
    dev.request({"cmd": "start"})
    dev.step(2500)  # self-test, contact, the soft start
    assert dev.app.state == RUN


def _index(dev):
    wave = dev.app.wave
    return (wave.index - wave.hold_index) % wave.half


def test_a_store_write_in_run_waits_for_a_square_half_to_hold_its_level(dev):
    _run(dev, "lift")
    writes = dev.app.store.writes
    for cue_s in (10, 12, 14):
        assert dev.request({"cmd": "set", "cue_s": cue_s})["ok"] is True
        at = []
        for _ in range(1200):  # a write a second at most (flash wear)
            dev.step(1)
            if dev.app.store.writes != writes:
                writes = dev.app.store.writes
                at.append((_index(dev), dev.app.wave.index))
                break
        # written in the ms the second tick of a half ran (the first is the dead tick, at zero):
        # 48 more at that level follow, so a write's ms pass with no charge moved
        assert at and at[0][0] == 0 and at[0][1] in (2, 2 + dev.app.wave.half), at


def test_a_store_write_on_a_sine_waits_for_its_peak(dev):
    _run(dev, "eye")
    wave = dev.app.wave
    assert wave.hold_index == wave.half // 2 + 1 and wave.level_ticks == 3
    writes = dev.app.store.writes
    assert dev.request({"cmd": "set", "cue_s": 10})["ok"] is True
    for _ in range(1200):
        dev.step(1)
        if dev.app.store.writes != writes:
            break
    assert dev.app.store.writes == writes + 1 and _index(dev) == 0


def test_collections_come_where_a_square_holds_its_level_and_requests_wait(dev, monkeypatch):
    collected = []
    monkeypatch.setattr(app_module.gc, "collect", lambda: collected.append(_index(dev)))
    _run(dev, "lift")
    dev.app.collect_ms = 16  # as the emulated RP2040 measures one
    dev.app.answered_bytes = app_module._COLLECT_AFTER_BYTES
    while _index(dev) != 5:
        dev.step(1)
    dev.send(b'{"cmd": "status"}')
    answered = len(dev.responses())
    waited = 0
    while len(dev.responses()) == answered:
        dev.step(1)
        waited += 1
    # the request waited for the hold point (45 ms on): the collection, then the answer, in its ms
    assert collected == [0] and waited == dev.app.wave.half - 5, (collected, waited)


def test_no_collection_on_a_sine_in_a_session_but_at_once_after_it(dev, monkeypatch):
    collected = []
    monkeypatch.setattr(app_module.gc, "collect", lambda: collected.append(dev.app.state))
    _run(dev, "eye")
    dev.app.collect_ms = 16  # longer than a peak holds: no moment in this waveform
    dev.app.answered_bytes = app_module._COLLECT_AFTER_BYTES
    assert dev.request({"cmd": "status"})["state"] == "RUN"  # requests go on meanwhile
    dev.step(500)
    assert collected == []
    dev.request({"cmd": "stop"})
    dev.step(800)
    assert collected and all(state != RUN for state in collected), collected


def test_a_tick_out_of_memory_ends_the_loop_not_a_request(monkeypatch):
    """The protocol refuses a request that runs out of memory ("out of memory"); a tick run in
    between its slices that does so must not be taken for that: the loop ends, the output goes
    off (Board.run) and the watchdog resets the board."""
    from hal import common

    clock = fake_machine.FakeTime()
    monkeypatch.setattr(common, "time", clock)

    def tick():
        raise MemoryError

    pacer = common.Pacer(tick)
    with pytest.raises(RuntimeError, match="control tick: out of memory"):
        pacer.pace()


def test_the_status_answer_never_straddles_a_transition(dev):
    """Built in slices with ticks between them: a state entered meanwhile means built again whole."""
    calls = []

    def pace():
        calls.append(1)
        if len(calls) == 2:  # a tick between two slices changes the state
            dev.app.dispatch(5)  # STOP: RUN ramps down
            dev.app.on_fault(2)

    _run(dev, "lift")
    dev.app.pace = pace
    answer = dev.app.protocol._cmd_status(None)
    assert answer["state"] == "FAULT" and answer["fault"] is not None, answer
