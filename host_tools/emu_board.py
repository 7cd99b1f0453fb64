"""`sim --runtime pico-sim`: the virtual board (boards/sim) inside the emulated Pico.

The simulator's code and the firmware's roller/ go onto the Pico's littlefs as armv6m .mpy
(`sim_code.code_dir("armv6m")`, the code deploy builds for the board), with the firmware's
sources beside them: the virtual board's flash gets those, as on the unix port, for the
self-test's hashes. The image is cached under build/emu/, keyed by the hash of all of it. A run
copies it, puts the timeline on it and runs what boards/sim/run.py runs, on the rp2 MicroPython;
the trace comes back over the USB CDC. It equals the unix port's record for record but the wall
time: the viper and native code of the tick on the RP2040's instruction set (docs/emulation.md).
"""
import hashlib
import os
import shutil
import subprocess
import tempfile

from host_tools import emu_link, emu_sim, paths, sim_code

ARCH = "armv6m"
_ON_DEVICE = "/vb"  # on the Pico's littlefs: code/ (.mpy), firmware/ (sources), fs/ (the sim flash)
_RUN_TIMEOUT_S = 3600
# boards/sim/run.py's main() on the Pico: the trace to the USB CDC, the timeline read as it goes
_RUN = """import sys, time
sys.path[:0] = ['{d}/code', '{d}/firmware']
from boards.sim import runner, scenario
f = open('{d}/timeline.jsonl')
doc = scenario.read_head(f)
t0 = time.ticks_ms()
runner.Runner(doc, sys.stdout, 'micropython', '{d}/fs', '{d}/firmware').run(
    lambda: time.ticks_diff(time.ticks_ms(), t0) / 1000, lambda: scenario.read_items(f, 4096))
"""


def _staged(work):
    """The folder copied onto the Pico: code/ (armv6m .mpy) and firmware/ (the sources
    deployfs lays into the virtual board's flash); and its key."""
    code = sim_code.code_dir(ARCH)
    root = os.path.join(work, "vb")
    shutil.copytree(code, os.path.join(root, "code"))
    firmware = os.path.join(root, "firmware")
    shutil.copytree(paths.FIRMWARE, firmware, ignore=shutil.ignore_patterns("hal", "__pycache__", "*.pyc"))
    h = hashlib.sha256(emu_link.UF2_SHA256.encode())
    for folder, _, names in sorted(os.walk(root)):
        for name in sorted(names):
            path = os.path.join(folder, name)
            with open(path, "rb") as f:
                h.update(os.path.relpath(path, root).encode() + b"\0" + f.read())
    return root, h.hexdigest()[:16]


def cached_image(uf2=None, log=None):
    """A flash image with the virtual board's code and the firmware's sources on littlefs;
    built through `emu` and mpremote if missing."""
    uf2 = emu_link.uf2_path(uf2)
    os.makedirs(emu_sim.CACHE_DIR, exist_ok=True)
    work = tempfile.mkdtemp(prefix="emu-vboard-", dir=emu_sim.CACHE_DIR)
    try:
        staged, key = _staged(work)
        path = os.path.join(emu_sim.CACHE_DIR, "vboard-%s.bin" % key)
        if os.path.isfile(path):
            return path
        if log:
            log("sim: copying the virtual board onto a new emulated Pico flash image (once per change)")
        flash = os.path.join(work, "flash.bin")
        with emu_sim.emu_port(flash, uf2) as port:
            copy = [paths.tool_exe("mpremote"), "connect", port, "resume", "cp", "-r", staged, ":"]
            emu_sim.run_checked(copy, "copying the virtual board")
        os.replace(flash, path)
        return path
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run_scenario(doc, trace_path, work, uf2=None, log=None):
    """(exit code, error line or None): a checked scenario on the virtual board in the Pico."""
    from boards.sim import scenario

    why = emu_sim.refused(doc, real_hal=False)
    if why:
        return 2, why
    try:
        uf2 = emu_link.uf2_path(uf2)
        flash = os.path.join(work, "flash.bin")
        shutil.copyfile(cached_image(uf2, log), flash)
        timeline = os.path.join(work, "timeline.jsonl")
        with open(timeline, "w", encoding="utf-8") as f:
            scenario.write_timeline(doc, f)
        with emu_sim.emu_port(flash, uf2) as port:
            proc = subprocess.run([paths.tool_exe("mpremote"), "connect", port, "resume",
                                   "cp", timeline, ":%s/timeline.jsonl" % _ON_DEVICE,
                                   "+", "exec", _RUN.format(d=_ON_DEVICE)],
                                  cwd=paths.ROOT, capture_output=True, timeout=_RUN_TIMEOUT_S)
    except emu_link.EmuError as exc:
        return 2, str(exc)
    except (emu_sim.PicoSimError, sim_code.SimCodeError) as exc:
        return 1, str(exc)
    except subprocess.TimeoutExpired:
        return 1, "the virtual board on the emulated Pico did not finish within %d s" % _RUN_TIMEOUT_S
    # the USB CDC sends \r\n; mpremote's own lines (cp) come before the header
    lines = proc.stdout.replace(b"\r\n", b"\n").rstrip(b"\n").split(b"\n")
    start = next((i for i, line in enumerate(lines) if line.startswith(b'{"kind":"header"')), None)
    if proc.returncode != 0 or start is None or not lines[-1].startswith(b'{"kind":"end"'):
        said = (proc.stdout + proc.stderr).decode("utf-8", "replace").strip().splitlines()
        return 1, "the virtual board on the emulated Pico stopped: %s" % (said[-1] if said else "no output")
    with open(trace_path, "wb") as out:
        out.write(b"\n".join(lines[start:]) + b"\n")
    return 0, None
