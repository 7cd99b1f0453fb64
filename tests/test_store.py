"""Persistence (R14): record format, A/B slots, write policy, and a power-cut torture test."""
import random

import pytest
from simdevice import Device

from boards.sim.flash import Flash
from roller import ui
from roller.limits import FAULT_LOG_ENTRIES
from roller.settings import Settings
from roller.store import SLOTS, Store, decode, encode

DOC = {"seq": 7, "boot": 3, "settings": Settings().as_dict(), "sessions": 2, "stim_s": 1234,
       "last_fault": "WATCHDOG", "log": [[2, 15, "WATCHDOG"], [3, 99, "SELFTEST"]]}


def test_record_round_trip():
    assert decode(encode(DOC)) == DOC


def test_every_torn_prefix_is_rejected():
    record = encode(DOC)
    for n in range(len(record)):
        assert decode(record[:n]) is None, n


def test_every_single_bit_flip_is_rejected():
    record = encode(DOC)
    for i in range(len(record)):
        for bit in range(8):
            bad = bytearray(record)
            bad[i] ^= 1 << bit
            assert decode(bytes(bad)) != DOC, (i, bit)


@pytest.mark.parametrize("doc", [
    dict(DOC, seq=-1), dict(DOC, boot="3"), dict(DOC, log=[[1, 2]]), dict(DOC, log=[[1, 2, 3]]),
    dict(DOC, log=[[1, 2, "X"]] * (FAULT_LOG_ENTRIES + 1)), dict(DOC, settings=[]), [1, 2],
])
def test_clean_records_of_another_layout_are_skipped(doc):
    assert decode(encode(doc)) is None


def _store(tmp_path):
    store = Store(Flash(str(tmp_path / "fs")))
    store.load()
    return store


def test_slots_alternate_and_the_newest_wins(tmp_path):
    store = _store(tmp_path)
    settings = Settings()
    for i in range(4):
        store.add_session(1000 * (i + 1))
        store.service(10_000 * (i + 1), settings)
    assert store.writes == 4 and store.slot == 1
    again = _store(tmp_path)
    assert (again.seq, again.sessions, again.stim_s, again.boot) == (4, 4, 10, 2)


def test_a_corrupt_newest_slot_falls_back_to_the_other(tmp_path):
    store = _store(tmp_path)
    store.add_session(5000)
    store.service(0, Settings())
    store.add_session(5000)
    store.service(5000, Settings())
    path = store.fs.path(SLOTS[store.slot])
    with open(path, "r+b") as f:
        f.seek(-3, 2)
        f.write(b"X")
    again = _store(tmp_path)
    assert again.sessions == 1 and again.skipped == 1
    with open(store.fs.path(SLOTS[1 - store.slot]), "wb") as f:
        f.write(b"garbage\n")
    empty = _store(tmp_path)
    assert empty.sessions == 0 and empty.skipped == 2 and empty.boot == 1


# --- write policy on the device ------------------------------------------------------------
@pytest.fixture
def dev(tmp_path):
    return Device(str(tmp_path / "fs"), skin_ohm=20_000)


def test_no_writes_while_nothing_changes(dev):
    dev.request({"cmd": "start"})
    dev.step(2000)  # the first RUN stores its polarity: one write (docs/safety.md, power cuts)
    assert dev.app.state == ui.RUN and dev.flash.writes == 1
    dev.step(10_000)  # ten seconds of stimulation: 10 000 ticks, no flash write
    assert dev.app.state == ui.RUN and dev.flash.writes == 1


def test_a_flood_of_set_commands_is_coalesced(dev):
    for i in range(300):
        dev.request({"cmd": "set", "level": i % 5 + 1}, ms=10)
    dev.step(1000)
    assert dev.flash.writes <= 4  # one per second at most
    assert _loaded(dev.flash)[0] == dev.app.settings.as_dict()


def test_a_change_is_on_flash_within_a_second(dev):
    dev.request({"cmd": "set", "level": 2})  # written at once: nothing written for a second
    dev.request({"cmd": "set", "level": 3}, ms=10)
    assert _loaded(dev.flash)[0]["level"] == 2
    dev.step(990)
    assert _loaded(dev.flash)[0]["level"] == 3


def test_a_fault_is_written_at_once(dev):
    dev.request({"cmd": "set", "level": 2})
    writes = dev.flash.writes
    dev.model.set_fault("sense_stuck_high")
    dev.step(2)
    assert dev.app.state == ui.FAULT and dev.flash.writes == writes + 1
    assert _loaded(dev.flash)[3] == "SENSE_FAULT"


def test_settings_and_counters_survive_a_power_cycle(dev):
    dev.request({"cmd": "set", "level": 3, "program": "eye", "session_s": 300, "cue_s": 12})
    dev.request({"cmd": "start"})
    dev.step(5000)
    dev.request({"cmd": "stop"}, ms=1000)
    dev.power_off()
    dev.step(100)
    dev.power_on()
    restored = dev.app.settings.as_dict()
    assert restored == {"level": 3, "program": "eye", "session_s": 300, "cue_s": 12, "week_target": 2}
    log = dev.request({"cmd": "log"})
    assert log["sessions"] == 1 and log["stim_s"] == 5 and log["boot"] == 2


def test_the_fault_log_keeps_the_last_entries(dev):
    for _ in range(FAULT_LOG_ENTRIES + 5):
        dev.model.set_fault("sense_stuck_high")
        dev.step(5)
        dev.model.clear_faults()
        dev.hold_button()
        dev.request({"cmd": "start"}, ms=100)  # the latch clears only when a self-test passes
        assert dev.app.state == ui.STANDBY
        dev.request({"cmd": "stop"}, ms=10)
    log = dev.request({"cmd": "log"})["entries"]
    assert len(log) == FAULT_LOG_ENTRIES and {e["code"] for e in log} == {"SENSE_FAULT"}
    assert [e["ms"] for e in log] == sorted(e["ms"] for e in log)


# --- the torture test -------------------------------------------------------------------------
def _loaded(flash):
    """What a boot would restore: (settings, sessions, stim_s, last_fault, log)."""
    store = Store(flash)
    store.load()
    settings = Settings()  # an empty store restores the defaults
    settings.update(store.settings or {"level": 1})
    return settings.as_dict(), store.sessions, store.stim_s, store.last_fault, store.log


def _live(app):
    s = app.store
    return app.settings.as_dict(), s.sessions, s.stim_s, s.last_fault, [list(e) for e in s.log]


class Torture:
    """Random sessions, settings, faults and resets, with power cuts at random instants and
    in the middle of flash writes; every boot must restore the last completed write."""

    def __init__(self, flash_dir, seed):
        self.rng = random.Random(seed)
        self.dev = Device(flash_dir, seed=seed, skin_ohm=20_000)
        self.durable = _live(self.dev.app)  # defaults: what an empty store restores
        self.writes = self.dev.flash.writes
        self.cuts = self.torn = self.lost = 0

    def watch(self, dev):
        """After every ms: a write that completed makes the live state durable."""
        if dev.app is not None and dev.flash.writes != self.writes:
            self.writes = dev.flash.writes
            self.durable = _live(dev.app)

    def run(self, ms):
        self.dev.step(ms, self.watch)

    def act(self):
        dev, rng = self.dev, self.rng
        app = dev.app
        roll = rng.random()
        if app.state == ui.FAULT:
            dev.model.clear_faults()
            dev.board.set_button_pin_low(True)
            self.run(1100)
            if dev.board is not None:
                dev.board.set_button_pin_low(False)
        elif roll < 0.35:
            line = '{"cmd": "set", "level": %d, "program": "%s", "session_s": %d}' % (
                rng.randint(1, 5), rng.choice(("lift", "tone", "eye")), rng.randint(60, 900))
            dev.send(line.encode())
        elif roll < 0.45:
            dev.send(b'{"cmd": "set", "level": 6}')  # refused: must not write
        elif roll < 0.7:
            dev.send(b'{"cmd": "start"}' if app.state == ui.OFF else b'{"cmd": "stop"}')
        elif roll < 0.8:
            dev.model.set_fault(rng.choice(("sense_stuck_high", "enable_stuck_on")))
        elif roll < 0.85:
            dev.hung = True  # the watchdog resets; the boot logs WATCHDOG
        self.run(rng.choice((1, 2, 5, 50, 300, 700, 1200, 2500)))

    def cut(self):
        """Cut the power (now, or tearing the next write), then check the next boot."""
        dev, rng = self.dev, self.rng
        if rng.random() < 0.4:
            dev.flash.tear_next_write = True
            dev.send(b'{"cmd": "set", "level": %d}' % (dev.app.settings.level % 5 + 1))
            for _ in range(40):
                if dev.app is None:
                    break
                self.act()
            if dev.app is None:
                self.torn += 1
            dev.flash.tear_next_write = False
        if dev.app is None or _live(dev.app) != self.durable:
            self.lost += 1  # the boot must bring back the old state
        if dev.app is not None:
            dev.power_off()
        self.cuts += 1
        dev.model.clear_faults()
        dev.step(rng.randint(1, 50))
        loaded = _loaded(dev.flash)
        assert loaded == self.durable
        dev.power_on()
        app = dev.app
        assert app.settings.as_dict() == loaded[0]  # restored into App.settings
        log = dev.request({"cmd": "log"})
        boots = [e["boot"] for e in log["entries"]]
        assert boots == sorted(boots) and log["sessions"] == loaded[1]
        self.run(1)

    def once(self):
        for _ in range(self.rng.randint(1, 6)):
            self.act()
            if self.dev.app is None:
                break
        self.cut()


def test_power_cut_torture(tmp_path, capsys):
    cuts = torn = lost = 0
    for seed in range(6):
        t = Torture(str(tmp_path / ("fs%d" % seed)), seed)
        for _ in range(70):
            t.once()
        cuts += t.cuts
        torn += t.torn
        lost += t.lost
    with capsys.disabled():
        print("\npower-cut torture: %d cuts, %d tearing a flash write, %d with a change not yet"
              " written (old state restored), the rest restored the new state" % (cuts, torn, lost))
    assert cuts >= 400 and torn >= 100 and cuts - lost >= 100
