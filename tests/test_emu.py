"""`emu`: the rp2 MicroPython on an emulated Pico (rp2040js). Bad input gives one line; the CI
check boots a clean flash image, deploys the real firmware for rp2040_pico through mpremote onto
littlefs, runs `hil` against the real HAL with the co-simulated front end, and finds the deploy
still there after a restart of the emulator. Skipped in one line without ../shared/micropython
or Node (docs/emulation.md)."""
import os
import select
import shutil
import signal
import subprocess
import time

import pytest

from host_tools import device, emu_link, paths

PYTHON = os.path.join(os.path.dirname(paths.micropython_exe()), "python")
MISSING = emu_link.missing()
needs_emu = pytest.mark.skipif(MISSING is not None, reason="emulated Pico: %s" % MISSING)
_BOOT_S = 60


def _emu_fails(*args, env=None):
    proc = subprocess.run([PYTHON, "-m", "host_tools", "emu", *args], cwd=paths.ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    lines = proc.stderr.splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and lines[0].startswith("emu: error: "), proc.stderr
    assert proc.stdout == ""  # no device path for a device that never ran
    return lines[0]


def test_altered_uf2_is_refused(tmp_path):
    uf2 = tmp_path / "pico.uf2"
    uf2.write_bytes(b"\0" * 512)
    assert "not the pinned build" in _emu_fails("--uf2", str(uf2), "--flash", str(tmp_path / "f.bin"))
    assert "not found" in _emu_fails("--uf2", str(tmp_path / "none.uf2"))


@needs_emu
def test_foreign_flash_image_is_refused(tmp_path):
    flash = tmp_path / "flash.bin"
    flash.write_bytes(b"\xff" * 1000)
    assert "not a Pico flash image" in _emu_fails("--flash", str(flash))
    flash.write_bytes(b"\0" * emu_link.FLASH_BYTES)  # right size, another firmware
    assert "holds another firmware" in _emu_fails("--flash", str(flash))
    flash.write_bytes(b"\xff" * 1000)
    assert "not a Pico flash image" in _emu_fails("--update", "--flash", str(flash))


@needs_emu
def test_update_writes_the_uf2_and_keeps_the_rest(tmp_path):
    """`emu --update`: the UF2's sectors erased and written, as the boot ROM does for a UF2 dragged
    onto the BOOTSEL drive; what lies beyond (littlefs) stays."""
    uf2 = emu_link.uf2_path()
    blocks = emu_link.uf2_blocks(uf2)
    end = max(offset + len(payload) for offset, payload in blocks)
    image = bytearray(b"\x5a" * emu_link.FLASH_BYTES)
    flash = tmp_path / "flash.bin"
    flash.write_bytes(bytes(image))
    emu_link.prepare_flash(str(flash), uf2, update=True)
    got = flash.read_bytes()
    assert all(got[offset:offset + len(payload)] == payload for offset, payload in blocks)
    sector_end = -(-end // 4096) * 4096
    assert set(got[end:sector_end]) <= {0xff} and got[sector_end:] == bytes(image[sector_end:])
    emu_link.prepare_flash(str(flash), uf2)  # it now holds this UF2


@needs_emu
def test_missing_node_is_one_line(tmp_path):
    env = dict(os.environ, PATH=os.path.dirname(PYTHON))  # the venv only: no node
    assert "node not found" in _emu_fails("--flash", str(tmp_path / "f.bin"), env=env)


def test_the_bench_probe_moves_the_load_and_usb():
    """`perf --rp2040` walks the states through the probe (boards/rp2040_pico/emu_perf.py): the
    skin and USB change as asked; telemetry and malformed lines change nothing."""
    from host_tools.cmd_emu import bench

    front = emu_link.FrontEnd(20_000)
    model = front.model
    for line in ("state RUN 3 lift", "bench skin", "bench skin x", "bench usb 1 2", "bench lamp 1"):
        bench(front, line)
        assert (model.skin_ohm, model.usb) == (20_000, False), line
    bench(front, "bench skin 0")
    bench(front, "bench usb 1")
    assert (model.skin_ohm, model.usb) == (0, True)
    bench(front, "bench skin 4700")
    bench(front, "bench usb 0")
    assert (model.skin_ohm, model.usb) == (4700, False)


class Emu:
    """A running `emu` on a flash file: its pty path, and its Node child."""

    def __init__(self, flash):
        self.proc = subprocess.Popen([PYTHON, "-m", "host_tools", "emu", "--flash", str(flash)],
                                     cwd=paths.ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, start_new_session=True)
        ready, _, _ = select.select([self.proc.stdout], [], [], 30)
        assert ready, "emu printed no device path"
        self.port = self.proc.stdout.readline().strip()
        assert self.port.startswith("/dev/"), self.port

    def node_pids(self):
        out = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True).stdout
        return [int(p) for p in out.split()]

    def stop(self, sig=signal.SIGTERM):
        children = self.node_pids()
        self.proc.send_signal(sig)
        self.proc.wait(15)
        self.proc.stdout.close()
        self.proc.stderr.close()
        end = time.monotonic() + 10
        while any(os.path.exists("/proc/%d" % pid) for pid in children) and time.monotonic() < end:
            time.sleep(0.1)
        return [pid for pid in children if os.path.exists("/proc/%d" % pid)]


def _cli(*args):
    proc = subprocess.run([PYTHON, "-m", "host_tools", *args], cwd=paths.ROOT, capture_output=True,
                          text=True, timeout=300)
    return proc.returncode, proc.stdout + proc.stderr


def _mpremote(port, code):
    proc = subprocess.run([paths.tool_exe("mpremote"), "connect", port, "resume", "exec", code],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@needs_emu
@pytest.mark.skipif(shutil.which("pgrep") is None, reason="pgrep missing")
def test_deploy_and_hil_on_the_emulated_pico(tmp_path):
    flash = tmp_path / "flash.bin"
    emu = Emu(flash)
    try:
        assert emu.node_pids(), "no emulator process"
        # a clean chip: MicroPython for rp2 (armv6m .mpy), littlefs empty
        out = _mpremote(emu.port, "import os, sys\n"
                        "print(sys.platform, sys.implementation._mpy >> 10, os.listdir())")
        assert out.split() == ["rp2", "4", "[]"], out
        code, text = _cli("deploy", "--board", "rp2040_pico", "--port", emu.port)
        assert code == 0, text
        assert "verified" in text and "answers info with firmware" in text
        code, text = _cli("hil", "--port", emu.port)
        assert code == 0 and "hil: all checks passed" in text, text
    finally:
        left = emu.stop()
    assert left == [], "the emulator outlived emu"
    # what was deployed is in the flash file: a restarted emulator boots into the app
    emu = Emu(flash)
    try:
        link, info = device.wait_for_app(emu.port, _BOOT_S)
        link.close()
        assert info.get("board") == "rp2040_pico", info
    finally:
        assert emu.stop(signal.SIGKILL) == [], "the emulator outlived a killed emu"
