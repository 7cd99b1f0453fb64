"""Watchdog (R9) and boot self-test (R10), on the scenario runner and driven directly."""
import pytest
from simdevice import Device

from boards.sim.model import PIN_ENABLE
from roller import ui
from roller.integrity import MANIFEST
from roller.limits import PROBE_UA


def _states(trace):
    return [e["state"] for e in trace if e["kind"] == "state"]


def _responses(trace):
    import json

    return [json.loads(e["line"]) for e in trace if e["kind"] == "serial" and e["dir"] == "out"]


CORRUPT = {
    "name": "flash-corrupt",
    "duration_s": 6,
    "seed": 5,
    "events": [
        {"t": 0.2, "skin": {"ohm": 20000}},
        {"t": 0.5, "fault": "flash_corrupt"},
        {"t": 1.0, "power": "cut"},
        {"t": 1.5, "power": "on"},
        {"t": 2.0, "button": "click"},
        {"t": 3.0, "serial": '{"cmd": "status"}'},
        {"t": 3.5, "button": "hold"},
        {"t": 5.2, "serial": '{"cmd": "start"}'},
        {"t": 5.5, "serial": '{"cmd": "log"}'},
    ],
}


@pytest.mark.parametrize("runtime", ["cpython", "micropython"])
def test_flash_corrupt_fails_the_next_self_test(sim, runtime):
    trace = sim(CORRUPT, runtime)
    faults = [(e["t"], e["code"]) for e in trace if e["kind"] == "fault"]
    assert [code for _, code in faults] == ["SELFTEST", "SELFTEST"]  # and again: not repaired
    assert 2.0 < faults[0][0] < 2.7
    assert _states(trace) == ["OFF", "OFF", "SELFTEST", "FAULT", "OFF", "SELFTEST", "FAULT"]
    assert all(e["ua"] == 0 for e in trace if e["kind"] == "out")  # never any output
    status, start, log = _responses(trace)
    assert status["selftest"] == {"result": "failed", "reason": "integrity: boot.py"}
    assert start == {"ok": True, "state": "SELFTEST"}
    assert [e["code"] for e in log["entries"]] == ["SELFTEST", "SELFTEST"]


HANG = {
    "name": "loop-hang",
    "duration_s": 9,
    "seed": 9,
    "settings": {"level": 3},
    "events": [
        {"t": 0.2, "skin": {"ohm": 20000}},
        {"t": 0.3, "serial": '{"cmd": "start"}'},
        {"t": 4.0, "fault": "loop_hang"},
        {"t": 5.0, "serial": '{"cmd": "log"}'},
        {"t": 5.5, "button": "hold"},
        {"t": 7.5, "button": "click"},
    ],
}


@pytest.mark.parametrize("runtime", ["cpython", "micropython"])
def test_loop_hang_resets_within_300_ms_and_stays_off(sim, runtime):
    trace = sim(HANG, runtime)
    resets = [(e["t"], e["cause"]) for e in trace if e["kind"] == "reset"]
    assert resets[0] == (0.0, "power") and resets[1][1] == "watchdog"
    t_reset = resets[1][0]
    assert 4.0 < t_reset <= 4.3
    faults = [(e["t"], e["code"]) for e in trace if e["kind"] == "fault"]
    assert faults == [(t_reset, "WATCHDOG")]
    t_selftest = [e["t"] for e in trace if e["kind"] == "state" and e["state"] == "SELFTEST"][1]
    after = [e for e in trace if e["kind"] == "out" and e["t"] >= t_reset]
    assert after[0]["t"] == t_reset and after[0]["ua"] == 0  # cut by the reset itself
    assert all(e["ua"] == 0 for e in after if e["t"] < t_selftest)
    assert all(abs(e["ua"]) <= PROBE_UA for e in after if e["t"] < t_selftest + 0.2)
    assert _states(trace)[-3:] == ["SELFTEST", "STANDBY", "RUN"]
    log = _responses(trace)[-1]
    # boot 1 wrote the scenario settings; the reset is boot 2, logged as it starts
    assert log["entries"] == [{"boot": 2, "ms": 0, "code": "WATCHDOG"}] and log["boot"] == 2


def test_output_enable_stays_low_from_watchdog_reset_to_self_test(tmp_path):
    dev = Device(str(tmp_path / "fs"), skin_ohm=20_000)
    dev.request({"cmd": "start"})
    dev.step(3000)
    assert dev.app.state == ui.RUN and abs(dev.model.delivered_ua) > 50
    dev.hung = True
    t_hang = dev.t_ms
    seen = []
    dev.step(400, lambda d: seen.append((d.t_ms, d.model.pins[PIN_ENABLE], d.model.delivered_ua)))
    t_reset, cause = dev.resets[-1]
    assert cause == "watchdog" and t_reset - t_hang <= 300
    assert all(not enable and ua == 0 for t, enable, ua in seen if t >= t_reset)
    assert dev.app.state == ui.FAULT and dev.app.fault
    dev.hold_button()
    assert dev.app.state == ui.OFF

    def off_until_selftest(d):
        if d.app.state in (ui.OFF, ui.FAULT):
            assert not d.model.pins[PIN_ENABLE] and d.model.delivered_ua == 0
        elif d.app.state == ui.SELFTEST:
            assert abs(d.model.delivered_ua) <= PROBE_UA  # the enable-path check's probe
    dev.step(500, off_until_selftest)
    dev.request({"cmd": "start"})
    dev.step(100, off_until_selftest)
    assert dev.app.state == ui.STANDBY


def test_the_manifest_covers_every_deployed_firmware_file(tmp_path):
    dev = Device(str(tmp_path / "fs"))
    with dev.flash.open(MANIFEST) as f:
        listed = {line.split()[1] for line in f.read().splitlines()}
    for name in ("main.py", "boot.py", "roller/app.py", "roller/protocol.py", "roller/store.py",
                 "roller/jsonline.py", "roller/linebuf.py", "roller/selftest.py"):
        assert name in listed


@pytest.mark.parametrize("victim", ["roller/store.py", "roller/protocol.py", MANIFEST])
def test_any_damaged_firmware_file_fails_the_self_test(tmp_path, victim):
    dev = Device(str(tmp_path / "fs"), skin_ohm=20_000)
    with open(dev.flash.path(victim), "r+b") as f:
        f.seek(40)
        byte = f.read(1)
        f.seek(40)
        f.write(bytes([byte[0] ^ 0x20]))
    dev.request({"cmd": "start"})
    dev.step(200, lambda d: abs(d.model.delivered_ua) == 0 or pytest.fail("output"))
    assert dev.app.state == ui.FAULT and dev.request({"cmd": "status"})["fault"] == "SELFTEST"
