"""The production image (make uf2, host_tools/uf2_build.py): roller/ and hal/ frozen into the rp2
MicroPython for the Pico, booted on the emulated Pico (rp2040js, docs/emulation.md).

Every frozen @micropython.native and @micropython.viper function is called on the emulated chip,
which faults on a misaligned word load as the Cortex-M0+ does: the guard against the alignment
defect of MicroPython v1.28.0's mpy-tool.py (docs/frozen-native-alignment.md). The slow test
proves the guard fails on the kit's unpatched (NO_PATCH=1) build. Then deploy (only the
file-system files), hil, and the self-test (R10) against a flipped byte and a foreign identity.
"""
import ast
import glob
import hashlib
import json
import os
import select
import signal
import subprocess
import tempfile
import threading
import time

import pytest

from host_tools import device, emu_link, firmware_build, paths, serial_link, uf2_build

PYTHON = os.path.join(os.path.dirname(paths.micropython_exe()), "python")
MISSING = uf2_build.missing() or emu_link.missing()
pytestmark = pytest.mark.skipif(MISSING is not None, reason="frozen image on the emulated Pico: %s" % MISSING)
_BOOT_S = 60
_DECORATORS = ("native", "viper")


def frozen_functions():
    """(module, class or None, name, kind) of every native/viper function in the frozen sources
    that a module or class attribute reaches, and the nested ones (closures) as a second list."""
    reachable, nested = [], []
    for path in sorted(glob.glob(os.path.join(paths.FIRMWARE, "roller", "*.py"))
                       + glob.glob(os.path.join(paths.FIRMWARE, "hal", "*.py"))):
        module = os.path.relpath(path, paths.FIRMWARE)[:-3].replace("/", ".")
        tree = ast.parse(open(path).read())

        todo = [(tree, None, 0)]
        while todo:
            node, owner, depth = todo.pop(0)
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.ClassDef):
                    todo.append((child, child.name, depth))
                elif isinstance(child, ast.FunctionDef):
                    kinds = [d.attr for d in child.decorator_list
                             if isinstance(d, ast.Attribute) and d.attr in _DECORATORS]
                    if kinds:
                        (nested if depth else reachable).append((module, owner, child.name, kinds[0]))
                    todo.append((child, owner, depth + 1))
    return reachable, nested


# Device side: call each function with nine arguments, more than any takes. A native function's
# entry reads its prelude word (mp_setup_code_state_native) before it checks its arguments: a
# TypeError means the call went through; a misaligned word stops the chip (the emulator exits).
_CALL_ALL = """for m, c, n in %r:
    o = __import__(m, None, None, ('_',))
    f = getattr(getattr(o, c) if c else o, n)
    try:
        f(0, 0, 0, 0, 0, 0, 0, 0, 0)
        print('called', m, c, n)
    except TypeError:
        print('ok', m, c, n)
"""


class Emu:
    """`emu --uf2 IMAGE` on a flash file (uf2 None: the stock MicroPython): its pty path."""

    def __init__(self, uf2, flash, *more):
        image = ["--uf2", uf2] if uf2 else []
        command = [PYTHON, "-m", "host_tools", "emu", *image, "--flash", str(flash), *more]
        # stderr to a file: a pipe nobody reads until the end could fill and stop the emulator
        self._err = tempfile.TemporaryFile("w+")
        self.proc = subprocess.Popen(command, cwd=paths.ROOT, stdout=subprocess.PIPE, stderr=self._err,
                                     text=True, start_new_session=True)
        ready, _, _ = select.select([self.proc.stdout], [], [], 30)
        assert ready, "emu printed no device path"
        self.port = self.proc.stdout.readline().strip()
        assert self.port.startswith("/dev/"), self.port + self.stop()

    def stop(self):
        """Stop it; returns what it said on stderr."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(15)
        self.proc.stdout.close()
        self._err.seek(0)
        err = self._err.read()
        self._err.close()
        return err


def _mpremote(port, *args, timeout=300):  # an emulator on a loaded machine runs at 0.1x
    """mpremote reads without a timeout in places (raw paste): a device that stops answering
    would hold it for ever, so it is bounded here, and says so in one line."""
    try:
        return subprocess.run([paths.tool_exe("mpremote"), "connect", port, "resume", *args],
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail("mpremote %s: no answer from %s within %d s" % (" ".join(args)[:60], port, timeout))


def _exec(port, code):
    proc = _mpremote(port, "exec", code)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def _cli(*args):
    proc = subprocess.run([PYTHON, "-m", "host_tools", *args], cwd=paths.ROOT, capture_output=True,
                          text=True, timeout=300)
    return proc.returncode, proc.stdout + proc.stderr


def _deploy(port, out):
    """deploy into a build folder of its own (tests run in parallel)."""
    return _cli("deploy", "--board", "rp2040_pico", "--port", port, "--out", str(out))


def _image(patched):
    try:
        rec = uf2_build.build(patched=patched, log=lambda line: None)
    except uf2_build.BuildError as exc:
        pytest.fail("make uf2: %s" % exc)
    return os.path.join(paths.ROOT, rec["uf2"]), rec


def test_every_native_and_viper_function_is_found():
    reachable, nested = frozen_functions()
    kinds = {kind for *_, kind in reachable}
    assert kinds == {"native", "viper"} and len(reachable) >= 10, reachable
    assert ("roller.app", "App", "service", "native") in reachable
    assert nested == [("roller.app", None, "tick", "viper")]  # reached through app.tick() by hil


def _native_code(elf):
    """{symbol: address} of the frozen firmware's machine code (native and viper functions'
    fun_data, which mpy-tool places in .text) in an ELF from make uf2."""
    nm = subprocess.run(["arm-none-eabi-nm", elf], capture_output=True, text=True, check=True).stdout
    return {name: int(addr, 16) for addr, kind, name in (line.split() for line in nm.splitlines() if
                                                          len(line.split()) == 3)
            if kind in "tT" and name.startswith(("fun_data_roller_", "fun_data_hal_"))}


def test_every_frozen_native_function_is_word_aligned():
    """The static half of the guard: each function's first word (the prelude index) is loaded
    as a word, so its fun_data must be word aligned (docs/frozen-native-alignment.md)."""
    uf2, _ = _image(True)
    code = _native_code(uf2[:-len(".uf2")] + ".elf")
    reachable, nested = frozen_functions()
    assert len(code) == len(reachable) + len(nested), sorted(code)
    assert {name: hex(addr) for name, addr in code.items() if addr % 4} == {}


def test_image_fits_the_flash_layout_and_names_its_build():
    uf2, rec = _image(True)
    assert os.path.basename(uf2) == "roller-rp2040_pico-%s.uf2" % firmware_build.firmware_version()
    assert uf2_build.verified(uf2) and rec["patched"]
    assert 0 < rec["image_bytes"] <= rec["image_limit_bytes"] == 640 * 1024
    assert rec["source_sha256"] == firmware_build.frozen_source_sha256(firmware_build.board("rp2040_pico"))
    assert "bytes left" in uf2_build.size_line(rec)


def test_frozen_image_on_the_emulated_pico(tmp_path):
    uf2, rec = _image(True)
    emu = Emu(uf2, tmp_path / "flash.bin")
    try:
        # a clean chip: the app runs (stopped here), the frozen roller, its identity, an empty littlefs
        out = _exec(emu.port, "import os, roller, roller_build\n"
                    "print(roller.__file__, roller_build.VERSION, roller_build.SOURCE_SHA256, os.listdir())")
        assert out.split()[:3] == ["roller/__init__.py", rec["version"], rec["source_sha256"]], out
        assert "board_config" not in out and "main.py" not in out, out  # the store's files at most
        reachable, _ = frozen_functions()
        out = _exec(emu.port, _CALL_ALL % ([(m, c, n) for m, c, n, _ in reachable],))
        assert out.split("\n")[:-1] == ["ok %s %s %s" % f[:3] for f in reachable], out
        # deploy puts only board_config and the manifest (with the `.frozen` line)
        code, text = _deploy(emu.port, tmp_path / "fs")
        assert code == 0 and "frozen image of these sources" in text, text
        assert "answers info with firmware %s" % rec["version"] in text, text
        code, text = _cli("hil", "--port", emu.port)
        assert code == 0 and "hil: all checks passed" in text, text
        _integrity_checks(emu.port, rec["source_sha256"])
    finally:
        err = emu.stop()
    assert "error" not in err, err


class Bench:
    """The image on the emulated Pico in this process, with a hand on the button: the emulator
    and the pty bridge of `emu` (host_tools/cmd_emu.py), served from a thread."""

    def __init__(self, uf2, flash, load_ohm=0, button=False):
        from host_tools.cmd_emu import Bridge
        from host_tools.emu_link import FrontEnd, Pico

        self.enabled = []  # (us, level) of each edge of the output-enable pin
        self.pico = Pico(str(flash), FrontEnd(load_ohm), uf2=uf2, paced=True,
                         on_enable=lambda us, level: self.enabled.append((us, level)))
        self.pico.front_end.button = button  # held from power-on
        self.bridge = Bridge(self.pico)
        self.port = self.bridge.path
        self._stop = []
        self.pico.start()
        self._thread = threading.Thread(target=self.bridge.serve, args=(lambda: self._stop,), daemon=True)
        self._thread.start()

    def _wait_device_ms(self, ms):
        end_ms, end = self.pico.ms + ms, time.monotonic() + _BOOT_S
        while self.pico.ms < end_ms and time.monotonic() < end:
            time.sleep(0.02)

    def click(self):
        self.pico.front_end.button = True
        self._wait_device_ms(150)  # past the debounce, short of a long press
        self.pico.front_end.button = False

    def led(self):
        return self.pico.front_end.pins[4:7]

    def stop(self):
        self._stop.append(1)
        self._thread.join(15)
        self.pico.stop()


def test_the_uf2_alone_runs_the_app_on_a_blank_pico(tmp_path):
    """(issue 16) An end user drags the release UF2 onto a Pico with erased flash: the app
    answers, uncalibrated (the board's nominal board_config frozen in), and a click starts it."""
    uf2, rec = _image(True)
    bench = Bench(uf2, tmp_path / "flash.bin")  # no file: erased flash with the UF2 laid in
    try:
        link, info = _app(bench.port)
        try:
            assert info["fw"] == rec["version"] and info["calibrated"] is False, info
            assert _settled(link, ("OFF",)) == "OFF"
            bench.click()
            assert _settled(link, ("STANDBY", "FAULT")) == "STANDBY"  # electrodes open: waiting
            status = link.request({"cmd": "status"}, 10)
            assert status["selftest"]["result"] == "passed" and status["fault"] is None, status
            assert status["calibrated"] is False, status
            end = time.monotonic() + _BOOT_S
            while not (bench.led()[0] == 0 and bench.led()[2] > 0) and time.monotonic() < end:
                time.sleep(0.05)  # standby breathes blue
            assert bench.led()[0] == 0 and bench.led()[2] > bench.led()[1] > 0, bench.led()
        finally:
            link.close()
    finally:
        bench.stop()


def test_maintenance_boot_on_the_emulated_pico(tmp_path):
    """(issue 16) The button held from power-on, or the host's request before a reset (once):
    the frozen main.py ends at the REPL without the app, the output never enabled, the LED steady
    cyan; the next reset starts the app. A reset with the button released starts it too."""
    from host_tools import perf_frozen

    uf2, _ = _image(True)
    bench = Bench(uf2, tmp_path / "flash.bin", button=True)
    try:
        bench._wait_device_ms(3000)  # boot, and the 2 s hold: a host's Ctrl-C would end it early
        assert bench.led() == (0, 65535, 65535), bench.led()
        assert _exec(bench.port, perf_frozen._UP).split() == ["up", "False"]  # roller.app not imported
        bench.pico.front_end.button = False
        assert _mpremote(bench.port, "reset").returncode == 0
        link, _ = _app(bench.port)
        link.close()
        perf_frozen.maintenance_reset(bench.port)  # waits for main.py's line
        assert _exec(bench.port, perf_frozen._UP).split() == ["up", "False"]
        assert bench.led() == (0, 65535, 65535), bench.led()
        assert _mpremote(bench.port, "reset").returncode == 0  # the request held for one reset
        link, info = _app(bench.port)
        link.close()
    finally:
        bench.stop()
    assert [level for _, level in bench.enabled] == [False] * len(bench.enabled), bench.enabled


_CHECK = ("from hal.common import Flash\nfrom roller.integrity import Checker\n"
          "c = Checker(Flash())\nwhile c.step():\n    pass\nprint('failed:', c.failed)")
_EDIT = """def edit(path, fn):
    with open(path, 'rb') as f:
        data = f.read()
    with open(path, 'wb') as f:
        f.write(fn(data))
"""
_FLIP = "edit(%r, lambda d: d[:%d] + bytes([d[%d] ^ 1]) + d[%d + 1:])"


def _integrity_checks(port, source_sha256):
    assert _exec(port, _CHECK).split() == ["failed:", "None"]
    listing = _exec(port, "import os\nprint(sorted(os.listdir()))")
    for name in ("roller", "hal", "main.py", "boot.py"):  # all in the image
        assert "'%s'" % name not in listing, listing
    assert "'board_config.mpy'" in listing, listing
    manifest = _exec(port, "print(open('manifest.sha256').read())")
    assert "%s  .frozen" % source_sha256 in manifest, manifest
    assert _exec(port, _EDIT + _FLIP % ("board_config.mpy", 40, 40, 40) + "\n" + _CHECK).split() == [
        "failed:", "board_config.mpy"]
    _exec(port, _EDIT + _FLIP % ("board_config.mpy", 40, 40, 40))  # flipped back
    # what a deploy onto an older image left: its `.frozen` line, main.py and boot.py (which the
    # image's own frozen ones outrank): the unit keeps working, and those files are still checked
    lines = "".join("%s  %s\n" % (hashlib.sha256(open(os.path.join(paths.FIRMWARE, n), "rb").read())
                                  .hexdigest(), n) for n in ("main.py", "boot.py"))
    for name in ("main.py", "boot.py"):
        assert _mpremote(port, "fs", "cp", os.path.join(paths.FIRMWARE, name), ":" + name).returncode == 0
    _exec(port, _EDIT + "edit('manifest.sha256', lambda d: d.replace(%r, %r) + %r)" % (
        source_sha256.encode(), b"0" * 64, lines.encode()))
    assert _exec(port, _CHECK).split() == ["failed:", "None"]
    flipped = _exec(port, _EDIT + _FLIP % ("boot.py", 10, 10, 10) + "\n" + _CHECK)
    assert flipped.split() == ["failed:", "boot.py"]
    _exec(port, _EDIT + _FLIP % ("boot.py", 10, 10, 10))
    # end to end: a flipped calibration byte, and the self-test stops the app after a reset
    _exec(port, _EDIT + _FLIP % ("board_config.mpy", 40, 40, 40))
    status = _selftest_after_reset(port)
    assert status.get("state") == "FAULT", status
    assert status["selftest"] == {"result": "failed", "reason": "integrity: board_config.mpy"}, status
    _exec(port, _EDIT + _FLIP % ("board_config.mpy", 40, 40, 40))
    # a flipped byte in the unit's NAME: no HAL by that name, yet the app runs (on the nominal
    # board) and its self-test stops it in FAULT, where the host reads it
    _exec(port, _EDIT + "edit('board_config.mpy', lambda d: d.replace(b'rp2040_pico', b'rp2040_pibo', 1))")
    assert _exec(port, "print(b'rp2040_pibo' in open('board_config.mpy', 'rb').read())").split() == ["True"]
    status = _selftest_after_reset(port)
    assert status.get("state") == "FAULT", status
    assert status["selftest"] == {"result": "failed", "reason": "integrity: board_config.mpy"}, status
    assert status["fault"] == "SELFTEST", status


def _app(port):
    """(Link, info) once the app answers, with any answer a slow boot kept queued read off (a
    probe sent while the chip reset is answered later)."""
    link, info = device.wait_for_app(port, _BOOT_S)
    while link.read_line(2) is not None:
        pass
    return link, info


def _selftest_after_reset(port):
    """Reset the board, run the self-test; the status once it is over."""
    assert _mpremote(port, "reset").returncode == 0
    link, info = _app(port)
    try:
        assert link.request({"cmd": "selftest"}, 10).get("state") == "SELFTEST"
        end = time.monotonic() + _BOOT_S
        while True:
            status = link.request({"cmd": "status"}, 10)
            if status.get("state") != "SELFTEST" or time.monotonic() > end:
                break
            time.sleep(0.5)
    finally:
        link.close()
    return status


def test_a_new_uf2_over_an_older_deploy_keeps_its_calibration_and_store(tmp_path):
    """(issue 16) A Pico deployed the older way (the stock MicroPython, the firmware as .mpy on
    littlefs, its board_config and settings there), updated by dragging the release UF2 onto it
    (`emu --update`): the new image runs (its frozen code, not the stale .mpy files), keeps the
    calibration and the store, and passes its self-test; the calibration is still checked."""
    uf2, rec = _image(True)
    flash = tmp_path / "flash.bin"
    emu = Emu(None, flash)
    try:
        code, text = _deploy(emu.port, tmp_path / "fs")
        assert code == 0, text
        link, _ = device.wait_for_app(emu.port, _BOOT_S)
        try:
            assert link.request({"cmd": "set", "level": 3, "program": "eye"}, 10)["ok"]
            _wait_device_s(link, 1.5)  # the store writes the settings (at most once a second)
            before = link.request({"cmd": "log"}, 10)
        finally:
            link.close()
        calibration = _exec(emu.port, "import hashlib, binascii\n"
                            "print(binascii.hexlify(hashlib.sha256(open('board_config.mpy','rb').read())"
                            ".digest()).decode())").strip()
    finally:
        emu.stop()
    emu = Emu(uf2, flash, "--update")
    try:
        link, info = _app(emu.port)
        try:
            assert info["fw"] == rec["version"] and info["calibrated"] is True, info
            settings = link.request({"cmd": "status"}, 10)
            assert (settings.get("level"), settings.get("program")) == (3, "eye"), settings
            log = link.request({"cmd": "log"}, 10)
            assert log["boot"] == before["boot"] + 1 and log["entries"][:len(before["entries"])] == before[
                "entries"], (before, log)
        finally:
            link.close()
        status = _selftest_after_reset(emu.port)
        assert status["state"] == "OFF" and status["selftest"]["result"] == "passed", status
        out = _exec(emu.port, "import os, hashlib, binascii, roller\nprint(roller.__file__, 'roller' in "
                    "os.listdir(), binascii.hexlify(hashlib.sha256(open('board_config.mpy','rb').read())"
                    ".digest()).decode())")
        assert out.split() == ["roller/__init__.py", "True", calibration], out  # frozen, stale files beside
        assert _exec(emu.port, _EDIT + _FLIP % ("board_config.mpy", 40, 40, 40) + "\n" + _CHECK).split() == [
            "failed:", "board_config.mpy"]
    finally:
        err = emu.stop()
    assert "error" not in err, err


@pytest.mark.slow
def test_the_guard_fails_on_the_unpatched_kit(tmp_path):
    """NO_PATCH=1: stock mpy-tool.py leaves frozen native code 2-byte aligned; calling it stops
    the emulated chip on the misaligned prelude load, as a HardFault stops a Pico."""
    uf2, rec = _image(False)
    assert not rec["patched"]
    code = _native_code(uf2[:-len(".uf2")] + ".elf")
    assert [name for name, addr in code.items() if addr % 4], "the stock layout happens to be aligned"
    emu = Emu(uf2, tmp_path / "flash.bin")
    try:
        reachable, _ = frozen_functions()
        proc = _mpremote(emu.port, "exec", _CALL_ALL % ([(m, c, n) for m, c, n, _ in reachable],), timeout=60)
        assert proc.returncode != 0, proc.stdout
    finally:
        err = emu.stop()
    assert "not 32 bit aligned" in err, err


# The serial lines of the `protocol` scenario (host_tools/scenarios/protocol.json) that need no
# skin, power or flash event: good and bad requests, a session on the dummy load, bench mode,
# the log and a check-only self-test.
_SCRIPT = [line for line in (e.get("serial") for e in json.load(open(os.path.join(
    paths.ROOT, "host_tools", "scenarios", "protocol.json")))["events"]) if line]
# what follows the wall clock: the load's reading, the session's clock, log times, the session
# count (STANDBY also ends a session after 120 s, which a slower run reaches first), the device's
# clock, and the LED (a cue's flash or the week's signal shows for a while in RUN)
_VOLATILE = ("ohm", "battery_v", "session_s", "elapsed_s", "stim_s", "sessions", "t", "ms", "uptime_s",
             "wall_s", "unix", "led")


def _settled(link, want, timeout_s=_BOOT_S):
    """Poll `status` until its state is in `want`; returns that state (the ones passed on the way
    depend on how fast the emulator runs)."""
    end = time.monotonic() + timeout_s
    while True:
        answer = link.request({"cmd": "status"}, 10)
        state = answer.get("state", answer.get("error"))
        if state in want or time.monotonic() > end:
            return state
        time.sleep(0.2)


# where each request that changes the state leads, once its ramps and checks are over
_LEADS_TO = {"start": ("RUN", "FAULT"), "bench": ("RUN", "FAULT"), "selftest": ("OFF", "STANDBY", "FAULT"),
             "stop": ("OFF", "STANDBY", "DONE", "FAULT")}


def _wait_device_s(link, seconds):
    """Let `seconds` of the device's own time pass (telemetry "t"), whatever the wall clock does."""
    assert link.request({"cmd": "stream", "on": True}, 10)["ok"]
    first = None
    end = time.monotonic() + 20 * seconds + _BOOT_S
    while time.monotonic() < end:
        doc = serial_link.parse(link.read_line(10) or "")
        if isinstance(doc, dict) and "t" in doc:
            first = doc["t"] if first is None else first
            if doc["t"] - first >= seconds:
                break
    assert link.request({"cmd": "stream", "on": False}, 10)["ok"]


# a flipped bit in the manifest's hash of the calibration: the file loads on both builds (a
# flipped byte in the file itself may cost the deployed build's boot.py a name it needs)
_FLIP_HASH = ("edit('manifest.sha256', lambda d: b''.join(bytes([l[0] ^ 1]) + l[1:] "
              "if l.rstrip().endswith(b'board_config.mpy') else l for l in d.splitlines(True)))")


def _story(port):
    """What the app answers to _SCRIPT and to a calibration its manifest does not vouch for, with
    the fields that follow the wall clock left out: the same for the same firmware, whatever image
    holds it."""
    def plain(doc):
        if isinstance(doc, dict):
            return {k: plain(v) for k, v in doc.items() if k not in _VOLATILE}
        return [plain(v) for v in doc] if isinstance(doc, list) else doc

    story = []
    link, info = device.wait_for_app(port, _BOOT_S)
    try:
        story.append(plain(info))
        for line in _SCRIPT:
            answer = link.request(line, 10)
            story.append(plain(answer))
            cmd = serial_link.parse(line)
            if answer["ok"] and cmd["cmd"] in _LEADS_TO:
                story.append(_settled(link, _LEADS_TO[cmd["cmd"]]))
        story.append(_settled(link, ("OFF", "STANDBY", "FAULT")))
        _wait_device_s(link, 1.5)  # the store writes the last `set` (at most once a second)
    finally:
        link.close()
    _exec(port, _EDIT + _FLIP_HASH)
    assert _mpremote(port, "reset").returncode == 0
    link, _ = device.wait_for_app(port, _BOOT_S)
    try:
        story.append(plain(link.request({"cmd": "selftest"}, 10)))
        story.append(_settled(link, _LEADS_TO["selftest"]))
        story.append(plain(link.request({"cmd": "status"}, 10)))
        story.append(plain(link.request({"cmd": "log"}, 10)))
    finally:
        link.close()
    return story


@pytest.mark.slow
def test_frozen_and_deployed_answer_alike(tmp_path):
    """The frozen image and the stock UF2 with the firmware deployed as .mpy, on the emulated
    Pico with the real HAL: the same answers over the serial protocol (C4) to the protocol
    scenario's requests, and the same self-test fault after a flipped byte (R10)."""
    uf2, _ = _image(True)
    stories = {}
    for name, image in (("frozen", uf2), ("deployed", None)):
        emu = Emu(image, tmp_path / (name + ".bin"))  # every wait in it is bounded
        try:
            code, text = _deploy(emu.port, tmp_path / name)
            assert code == 0, text
            stories[name] = _story(emu.port)
        finally:
            err = emu.stop()
        assert "error" not in err, err
    assert stories["frozen"] == stories["deployed"]
    assert stories["frozen"][-3] == "FAULT", stories["frozen"]
    assert stories["frozen"][-2]["selftest"] == {"result": "failed", "reason": "integrity: board_config.mpy"}


def test_perf_figures_are_cached_by_what_they_depend_on(tmp_path, monkeypatch):
    """`perf` reads the frozen/deployed figures from build/perf/rp2040-<key>.json while the images,
    the sources and the measurement stay the same (two emulator runs take minutes)."""
    from host_tools import cmd_perf, perf_frozen

    uf2, _ = _image(True)
    monkeypatch.setattr(perf_frozen, "CACHE", str(tmp_path))

    def one(heap, run_us):
        return {"heap_after_imports_bytes": heap - 6000, "heap_after_boot_bytes": heap,
                "tick_us": {"OFF": 200.0, "STANDBY": 250.0, "RUN": run_us}, "imports_and_app_ms": 1.0,
                "start_to_standby_ms": 2.0}

    figures = {"frozen": one(24_000, 100.0), "deployed": one(76_000, 95.0)}
    figures["run_tick_frozen_vs_deployed"] = 1.053
    with open(perf_frozen.cache_path(uf2), "w") as f:
        json.dump(figures, f)
    got = perf_frozen.report()
    assert got.pop("cached").endswith(os.path.basename(perf_frozen.cache_path(uf2))) and got == figures
    assert perf_frozen.missing_figures(got) == []
    assert _frozen_targets(got) == {"frozen_heap_kb": True, "frozen_run_tick_vs_deployed": True}
    got["frozen"]["heap_after_boot_bytes"] = 33 * 1024
    got["run_tick_frozen_vs_deployed"] = 1.11
    assert _frozen_targets(got) == {"frozen_heap_kb": False, "frozen_run_tick_vs_deployed": False}
    assert "rp2040 frozen" in cmd_perf.format_report(dict(_QUICK_STUB, rp2040=got, targets={}))
    key = perf_frozen.cache_path(uf2)
    monkeypatch.setattr(perf_frozen, "_MEASURE", perf_frozen._MEASURE + "\n")
    assert perf_frozen.cache_path(uf2) != key  # another measurement: measured again


def test_perf_names_each_missing_frozen_figure():
    """`perf --json`'s rp2040.frozen must hold issue 16's figures: any one missing, or the image
    not measured at all, is named, and the targets count as not met."""
    from host_tools import cmd_perf, perf_frozen

    def one():
        return {"heap_after_imports_bytes": 18_000, "heap_after_boot_bytes": 24_000,
                "imports_and_app_ms": 1.0, "start_to_standby_ms": 2.0,
                "tick_us": {"OFF": 200.0, "STANDBY": 250.0, "RUN": 270.0}}

    full = {"frozen": one(), "deployed": one(), "run_tick_frozen_vs_deployed": 1.0}
    assert perf_frozen.missing_figures(full) == []
    for name in perf_frozen.FIGURES:
        gap = json.loads(json.dumps(full))
        del gap["frozen"][name]
        assert perf_frozen.missing_figures(gap) == ["frozen." + name]
    for state in perf_frozen.TICK_STATES:
        gap = json.loads(json.dumps(full))
        del gap["deployed"]["tick_us"][state]
        assert perf_frozen.missing_figures(gap) == ["deployed.tick_us." + state]
    skipped = {"frozen": {"skipped": "the Pico did not come back"}}
    assert perf_frozen.missing_figures(skipped)[0] == "frozen: the Pico did not come back"
    assert _frozen_targets(skipped) == {"frozen_heap_kb": False, "frozen_run_tick_vs_deployed": False}
    assert "not measured: frozen: the Pico" in cmd_perf.format_report(dict(_QUICK_STUB, rp2040=skipped,
                                                                            targets={}))


# what cmd_perf.targets() and format_report() read besides rp2040
_QUICK_STUB = {"tick_vs_empty_loop": {"by_instructions": None, "by_us": {"RUN_lift": 1.0},
                                      "empty_loop_us": 1.0, "empty_loop_instructions": None},
               "tick_us": {"RUN_lift": 1.0}, "tick_instructions": None, "tick_estimate_us": None,
               "min_heapsize_kb": 100, "heap_after_boot_bytes": 1, "mpy_bytes": {"rp2040": 1},
               "alloc_free": {"all": True, "ticks_per_state": 1}, "sim_realtime_factor": {"micropython": 1.0},
               "sim_scenario": "demo"}


def _frozen_targets(rp2040):
    from host_tools import cmd_perf

    met = cmd_perf.targets(dict(_QUICK_STUB, rp2040=rp2040))
    return {k: v for k, v in met.items() if k.startswith("frozen")}


@pytest.mark.slow
def test_perf_measures_the_frozen_image_against_the_deployed_build():
    """`python -m host_tools.perf_frozen`: both on the emulated Pico, in emulated time (cycles),
    the frozen image through its maintenance boot. Issue 16's targets: heap after boot <= 32 KB
    frozen, RUN tick within 10 % of deployed."""
    from host_tools import perf_frozen

    proc = subprocess.run([PYTHON, "-m", "host_tools.perf_frozen"], cwd=paths.ROOT, capture_output=True,
                          text=True, timeout=1800)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    r = json.loads(proc.stdout)
    assert perf_frozen.missing_figures(r) == [], r
    for name in ("frozen", "deployed"):
        assert set(r[name]["tick_us"]) >= {"OFF", "SELFTEST", "STANDBY", "RUN"}, r
        assert 0 < r[name]["start_to_standby_ms"] < 1000 and r[name]["imports_and_app_ms"] > 0, r
    assert r["frozen"]["heap_after_boot_bytes"] <= 32 * 1024 < r["deployed"]["heap_after_boot_bytes"], r
    assert r["run_tick_frozen_vs_deployed"] <= 1.10, r
