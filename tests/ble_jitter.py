"""Tick jitter with the BLE link on the emulated Pico: python -m tests.ble_jitter [FLASH_FILE]

Boots `emu`, deploys the rp2040_pico firmware, adds aioble (micropython-lib, pinned) and the
stand-in `bluetooth` (the Pico's port has no radio), runs tests/mpy/ble_jitter_device.py and
prints its figures (docs/companion.md, "Tick jitter"). Minutes: the emulator runs slower than
the Pico.
"""
import os
import subprocess
import sys
import tempfile

from host_tools import mplib, paths
from tests.test_emu import Emu

_TIMEOUT_S = 1200


def mpremote(port, *args):
    proc = subprocess.run([paths.tool_exe("mpremote"), "connect", port, "resume", *args],
                          capture_output=True, text=True, timeout=_TIMEOUT_S)
    if proc.returncode:
        said = (proc.stdout + proc.stderr).strip()[-600:]
        raise SystemExit("ble_jitter: mpremote %s failed: %s" % (" ".join(args[:2]), said))
    return proc.stdout


def main(argv):
    flash = argv[0] if argv else os.path.join(tempfile.mkdtemp(prefix="ble-jitter-"), "flash.bin")
    emu = Emu(flash)
    try:
        subprocess.run([sys.executable, "-m", "host_tools", "deploy", "--board", "rp2040_pico", "--port",
                        emu.port], check=True, cwd=paths.ROOT, timeout=_TIMEOUT_S)
        mpremote(emu.port, "exec", "import os\nfor d in ('lib', 'lib/aioble'):\n"
                 "    try:\n        os.mkdir(d)\n    except OSError:\n        pass")  # a flash used before
        for dev, local in mplib.aioble_files():
            mpremote(emu.port, "fs", "cp", local, ":" + dev)
        # the Pico (no radio) does not deploy the link: copy it, with the stand-in radio
        for name in ("ble_uart.py", "ble_bonds.py"):
            mpremote(emu.port, "fs", "cp", os.path.join(paths.FIRMWARE, "roller", name), ":roller/" + name)
        standin = os.path.join(paths.ROOT, "tests", "mpy", "ble_standin", "bluetooth.py")
        mpremote(emu.port, "fs", "cp", standin, ":lib/bluetooth.py")
        print(mpremote(emu.port, "run", os.path.join(paths.ROOT, "tests", "mpy", "ble_jitter_device.py")))
    finally:
        emu.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
