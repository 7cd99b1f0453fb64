"""The board HALs on a fake `machine`: pins, order of writes, scaling and calibration. The RP2040's
per-tick calls work on its registers (tests/fake_machine.py models them): they must give what the
machine calls give."""
import importlib
import importlib.util
import io
import os
from array import array
import sys

import pytest

from host_tools import paths
from tests import fake_machine

BOARDS = {
    "esp32": ("hal.esp32", "esp32_devkitc"),
    "rp2040": ("hal.rp2040", "rp2040_pico"),
}
PORTS = {"esp32_devkitc": "esp32", "rp2040_pico": "rp2", "rp2040_picow": "rp2"}


def load_config(board_dir):
    path = os.path.join(paths.ROOT, "boards", board_dir, "board.py")
    spec = importlib.util.spec_from_file_location("board_config", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(params=sorted(BOARDS))
def hal(request, monkeypatch):
    """(machine, config, Board instance) for each board, on a fresh fake machine."""
    module_name, board_dir = BOARDS[request.param]
    machine = fake_machine.new(PORTS[board_dir])
    fake_machine.install(monkeypatch, machine)
    monkeypatch.delitem(sys.modules, module_name, raising=False)
    module = importlib.import_module(module_name)
    cfg = load_config(board_dir)
    board = module.Board(cfg, console=object())
    machine.events.clear()
    return machine, cfg, board


def sensed(board):
    """board.sample(): current (uA), electrode voltage (mV), USB, button, head ID (mV)."""
    inputs = array("i", bytes(20))
    board.sample(inputs)
    return inputs


def setpoint_writes(machine, cfg):
    """What reached the setpoint: DAC codes (ESP32), PWM levels (RP2040: CC register writes)."""
    if machine.port == "rp2":
        number, channel_b = fake_machine.slice_of(cfg.SETPOINT_PIN)
        return [e[2] >> 16 if channel_b else e[2] & 0xFFFF
                for e in machine.events if e[0] == "cc" and e[1] == number]
    return [e[2] for e in machine.events if e[0] == "dac" and e[1] == cfg.SETPOINT_PIN]


def setpoint_of(machine, cfg, code):
    """What setpoint_writes shows for a setpoint code (a duty_u16 on the RP2040)."""
    if machine.port == "rp2":
        return fake_machine.rp2_level(code, fake_machine.rp2_top(cfg.SETPOINT_PWM_HZ))
    return code


def assert_never_both_legs(machine, cfg, start_levels):
    levels = dict(start_levels)
    for kind, pin, value in machine.events:
        if kind == "value":
            levels[pin] = value
            assert not (levels.get(cfg.LEG_A_PIN) and levels.get(cfg.LEG_B_PIN)), machine.events


@pytest.mark.parametrize("module_name,board_dir", sorted(BOARDS.values()))
def test_enable_pin_is_driven_low_first(module_name, board_dir, monkeypatch):
    machine = fake_machine.new(PORTS[board_dir])
    fake_machine.install(monkeypatch, machine)
    monkeypatch.delitem(sys.modules, module_name, raising=False)
    cfg = load_config(board_dir)
    board = importlib.import_module(module_name).Board(cfg, console=object())
    assert machine.events[0] == ("init", cfg.ENABLE_PIN, 0)
    for pin in (cfg.LEG_A_PIN, cfg.LEG_B_PIN, cfg.CUE_PIN):
        assert ("init", pin, 0) in machine.events
    assert setpoint_writes(machine, cfg) == [0]
    assert board.name == board_dir


def _boot(monkeypatch):
    machine = fake_machine.new()
    monkeypatch.setitem(sys.modules, "machine", machine)
    monkeypatch.delitem(sys.modules, "board_config", raising=False)
    with open(os.path.join(paths.FIRMWARE, "boot.py")) as f:
        exec(compile(f.read(), "boot.py", "exec"), {})
    return machine.events, sys.modules["board_config"]


def test_boot_py_drives_enable_low(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [""] + sys.path)
    with open(os.path.join(paths.ROOT, "boards", "esp32_devkitc", "board.py")) as f:
        (tmp_path / "board_config.py").write_text(f.read())
    events, cfg = _boot(monkeypatch)
    assert events == [("init", cfg.ENABLE_PIN, 0)] and cfg.ENABLE_PIN == 23


def test_boot_py_picks_the_units_board_config_else_the_images(monkeypatch, tmp_path):
    """On a frozen image (".frozen" on sys.path, here a folder): the unit's file, else the nominal
    one frozen in (make uf2 adds NOMINAL), also when a flipped byte lost one of the unit's names;
    after boot.py, frozen code comes first on sys.path."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", ["", ".frozen"] + sys.path)
    with open(os.path.join(paths.ROOT, "boards", "rp2040_pico", "board.py")) as f:
        nominal = f.read()
    (tmp_path / ".frozen").mkdir()
    (tmp_path / ".frozen" / "board_config.py").write_text(nominal + "NOMINAL = True\n")
    events, cfg = _boot(monkeypatch)
    assert cfg.NOMINAL and events == [("init", 20, 0)] and sys.path[0] == ".frozen"  # a blank unit
    monkeypatch.setattr(sys, "path", ["", ".frozen"] + sys.path[2:])
    (tmp_path / "board_config.py").write_text(nominal.replace("const(20)", "const(7)"))
    events, cfg = _boot(monkeypatch)
    assert not hasattr(cfg, "NOMINAL") and events == [("init", 7, 0)]  # the unit's
    monkeypatch.setattr(sys, "path", ["", ".frozen"] + sys.path[2:])
    (tmp_path / "board_config.py").write_text(nominal.replace("ENABLE_PIN = const(20)", "ENABLD_PIN = 7"))
    events, cfg = _boot(monkeypatch)
    assert cfg.NOMINAL and events == [("init", 20, 0)]  # a name lost: the nominal one


def test_output_on_writes_setpoint_and_leg_then_enable_last(hal):
    machine, cfg, board = hal
    board.write_output(True, 1, 250)
    code = (250 * cfg.SETPOINT_MAX_CODE + cfg.SETPOINT_FULL_UA // 2) // cfg.SETPOINT_FULL_UA
    assert setpoint_writes(machine, cfg) == [setpoint_of(machine, cfg, code)]
    assert machine.levels[cfg.LEG_A_PIN] == 1 and machine.levels[cfg.LEG_B_PIN] == 0
    assert machine.events[-1] == ("value", cfg.ENABLE_PIN, 1)


def test_output_off_opens_enable_first(hal):
    machine, cfg, board = hal
    board.write_output(True, -1, 200)
    machine.events.clear()
    board.write_output(False, 0, 0)
    assert machine.events[0] == ("value", cfg.ENABLE_PIN, 0)
    assert machine.levels[cfg.LEG_A_PIN] == 0 and machine.levels[cfg.LEG_B_PIN] == 0
    assert setpoint_writes(machine, cfg) == [0]


def test_reversal_breaks_before_make_and_never_drives_both_legs(hal):
    machine, cfg, board = hal
    board.write_output(True, 1, 100)
    start = dict(machine.levels)
    machine.events.clear()
    for polarity in (-1, 1, 0, -1, 0, 1, -1):
        board.write_output(True, polarity, 100)
    assert_never_both_legs(machine, cfg, start)
    legs = [(pin, v) for kind, pin, v in machine.events if kind == "value" and pin != cfg.ENABLE_PIN]
    assert legs[:2] == [(cfg.LEG_A_PIN, 0), (cfg.LEG_B_PIN, 1)]  # release A, then drive B


def test_setpoint_is_capped_at_the_hard_limit(hal):
    machine, cfg, board = hal
    from roller.limits import HARD_MAX_UA

    board.write_output(True, 1, 5000)
    board.write_output(True, 1, -20)
    cap_code = (HARD_MAX_UA * cfg.SETPOINT_MAX_CODE + cfg.SETPOINT_FULL_UA // 2) // cfg.SETPOINT_FULL_UA
    assert setpoint_writes(machine, cfg) == [setpoint_of(machine, cfg, cap_code), 0]


def test_current_sense_is_offset_binary_around_its_zero_code(hal):
    machine, cfg, board = hal
    codes = machine.adc_codes
    codes[cfg.ISENSE_PIN] = cfg.ISENSE_ZERO_U16
    assert sensed(board)[0] == 0
    codes[cfg.ISENSE_PIN] = cfg.ISENSE_ZERO_U16 + 16384
    assert sensed(board)[0] == cfg.ISENSE_UA_PER_32768 // 2
    codes[cfg.ISENSE_PIN] = cfg.ISENSE_ZERO_U16 - 16384
    assert sensed(board)[0] == -(cfg.ISENSE_UA_PER_32768 // 2)
    codes[cfg.VSENSE_PIN] = cfg.VSENSE_ZERO_U16 - 32768 // 10
    assert abs(sensed(board)[1] + cfg.VSENSE_MV_PER_32768 // 10) <= 2


def test_sense_covers_the_design_ranges_before_the_rail(hal):
    machine, cfg, board = hal
    assert 1000 < board.isense_rail_ua < cfg.ISENSE_UA_PER_32768 * 2
    codes = machine.adc_codes
    codes[cfg.ISENSE_PIN] = 65535
    assert sensed(board)[0] >= board.isense_rail_ua
    codes[cfg.VSENSE_PIN] = 65535
    assert sensed(board)[1] > 15_000  # compliance voltage is readable


def test_battery_through_its_divider(hal):
    machine, cfg, board = hal
    machine.adc_codes[cfg.VBAT_PIN] = 3900 * 65536 // cfg.VBAT_MV_PER_65536
    assert abs(board.read_battery_mv() - 3900) <= 1


def test_inputs_button_active_low_and_usb(hal):
    machine, cfg, board = hal
    assert sensed(board)[3] == 0  # pull-up: released reads high
    machine.levels[cfg.BUTTON_PIN] = 0
    assert sensed(board)[3] == 1
    machine.levels[cfg.USB_PIN] = 0
    assert sensed(board)[2] == 0
    machine.levels[cfg.USB_PIN] = 1
    assert sensed(board)[2] == 1


def test_led_and_cue(hal):
    machine, cfg, board = hal
    board.set_led(255, 0, 128)
    assert [e for e in machine.events if e[0] == "duty" and e[1] in cfg.LED_PINS] == [
        ("duty", cfg.LED_PINS[0], 65535), ("duty", cfg.LED_PINS[1], 0), ("duty", cfg.LED_PINS[2], 128 * 257)]
    board.set_cue(True)
    assert machine.levels[cfg.CUE_PIN] == 1


@pytest.fixture(params=["rp2040_pico", "rp2040_picow"])
def rp2040_pair(request, monkeypatch):
    """(machine, config, board) for each RP2040 board (the Pico W reads USB through its Pin)."""
    machine = fake_machine.new("rp2")
    fake_machine.install(monkeypatch, machine)
    monkeypatch.delitem(sys.modules, "hal.rp2040", raising=False)
    cfg = load_config(request.param)
    board = importlib.import_module("hal.rp2040").Board(cfg, console=object())
    machine.events.clear()
    return machine, cfg, board


def test_rp2040_sample_reads_what_the_machine_calls_read(rp2040_pair):
    """Every 12-bit code on each ADC input, and both levels of USB and the button: the register
    path gives what ADC.read_u16 and Pin.value give (machine_adc.c's 12-to-16-bit scaling),
    converting the current first (the emulated Pico steps its front end there)."""
    from hal import common

    machine, cfg, board = rp2040_pair
    codes = machine.adc_codes
    for raw in range(4096):
        codes[cfg.ISENSE_PIN] = raw << 4
        codes[cfg.VSENSE_PIN] = (4095 - raw) << 4
        codes[cfg.HEAD_PIN] = (raw * 7 % 4096) << 4
        machine.levels[cfg.USB_PIN] = raw & 1
        machine.levels[cfg.BUTTON_PIN] = raw >> 1 & 1
        machine.conversions.clear()
        registers, calls = array("i", bytes(20)), array("i", bytes(20))
        board.sample(registers)
        assert machine.conversions == [0, 1, 2]
        common.Board.sample(board, calls)
        assert list(registers) == list(calls), raw


def test_rp2040_write_output_writes_what_the_machine_calls_write(rp2040_pair):
    """Random outputs: the register path drives the same pins in the same order (enable off
    first, break before make, enable on last) and sets the PWM level PWM.duty_u16 sets
    (machine_pwm.c), the hard cap included."""
    import random

    from hal import common
    from roller.limits import HARD_MAX_UA

    machine, cfg, board = rp2040_pair
    board._write_setpoint = board._setpoint.duty_u16  # what hal.common's write_output calls
    rng = random.Random(15)
    outputs = [(rng.random() < 0.7, rng.choice((-1, 0, 1)), rng.randint(-50, HARD_MAX_UA + 300))
               for _ in range(3000)]
    outputs += [(True, 1, ua) for ua in range(-5, HARD_MAX_UA + 5)]
    written = []
    for write in (board.write_output, lambda *out: common.Board.write_output(board, *out)):
        board.write_output(False, 0, 0)
        board._polarity = 0
        machine.events.clear()
        for out in outputs:
            write(*out)
        written.append([e for e in machine.events if e[0] in ("value", "cc")])
    assert written[0] == written[1] and len(written[0]) > len(outputs)


def test_rp2040_refuses_a_calibration_its_32_bit_arithmetic_cannot_hold(monkeypatch):
    machine = fake_machine.new("rp2")
    fake_machine.install(monkeypatch, machine)
    monkeypatch.delitem(sys.modules, "hal.rp2040", raising=False)
    cfg = load_config("rp2040_pico")
    cfg.VSENSE_MV_PER_32768 = 40_000
    with pytest.raises(ValueError, match="sense scale of pin 27"):
        importlib.import_module("hal.rp2040").Board(cfg, console=object())


def test_watchdog_and_reset_cause(hal):
    machine, cfg, board = hal
    board.wdt_feed()  # before start: nothing to feed
    board.wdt_start(250)
    board.wdt_feed()
    assert machine.wdts[0].timeout == 250 and machine.wdts[0].fed == 1
    assert board.reset_cause() == "power"
    if board.name == "rp2040_pico":
        # machine.reset() (a deploy's restart) reboots through the watchdog's FORCE trigger, which
        # machine.reset_cause() calls WDT_RESET too: only a timeout is the watchdog biting
        machine.cause = fake_machine.WDT_RESET
        machine.mem32[fake_machine.RP2_WATCHDOG_REASON] = 2
        assert board.reset_cause() == "power"
        machine.mem32[fake_machine.RP2_WATCHDOG_REASON] = 1
    machine.cause = fake_machine.WDT_RESET
    assert board.reset_cause() == "watchdog"


class _App:
    def __init__(self, board, stop_after):
        self.board = board
        self.ticks = 0
        self.services = 0
        self.stop_after = stop_after

    def tick(self):
        self.ticks += 1
        self.board.write_output(True, 1, 100)
        if self.ticks == self.stop_after:
            raise KeyboardInterrupt

    def service(self):
        self.services += 1


def test_run_paces_ticks_and_ctrl_c_leaves_output_off_and_watchdog_quiet(hal, monkeypatch):
    machine, cfg, board = hal
    from hal import common

    clock = fake_machine.FakeTime()
    monkeypatch.setattr(common, "time", clock)
    board.wdt_start(250)
    app = _App(board, stop_after=5)
    with pytest.raises(KeyboardInterrupt):
        board.run(app)
    assert app.ticks == 5 and app.services == 4
    assert clock.slept_us == [1000] * 4  # the fake tick costs nothing: sleep the whole ms
    assert machine.levels[cfg.ENABLE_PIN] == 0
    assert machine.levels[cfg.LEG_A_PIN] == 0 and machine.levels[cfg.LEG_B_PIN] == 0
    keeper = machine.timers[-1]
    keeper.callback(keeper)
    assert machine.wdts[0].fed == 1


def test_a_crash_leaves_output_off_and_lets_the_watchdog_bite(hal, monkeypatch):
    machine, cfg, board = hal
    from hal import common

    monkeypatch.setattr(common, "time", fake_machine.FakeTime())
    board.wdt_start(250)

    class Crashing(_App):
        def tick(self):
            super().tick()
            raise ValueError("bug")

    with pytest.raises(ValueError):
        board.run(Crashing(board, stop_after=0))
    assert machine.levels[cfg.ENABLE_PIN] == 0
    assert machine.timers == []


@pytest.mark.parametrize("stall_us, gaps", [
    # a flash write or a collection (tens of ms): the missed ticks catch up, back to back
    (45_000, [1000, 1000, 45_000, 0, 0]),
    # longer than any (a host suspended the unix port): dropped, no burst
    (300_000, [1000, 1000, 300_000, 1000, 1000]),
])
def test_run_paced_catches_up_after_a_stall_and_resyncs_after_a_long_one(monkeypatch, stall_us, gaps):
    from hal import common

    clock = fake_machine.FakeTime()
    monkeypatch.setattr(common, "time", clock)
    ticks = []

    def tick():
        ticks.append(clock.now_us)
        if len(ticks) == 3:
            clock.now_us += stall_us
        if len(ticks) == 6:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        common.run_paced(common.Pacer(tick), None)
    assert [b - a for a, b in zip(ticks, ticks[1:], strict=False)] == gaps


def test_console_reads_without_blocking_and_ctrl_c_interrupts():
    from hal.common import Console

    r, w = os.pipe()
    with open(r, "rb", buffering=0) as stdin, open(w, "wb", buffering=0) as feed:
        console = Console(stdin, stdout=None)
        assert console.read() is None
        feed.write(b'{"cmd":"info"}\n')
        assert console.read() == b'{"cmd":"info"}\n'
        feed.write(b"x" * 100 + b"\n")
        assert console.read() == b"x" * 64  # small chunks: one line per service() call
        assert console.read() == b"x" * 36 + b"\n"
        feed.write(b"\x03")
        with pytest.raises(KeyboardInterrupt):
            console.read()


def test_flash_adapter_over_os(tmp_path, monkeypatch):
    from hal.common import Flash

    monkeypatch.chdir(tmp_path)
    fs = Flash()
    with fs.open("a.bin", "wb") as f:
        f.write(b"x")
    fs.rename("a.bin", "b.bin")
    assert fs.exists("b.bin") and not fs.exists("a.bin")
    assert fs.listdir() == ["b.bin"]
    fs.remove("b.bin")
    fs.remove("b.bin")  # already gone: no error
    assert fs.listdir() == []


@pytest.mark.parametrize("module_name,board_dir", sorted(BOARDS.values()))
def test_hal_runs_on_the_micropython_unix_port(module_name, board_dir):
    import ast
    import subprocess

    script = os.path.join(paths.ROOT, "tests", "mpy", "hal_on_unix_port.py")
    idle_in, keep_open = os.pipe()  # the console's stdin: open, nothing in it
    try:
        proc = subprocess.run([paths.micropython_exe(), script, paths.ROOT, board_dir, module_name],
                              stdin=idle_in, capture_output=True, text=True, timeout=30)
    finally:
        os.close(idle_in)
        os.close(keep_open)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = dict(line.split(" ", 1) for line in proc.stdout.splitlines())
    cfg = load_config(board_dir)
    assert lines["first"] == "True"
    assert lines["idle_console"] == "True"  # read every ms: no allocation, so no collection
    if module_name == "hal.rp2040":  # its registers are not on the unix port: only the run loop
        assert int(lines["registers"]) > 0
        assert lines["interrupted"] == "20 True ('output', False, 0, 0)"
        return
    writes = [tuple(e) for e in ast.literal_eval(lines["events"]) if e[0] == "value"]
    a, b, en = cfg.LEG_A_PIN, cfg.LEG_B_PIN, cfg.ENABLE_PIN
    assert writes == [("value", a, 1), ("value", en, 1), ("value", a, 0), ("value", b, 1),
                      ("value", en, 1), ("value", en, 0), ("value", b, 0)]
    assert int(lines["current_ua"]) == cfg.ISENSE_UA_PER_32768 // 2
    assert lines["interrupted"].startswith("20 True ")


# --- main.py: the HAL is picked by board_config.NAME ------------------------------------------
class _BleLinks(list):
    """A stand-in roller.ble_uart (aioble needs MicroPython: tests/test_ble.py runs the real one):
    records each BleLink(app, name) main.py makes."""

    def BleLink(self, app, name):  # noqa: N802 - the module's class name
        self.append(name)


def _run_main(monkeypatch, tmp_path, config, ble=None, setup=None, port=None):
    """firmware/main.py on a fake machine with `config` as board_config; a Ctrl-C waiting on the
    console stops the app at its first service call. `ble`: a _BleLinks as roller.ble_uart, or
    None for a firmware without it; `setup(machine)` runs before main.py; `port`: the chip, when
    NAME does not say it. Returns (machine, what main.py printed)."""
    machine = fake_machine.new(port or PORTS.get(config.NAME, "esp32"))
    fake_machine.install(monkeypatch, machine)
    monkeypatch.setitem(sys.modules, "roller.ble_uart", ble)  # None: the import fails
    monkeypatch.setitem(sys.modules, "board_config", config)
    for module_name, _ in BOARDS.values():
        monkeypatch.delitem(sys.modules, module_name, raising=False)  # fresh, on this machine
    from hal import common

    monkeypatch.setattr(common, "time", fake_machine.FakeTime())
    monkeypatch.chdir(tmp_path)  # the flash
    if setup is not None:
        setup(machine)
    r, w = os.pipe()
    os.write(w, b"\x03")
    stderr = io.StringIO()
    with open(r, "rb", buffering=0) as stdin, open(w, "wb", buffering=0):
        monkeypatch.setattr(sys, "stdin", stdin)
        monkeypatch.setattr(sys, "stderr", stderr)
        with open(os.path.join(paths.FIRMWARE, "main.py")) as f:
            code = compile(f.read(), "main.py", "exec")
        try:
            exec(code, {"__name__": "main"})
        except KeyboardInterrupt:
            pass
    return machine, stderr.getvalue()


@pytest.mark.parametrize("board_dir", ["esp32_devkitc", "rp2040_pico", "rp2040_picow"])
def test_main_picks_the_hal_by_board_name(board_dir, monkeypatch, tmp_path):
    cfg = load_config(board_dir)
    links = _BleLinks()
    machine, printed = _run_main(monkeypatch, tmp_path, cfg, links)
    assert printed == ""
    assert links == ([cfg.BLE_NAME] if hasattr(cfg, "BLE_NAME") else [])  # BLE on the BLE boards
    assert machine.events[0] == ("init", cfg.ENABLE_PIN, 0)
    # the app ran on this board's HAL: its watchdog started, its setpoint path was written
    assert [w.timeout for w in machine.wdts] == [250]
    assert len(setpoint_writes(machine, cfg)) > 1  # at its construction, then by the app
    assert machine.levels[cfg.ENABLE_PIN] == 0  # Ctrl-C left the output off


def test_a_firmware_without_bluetooth_runs_usb_only(monkeypatch, tmp_path):
    cfg = load_config("rp2040_picow")
    machine, printed = _run_main(monkeypatch, tmp_path, cfg, None)
    assert printed.startswith("main.py: no Bluetooth (") and printed.endswith("); USB only\n")
    assert [w.timeout for w in machine.wdts] == [250]  # the app ran all the same


def test_main_runs_on_the_nominal_config_when_the_units_is_unusable(monkeypatch, tmp_path):
    """A flipped byte that leaves a value the HAL cannot use (here LED_PINS): on a frozen image
    (".frozen" first on sys.path, as boot.py leaves it) the app runs on the nominal board_config,
    so its self-test can stop it in FAULT (R10); on a deployed build the error stands."""
    cfg = load_config("rp2040_pico")
    cfg.LED_PINS = None
    with pytest.raises(TypeError):
        _run_main(monkeypatch, tmp_path, cfg)
    with open(os.path.join(paths.ROOT, "boards", "rp2040_pico", "board.py")) as f:
        nominal = f.read()
    (tmp_path / ".frozen").mkdir()
    (tmp_path / ".frozen" / "board_config.py").write_text(nominal + "NOMINAL = True\n")
    monkeypatch.setattr(sys, "path", [".frozen"] + sys.path)
    machine, printed = _run_main(monkeypatch, tmp_path, cfg, port="rp2")
    assert printed == "" and [w.timeout for w in machine.wdts] == [250]
    assert sys.modules["board_config"] is cfg  # the unit's file stays what the self-test checks


def _nominal_image(monkeypatch, tmp_path):
    """A frozen image's nominal board_config (make uf2), first on sys.path as boot.py leaves it."""
    with open(os.path.join(paths.ROOT, "boards", "rp2040_pico", "board.py")) as f:
        nominal = f.read()
    (tmp_path / ".frozen").mkdir()
    (tmp_path / ".frozen" / "board_config.py").write_text(nominal + "NOMINAL = True\n")
    monkeypatch.setattr(sys, "path", [".frozen"] + sys.path)


def test_a_flipped_byte_in_name_runs_the_app_on_the_nominal_board(monkeypatch, tmp_path):
    """(issue 16) A unit's NAME that no HAL knows: on a frozen image the app runs on the nominal
    board_config's board, so its self-test stops it in FAULT on the unit's file (R10)."""
    cfg = load_config("rp2040_pico")
    cfg.NAME = "rp2040_pibo"
    _nominal_image(monkeypatch, tmp_path)
    machine, printed = _run_main(monkeypatch, tmp_path, cfg, port="rp2")
    assert printed == "" and [w.timeout for w in machine.wdts] == [250]
    assert machine.events[0] == ("init", cfg.ENABLE_PIN, 0)
    assert sys.modules["board_config"] is cfg  # the unit's file stays what the self-test checks


_MAINTENANCE_LINE = "main.py: maintenance boot: output off, the app not started; reset to start it\n"


def _maintenance_asked(machine):
    import hal.rp2040

    hal.rp2040.maintenance_next()  # what the host runs over the raw REPL before a reset


@pytest.mark.parametrize("how", ["asked", "button held from power-on"])
def test_a_maintenance_boot_leaves_the_repl_with_the_output_off(how, monkeypatch, tmp_path):
    """(issue 16) The host's request (once) or the button held 2 s from a power-on: main.py ends
    at the REPL without the app, the output off and the LED steady cyan."""
    cfg = load_config("rp2040_pico")
    clock = fake_machine.FakeTime()

    def setup(machine):
        from hal import common

        monkeypatch.setattr(common, "time", clock)
        if how == "asked":
            _maintenance_asked(machine)
        else:
            machine.levels[cfg.BUTTON_PIN] = 0

    machine, printed = _run_main(monkeypatch, tmp_path, cfg, setup=setup)
    assert printed == _MAINTENANCE_LINE and machine.wdts == [] and machine.timers == []
    assert machine.events[0] == ("init", cfg.ENABLE_PIN, 0)
    assert machine.levels[cfg.ENABLE_PIN] == 0 and ("value", cfg.ENABLE_PIN, 1) not in machine.events
    r, g, b = cfg.LED_PINS
    assert [e for e in machine.events if e[0] == "duty" and e[1] in cfg.LED_PINS][-3:] == [
        ("duty", r, 0), ("duty", g, 65535), ("duty", b, 65535)]
    assert machine.mem32[fake_machine.RP2_WATCHDOG_SCRATCH1] == 0  # once: the next reset runs the app
    assert clock.now_us >= (2_000_000 if how != "asked" else 0)


def test_a_maintenance_boot_feeds_a_watchdog_a_soft_reset_left_running(monkeypatch, tmp_path):
    def setup(machine):
        machine.mem32[fake_machine.RP2_WATCHDOG_CTRL] = 1 << 30
        _maintenance_asked(machine)

    machine, printed = _run_main(monkeypatch, tmp_path, load_config("rp2040_pico"), setup=setup)
    assert printed == _MAINTENANCE_LINE
    assert [w.timeout for w in machine.wdts] == [8000] and [t.period for t in machine.timers] == [100]
    machine.timers[0].callback(machine.timers[0])
    assert machine.wdts[0].fed == 1


@pytest.mark.parametrize("reason", [1, 2])  # the watchdog's TIMER, FORCE (machine.reset)
def test_the_button_held_through_a_reset_in_a_session_starts_the_app(reason, monkeypatch, tmp_path):
    """Only a power-on with the button held is a maintenance boot: a user holding the button
    (a long press stops a session) when the watchdog or a software reset reboots the chip gets
    the app, as after any reset."""
    cfg = load_config("rp2040_pico")

    def setup(machine):
        machine.mem32[fake_machine.RP2_WATCHDOG_REASON] = reason
        machine.levels[cfg.BUTTON_PIN] = 0

    machine, printed = _run_main(monkeypatch, tmp_path, cfg, setup=setup)
    assert printed == "" and [w.timeout for w in machine.wdts] == [250]


def test_a_second_board_on_a_port_gets_its_own_hal(monkeypatch, tmp_path):
    """Same platform, another name: main.py goes by the name, not by sys.platform."""
    cfg = load_config("rp2040_pico")  # an RP2040 board ...
    monkeypatch.setattr(sys, "platform", "esp32")  # ... whatever the port says
    machine, printed = _run_main(monkeypatch, tmp_path, cfg)
    assert printed == "" and ("pwm", cfg.SETPOINT_PIN, 0) in machine.events  # the RP2040's PWM setpoint


def test_main_names_an_unknown_board_and_touches_no_pin(monkeypatch, tmp_path):
    cfg = load_config("esp32_devkitc")
    cfg.NAME = "esp32_s3_custom"
    machine, printed = _run_main(monkeypatch, tmp_path, cfg)
    assert printed == ("main.py: no HAL for board_config.NAME 'esp32_s3_custom' "
                       "(known: esp32_devkitc, rp2040_pico, rp2040_picow, sim)\n")
    assert machine.events == [] and machine.wdts == []


def test_main_knows_the_hal_of_every_deployable_board():
    """main.HALS and firmware_build.BOARDS: each board's board_config NAME has a HAL in main.py,
    and deploy puts that HAL's module on the board."""
    import ast

    from host_tools import firmware_build

    with open(os.path.join(paths.FIRMWARE, "main.py")) as f:
        tree = ast.parse(f.read())
    hals = next(ast.literal_eval(node.value) for node in tree.body
                if isinstance(node, ast.Assign) and node.targets[0].id == "HALS")
    for name, b in firmware_build.BOARDS.items():
        spec = importlib.util.spec_from_file_location("cfg_" + name, os.path.join(paths.ROOT, b.config))
        cfg = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(cfg)
        assert name == cfg.NAME
        deployed = [dev for _, dev in firmware_build.sources(b)]
        assert "board_config.py" in deployed
        assert hals[name].replace(".", "/") + ".py" in deployed, (name, hals[name])
    assert sorted(hals) == sorted(firmware_build.BOARDS)
