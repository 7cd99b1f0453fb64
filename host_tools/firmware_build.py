"""What goes onto a device, compiled for its architecture, with the self-test hash manifest.

The layout under the build folder is the device's file system: main.py and boot.py stay source
(the port runs them by name at reset), everything else is .mpy from mpy-cross.
"""
import glob
import json
import hashlib
import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor

from host_tools import paths

MPY_LIMIT_BYTES = 64 * 1024  # per board: what the smallest flash partition leaves for the app
MANIFEST = "manifest.sha256"  # roller.integrity.MANIFEST
FROZEN = ".frozen"  # roller.integrity.FROZEN: the manifest line that vouches for a frozen image

# mpy-cross -march names by the native-arch number in sys.implementation._mpy >> 10
_ARCH_BY_NUMBER = {1: "x86", 2: "x64", 3: "armv6", 4: "armv6m", 5: "armv7m", 6: "armv7em",
                   7: "armv7emsp", 8: "armv7emdp", 9: "xtensa", 10: "xtensawin", 11: "rv32imc",
                   12: "rv64imc"}


class Board:
    def __init__(self, name, platform, arch, hal, config, restart, ble=False):
        self.name = name
        self.ble = ble  # Bluetooth LE: aioble (micropython-lib, pinned) goes into lib/ too
        self.platform = platform  # sys.platform of the MicroPython port it runs
        self.arch = arch  # None: the unix port of this host
        self.hal = hal  # extra (source, device path) pairs for this board
        self.config = config  # deployed as board_config.py: NAME (main.py picks the HAL by it), pins
        self.restart = restart  # mpremote arguments that restart the app after a deploy


# the app after a deploy on the unix port: what a reset does on a board (fresh modules, main.py)
DEVSIM_START = "import sys\nsys.modules.clear()\nimport main\n"

BOARDS = {
    "esp32_devkitc": Board("esp32_devkitc", "esp32", "xtensawin", [("firmware/hal/esp32.py", "hal/esp32.py")],
                           "boards/esp32_devkitc/board.py", ["reset"], ble=True),
    "rp2040_pico": Board("rp2040_pico", "rp2", "armv6m", [("firmware/hal/rp2040.py", "hal/rp2040.py")],
                         "boards/rp2040_pico/board.py", ["reset"]),
    "rp2040_picow": Board("rp2040_picow", "rp2", "armv6m", [("firmware/hal/rp2040.py", "hal/rp2040.py")],
                          "boards/rp2040_picow/board.py", ["reset"], ble=True),
    "sim": Board("sim", "linux", None, [("boards/__init__.py", "boards/__init__.py")]
                 + [("boards/sim/%s.py" % m, "boards/sim/%s.py" % m)
                    for m in ("__init__", "board", "model", "flash", "devboard")],
                 "boards/sim/config.py", ["exec", "--no-follow", DEVSIM_START]),
}
ALIASES = {"esp32": "esp32_devkitc", "rp2040": "rp2040_pico", "pico": "rp2040_pico"}


def board(name):
    return BOARDS[ALIASES.get(name, name)]


def board_for_platform(platform):
    """The first board whose port reports this sys.platform (its restart fits them all), or None."""
    return next((b for b in BOARDS.values() if b.platform == platform), None)


def arch_name(number):
    """mpy-cross -march for a native-arch number (sys.implementation._mpy >> 10); None: no native code."""
    return _ARCH_BY_NUMBER.get(number)


def mpy_limit_bytes(board):
    """A board's flash partition; the sim board runs on a PC, in x64 native code (about a
    third larger than armv6m or xtensawin) and with the virtual board's own modules."""
    return MPY_LIMIT_BYTES if board.arch is not None else MPY_LIMIT_BYTES * 3 // 2


def size_line(build):
    """One line: the board's .mpy bytes against its limit, and the margin left (or over)."""
    used, limit = build.mpy_bytes, mpy_limit_bytes(build.board)
    side = "left" if used <= limit else "over"
    return (f"{build.board.name:13} {len(build.files):2d} files  {used:7,} of {limit:,} bytes .mpy  "
            f"{100 * used / limit:5.1f} % used  {abs(limit - used):,} bytes {side}")


def host_arch():
    """mpy-cross -march for the unix port installed here (native code must load on it)."""
    out = subprocess.run([paths.micropython_exe(), "-c", "import sys;print(sys.implementation._mpy>>10)"],
                         capture_output=True, text=True, check=True).stdout
    return _ARCH_BY_NUMBER[int(out)]


def sources(b):
    """(source path in the repo, path on the device as .py) for every file of board b."""
    files = [("firmware/main.py", "main.py")]
    if b.arch is not None:  # a board's port runs boot.py at reset; the unix port does not
        files.append(("firmware/boot.py", "boot.py"))
    files.append((b.config, "board_config.py"))
    for path in sorted(glob.glob(os.path.join(paths.FIRMWARE, "roller", "*.py"))):
        if os.path.basename(path).startswith("ble_") and not b.ble:
            continue  # the Bluetooth link and its bonds: only where there is a radio (6 KB of .mpy)
        files.append(("firmware/roller/" + os.path.basename(path), "roller/" + os.path.basename(path)))
    files += [("firmware/hal/__init__.py", "hal/__init__.py"), ("firmware/hal/common.py", "hal/common.py")]
    return files + b.hal


def lib_sources(b):
    """(local file, device path) of the libraries a board deploys besides the firmware."""
    if not b.ble:
        return []
    from host_tools import mplib

    return [(local, dev) for dev, local in mplib.aioble_files()]


# per unit: stays on the file system of a frozen image (the image holds the nominal one)
_UNFROZEN = ("board_config.py",)


def frozen_sources(b):
    """(source, device path) of the code a frozen image holds: roller/, hal/, main.py and boot.py
    (boards/<name>/manifest.py). Its nominal board_config is frozen too but not part of the
    identity: a unit's own board.py, calibrated, deploys onto the image it came with."""
    return [(src, dev) for src, dev in sources(b) if dev not in _UNFROZEN]


def unfrozen_sources(b):
    """What `deploy` copies onto a frozen image: the unit's board_config."""
    return [(src, dev) for src, dev in sources(b) if dev in _UNFROZEN]


def frozen_line(source_sha256):
    paths.use_firmware_on_cpython()
    from roller.integrity import manifest_line

    return manifest_line(FROZEN, source_sha256)


def frozen_source_sha256(b):
    """The frozen image's source identity: SHA-256 of the manifest-format lines of its sources
    (roller_build.SOURCE_SHA256 in the image, the `.frozen` line of a deploy onto it)."""
    paths.use_firmware_on_cpython()
    from roller.integrity import manifest_line

    lines = "".join(manifest_line(dev, _sha256(os.path.join(paths.ROOT, src)))
                    for src, dev in sorted(frozen_sources(b), key=lambda f: f[1]))
    return hashlib.sha256(lines.encode()).hexdigest()


def compile_mpy(src, dst, source_name, arch):
    """mpy-cross one file; raises CalledProcessError with mpy-cross's message."""
    os.makedirs(os.path.dirname(dst) or ".", exist_ok=True)
    subprocess.run([paths.tool_exe("mpy-cross"), "-march=" + arch, "-s", source_name, "-o", dst, src],
                   check=True, capture_output=True, text=True)


def _sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


class Build:
    def __init__(self, board, out_dir, files, mpy_bytes):
        self.board = board
        self.out_dir = out_dir
        self.files = files  # device paths, manifest last
        self.mpy_bytes = mpy_bytes

    def local(self, device_path):
        return os.path.join(self.out_dir, device_path)

    def mpy_needs(self):
        """What a device must load, from the .mpy headers: (version, sub-version, arch). Only
        native code pins the sub-version and the arch (None when no file has any)."""
        version, sub, arch = None, None, None
        for name in self.files:
            if name.endswith(".mpy"):
                with open(self.local(name), "rb") as f:
                    header = f.read(3)
                version = header[1]
                if header[2] >> 2:
                    sub, arch = header[2] & 3, arch_name(header[2] >> 2)
        return version, sub, arch


def build(b, out_dir, frozen=None):
    """Compile board b into out_dir (emptied first); returns the Build, raises CalledProcessError.
    frozen: the source hash of the device's frozen image, which holds roller/ and hal/ (only the
    file-system files are built, and the manifest's `.frozen` line vouches for the image)."""
    shutil.rmtree(out_dir, ignore_errors=True)
    os.makedirs(out_dir)
    arch = b.arch or host_arch()
    files = []
    jobs = []
    libs = lib_sources(b) if frozen is None else []
    for src, dev in (sources(b) if frozen is None else unfrozen_sources(b)) + libs:
        src = os.path.join(paths.ROOT, src)
        if dev in ("main.py", "boot.py"):
            files.append(dev)
            shutil.copyfile(src, os.path.join(out_dir, dev))
        else:
            files.append(dev[:-3] + ".mpy")
            jobs.append((src, os.path.join(out_dir, files[-1]), dev, arch))
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        for future in [pool.submit(compile_mpy, *job) for job in jobs]:
            future.result()
    # the app's budget counts our own code; lib/ (aioble) is third-party, reported apart
    mpy_bytes = sum(os.path.getsize(job[1]) for job in jobs if not job[2].startswith("lib/"))
    with open(os.path.join(out_dir, MANIFEST), "w") as f:
        f.write(manifest_text(out_dir, files))
        if frozen is not None:
            f.write(frozen_line(frozen))
    return Build(b, out_dir, files + [MANIFEST], mpy_bytes)


def firmware_version():
    """roller.VERSION of the firmware being built: what the deployed app says in `info`."""
    paths.use_firmware_on_cpython()
    from roller import VERSION

    return VERSION


def manifest_text(out_dir, files):
    """The manifest in roller.integrity's format, hashing the files as deployed."""
    paths.use_firmware_on_cpython()
    from roller.integrity import manifest_line

    return "".join(manifest_line(name, _sha256(os.path.join(out_dir, name))) for name in files)


def package_json(b):
    """mip's package.json for board b: the source files, paths relative to boards/<name>/."""
    from roller import VERSION

    base = os.path.join(paths.ROOT, "boards", b.name)
    urls = [[dev, os.path.relpath(os.path.join(paths.ROOT, src), base)] for src, dev in sources(b)]
    package = {"urls": urls, "version": VERSION}
    if b.ble:
        from host_tools import mplib

        package["deps"] = [["aioble", mplib.AIOBLE_VERSION]]  # what micropython-lib v1.28.0 holds
    return json.dumps(package, indent=1) + "\n"


def main():
    """Rewrite boards/*/package.json after firmware files were added or removed."""
    paths.use_firmware_on_cpython()
    for b in BOARDS.values():
        if b.arch is not None:
            with open(os.path.join(paths.ROOT, "boards", b.name, "package.json"), "w") as f:
                f.write(package_json(b))
            print("wrote boards/%s/package.json" % b.name)


if __name__ == "__main__":
    main()
