"""Type-check the board HALs with mypy against each port's MicroPython stubs.

`python -m host_tools.typecheck [PORT ...]` (make lint runs it). Each port's stub set (pinned in
requirements-dev.txt) is installed into its own folder under build/stubs, because the esp32 and
rp2 packages both ship a top-level machine.pyi. A wrong machine call is a mypy error: exit 1.
"""
import os
import shutil
import subprocess
import sys
import tempfile

from host_tools import paths

# port -> (stub package, HAL module, board folder, Bluetooth: roller.ble_uart checked too)
PORTS = {
    "esp32": ("micropython-esp32-stubs", "esp32.py", "esp32_devkitc", True),
    "rp2": ("micropython-rp2-rpi-pico-stubs", "rp2040.py", "rp2040_pico", False),
    "rp2w": ("micropython-rp2-rpi-pico-w-stubs", "rp2040.py", "rp2040_picow", True),
}
STDLIB_STUBS = "micropython-stdlib-stubs"
BUILD = os.path.join(paths.ROOT, "build")

# Errors count in our modules only: the stubs themselves do not pass mypy cleanly.
_MYPY_INI = """[mypy]
python_version = 3.11
no_site_packages = True
explicit_package_bases = True
follow_imports = silent
check_untyped_defs = True
warn_unused_ignores = True
ignore_errors = True

[mypy-hal.*,board_config,roller.ble_uart,roller.ble_bonds]
ignore_errors = False
"""


def pinned(package):
    """`package==version` as pinned in requirements-dev.txt."""
    with open(os.path.join(paths.ROOT, "requirements-dev.txt")) as f:
        for line in f:
            line = line.split("#")[0].strip()
            if line.lower().startswith(package.lower() + "=="):
                return line
    raise SystemExit("typecheck: %s is not pinned in requirements-dev.txt" % package)


def stubs_dir(port):
    """The port's stubs, installed once per pinned version set."""
    specs = [pinned(PORTS[port][0]), pinned(STDLIB_STUBS)]
    target = os.path.join(BUILD, "stubs", port + "-" + "-".join(s.split("==")[1] for s in specs))
    if not os.path.isfile(os.path.join(target, "machine.pyi")):
        os.makedirs(os.path.dirname(target), exist_ok=True)
        staging = tempfile.mkdtemp(prefix=port + "-", dir=os.path.dirname(target))
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                        "--no-deps", "--target", staging, *specs], check=True)
        try:
            os.rename(staging, target)
        except OSError:  # another run installed the same set meanwhile
            shutil.rmtree(staging, ignore_errors=True)
    return target


def check(port, firmware_dir=paths.FIRMWARE, work=None):
    """(exit code, mypy output) for one port's HAL, hal/common.py and board_config."""
    _, hal_file, board, ble = PORTS[port]
    stubs = stubs_dir(port)
    work = work or os.path.join(BUILD, "typecheck", port)
    os.makedirs(work, exist_ok=True)
    config_dir = os.path.join(work, "config")  # board.py is board_config.py on the device
    os.makedirs(config_dir, exist_ok=True)
    shutil.copyfile(os.path.join(paths.ROOT, "boards", board, "board.py"),
                    os.path.join(config_dir, "board_config.py"))
    ini = os.path.join(work, "mypy.ini")
    with open(ini, "w") as f:
        f.write(_MYPY_INI)
    path = [config_dir, firmware_dir, stubs]
    extra = []
    if ble:  # the BLE link against the port's bluetooth stubs, aioble from micropython-lib (pinned)
        from host_tools import mplib

        path.append(mplib.aioble_dir())
        extra += [os.path.join(firmware_dir, "roller", name) for name in ("ble_uart.py", "ble_bonds.py")]
    env = dict(os.environ, MYPYPATH=os.pathsep.join(path))
    cmd = [sys.executable, "-m", "mypy", "--config-file", ini, "--custom-typeshed-dir", stubs,
           "--cache-dir", os.path.join(work, "cache"),
           os.path.join(firmware_dir, "hal", "common.py"), os.path.join(firmware_dir, "hal", hal_file),
           os.path.join(config_dir, "board_config.py")] + extra
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=paths.ROOT)
    return proc.returncode, (proc.stdout + proc.stderr).strip()


def main(argv):
    failed = 0
    for port in argv or sorted(PORTS):
        code, output = check(port)
        print("typecheck %-6s %s" % (port, output.splitlines()[-1] if output else "exit %d" % code))
        if code:
            print(output)
            failed = 1
    return failed


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
