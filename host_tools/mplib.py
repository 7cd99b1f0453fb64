"""micropython-lib, pinned: aioble for the Bluetooth boards, from ../shared/micropython's tarball
(the commit MicroPython v1.28.0 names; what `mip install aioble` fetches for it), checked by SHA-256
and unpacked once under build/."""
import hashlib
import os
import shutil
import tarfile

from host_tools import paths

TARBALL = "micropython-lib-v1.28.0.tar.xz"
TARBALL_SHA256 = "00639a6ef5ea01bffc135eec35e2e733143ba29ae2d44092d92e1f2d7148babc"
SHARED = os.path.normpath(os.path.join(paths.ROOT, "..", "shared", "micropython"))
UNPACKED = os.path.join(paths.ROOT, "build", "micropython-lib-v1.28.0")
AIOBLE_VERSION = "0.6.1"  # aioble/manifest.py's metadata at that commit
# the modules the firmware's BLE link uses (roller.ble_uart): peripheral, GATT server, security
AIOBLE_MODULES = ("__init__", "core", "device", "peripheral", "server", "security")


class LibError(Exception):
    """One line for the user."""


def aioble_dir():
    """The folder holding the `aioble` package (unpacked and checked on first use)."""
    package = os.path.join(UNPACKED, "micropython", "bluetooth", "aioble")
    if os.path.isfile(os.path.join(package, "aioble", "__init__.py")):
        return package
    tarball = os.path.join(SHARED, TARBALL)
    if not os.path.isfile(tarball):
        raise LibError("%s is missing (micropython-lib, pinned; see ../shared/micropython/README)" % tarball)
    with open(tarball, "rb") as f:
        if hashlib.sha256(f.read()).hexdigest() != TARBALL_SHA256:
            raise LibError("%s is not the pinned micropython-lib (SHA-256 differs)" % tarball)
    staging = "%s.tmp-%d" % (UNPACKED, os.getpid())  # then one rename: parallel tests never see half
    with tarfile.open(tarball) as tar:
        members = [m for m in tar.getmembers() if "/micropython/bluetooth/aioble/" in m.name]
        tar.extractall(staging, members=members, filter="data")
    try:
        os.rename(os.path.join(staging, "micropython-lib-v1.28.0"), UNPACKED)
    except OSError:
        pass  # another process was first: the same files
    shutil.rmtree(staging, ignore_errors=True)
    return package


def aioble_files():
    """[(path on the device, local file)] of the aioble modules the firmware deploys."""
    package = os.path.join(aioble_dir(), "aioble")
    return [("lib/aioble/%s.py" % m, os.path.join(package, m + ".py")) for m in AIOBLE_MODULES]
