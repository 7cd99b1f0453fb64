"""The simulator's code for the unix port, precompiled by mpy-cross: the firmware's roller/ and
boards/sim/ as .mpy, which boards/sim/run.py puts first on sys.path.

The boards run .mpy too. From source, the unix port compiles every module inside the simulated
heap while the modules before it stay live: app.py's parse tree alone needs tens of KB there.
Built on first use into build/sim-mpy/<key>/; the key hashes the sources, mpy-cross's version
and the arch, so an edited source gets a fresh directory and older ones are removed.
"""
import glob
import hashlib
import os
import shutil
import subprocess

from host_tools import firmware_build, paths

CACHE = os.path.join(paths.ROOT, "build", "sim-mpy")


class SimCodeError(Exception):
    """mpy-cross missing or failing: the message is one line."""


def _sources():
    """(source path, path in the cache without extension), sorted."""
    files = [(p, "roller/" + os.path.basename(p)[:-3])
             for p in glob.glob(os.path.join(paths.FIRMWARE, "roller", "*.py"))]
    files.append((os.path.join(paths.ROOT, "boards", "__init__.py"), "boards/__init__"))
    files += [(p, "boards/sim/" + os.path.basename(p)[:-3])
              for p in glob.glob(os.path.join(paths.ROOT, "boards", "sim", "*.py"))]
    return sorted(files, key=lambda f: f[1])


def _mpy_cross(*args):
    try:
        return subprocess.run([paths.tool_exe("mpy-cross"), *args], capture_output=True,
                              text=True, check=True).stdout
    except OSError as exc:
        raise SimCodeError("mpy-cross cannot run (%s); `make setup` installs it"
                           % (exc.strerror or exc)) from None
    except subprocess.CalledProcessError as exc:
        lines = (exc.stderr or exc.stdout or "").strip().splitlines() or ["exit %d" % exc.returncode]
        raise SimCodeError("mpy-cross: " + lines[-1]) from None


def code_dir(arch=None):
    """The cache directory for the present sources, built if missing; raises SimCodeError.
    `arch`: mpy-cross's -march (armv6m: the virtual board inside the emulated Pico), else the
    unix port's."""
    sources = _sources()
    cache = CACHE + "-" + arch if arch else CACHE
    try:
        arch = arch or firmware_build.host_arch()
    except (OSError, subprocess.CalledProcessError):
        raise SimCodeError("the unix port (micropython) cannot run; `make setup` installs it") from None
    key = hashlib.sha256((_mpy_cross("--version") + arch).encode())
    for src, rel in sources:
        with open(src, "rb") as f:
            key.update(rel.encode() + b"\0" + f.read() + b"\0")
    final = os.path.join(cache, key.hexdigest()[:16])
    if os.path.isdir(final):
        return final
    tmp = "%s.tmp%d" % (final, os.getpid())
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        for src, rel in sources:
            out = os.path.join(tmp, rel + ".mpy")
            os.makedirs(os.path.dirname(out), exist_ok=True)
            # named by the path it is loaded from: the unix port interns both names as qstrs
            # (never freed), so one name per module instead of two
            _mpy_cross("-march=" + arch, "-s", os.path.join(final, rel + ".mpy"), "-o", out, src)
        try:
            os.rename(tmp, final)
        except OSError:  # a parallel run built it first
            pass
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for old in os.listdir(cache):
        if old != os.path.basename(final) and ".tmp" not in old:
            shutil.rmtree(os.path.join(cache, old), ignore_errors=True)
    return final
