"""`sim --runtime pico`: a C1 scenario on the emulated Pico with the real HAL, written as a C2 trace.

The firmware is deployed (the real `deploy` path) onto a flash image cached under build/emu/,
keyed by the hash of everything deployed, so repeated runs do not deploy again. The image also
holds boards/rp2040_pico/emu_probe.py (imported from boot.py, both in the self-test manifest):
it reports state, fault and cue records through the harness. The front end (boards/sim/model.py)
answers the pins each tick; scenario events act where they happen on a board (docs/emulation.md).
"""
import contextlib
import hashlib
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from host_tools import emu_link, firmware_build, paths

CACHE_DIR = os.path.join(paths.ROOT, "build", "emu")
PROBE = os.path.join(paths.ROOT, "boards", "rp2040_pico", "emu_probe.py")
MAX_DURATION_S = 1000  # session10 (615 s) takes about 40 minutes
_CTRL_C = "\x03"
BOOT_LIMIT_MS = 20_000  # emulated: from power-on to the app built, or the image is broken
_DEPLOY_S = 600
# flash_corrupt flips a bit of a text in a deployed file (in littlefs data blocks: no CRC there):
# app.mpy, the largest, in a refusal's text among its constants, data nothing reads before the
# self-test hashes the file (the middle byte, once chosen, fell in native code after a change
# and crashed the app first: the watchdog, not the self-test, then ended it). A frozen image
# deploys only the unit's board_config: its NAME, which the self-test fails (R10).
_CORRUPT = (("roller/app.mpy", b"program %s needs"), ("board_config.mpy", b"rp2040_pico"))
_CORRUPT_CONTEXT = 8
_BOUNCE_MS = 4  # as boards.sim.runner.BOUNCE_MS


class PicoSimError(Exception):
    """Why the scenario cannot run on the emulated Pico, as one line."""


def refused(doc, real_hal=True):
    """Why the emulated Pico cannot run a checked scenario (one line), or None."""
    if doc["duration_s"] > MAX_DURATION_S:
        return ("scenario %s: %g s is over the emulated Pico's %d s (it runs at 0.15-0.45 of real "
                "time); run it on the unix port" % (doc["name"], doc["duration_s"], MAX_DURATION_S))
    for i, event in enumerate(doc["events"]):
        text = event.get("serial", event.get("serial_raw"))
        if real_hal and isinstance(text, str) and _CTRL_C in text:
            return ("scenario %s: events[%d]: a Ctrl-C (\\u0003) in a serial write stops the firmware on "
                    "the Pico's USB CDC (a keyboard interrupt), not on the virtual board" % (doc["name"], i))
    return None


def image_key(uf2):
    """The hash of what the cached image holds: the UF2, the deployed sources, the probe."""
    h = hashlib.sha256(emu_link.UF2_SHA256.encode())
    h.update(emu_link._sha256(uf2).encode())
    for src, dev in firmware_build.sources(firmware_build.board("rp2040_pico")) + [(PROBE, "emu_probe.py")]:
        with open(os.path.join(paths.ROOT, src), "rb") as f:
            h.update(dev.encode() + b"\0" + f.read())
    return h.hexdigest()[:16]


def cached_image(uf2=None, log=None):
    """(flash image with the firmware deployed, the deploy's build folder); built (deploy
    through `emu`) if missing."""
    uf2 = emu_link.uf2_path(uf2)
    key = image_key(uf2)
    path = os.path.join(CACHE_DIR, "flash-%s.bin" % key)
    built = os.path.join(CACHE_DIR, "deploy-%s" % key)
    if os.path.isfile(path) and os.path.isdir(built):
        return path, built
    os.makedirs(CACHE_DIR, exist_ok=True)
    work = tempfile.mkdtemp(prefix="emu-image-", dir=CACHE_DIR)
    try:
        flash = os.path.join(work, "flash.bin")
        _deploy_onto(flash, uf2, work, log)
        shutil.rmtree(built, ignore_errors=True)
        os.replace(os.path.join(work, "deploy"), built)
        os.replace(flash, path)  # last: an image is only there with its build folder
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return path, built


def run_checked(cmd, what, timeout_s=_DEPLOY_S):
    proc = subprocess.run(cmd, cwd=paths.ROOT, capture_output=True, text=True, timeout=timeout_s)
    if proc.returncode != 0:
        last = ((proc.stdout + proc.stderr).strip().splitlines() or ["exit %d" % proc.returncode])[-1]
        raise PicoSimError("%s failed: %s" % (what, last))


@contextlib.contextmanager
def emu_port(flash, uf2, load_ohm=None):
    """`emu --flash FLASH` running: yields its device path; stopped (and waited for) after."""
    load = [] if load_ohm is None else ["--load-ohm", str(load_ohm)]
    emu = subprocess.Popen([sys.executable, "-m", "host_tools", "emu", "--flash", flash, "--uf2", uf2] + load,
                           cwd=paths.ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           start_new_session=True)
    try:
        ready, _, _ = select.select([emu.stdout], [], [], 60)
        port = emu.stdout.readline().strip() if ready else ""
        if not port.startswith("/dev/"):
            why = emu.stderr.read() if emu.poll() is not None else port
            raise PicoSimError("emu did not start: %s" % (why.strip().splitlines() or ["no device"])[-1])
        yield port
    finally:
        emu.send_signal(signal.SIGTERM)
        try:
            emu.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(emu.pid, signal.SIGKILL)
            emu.wait()
        emu.stdout.close()
        emu.stderr.close()


def _deploy_onto(flash, uf2, work, log):
    with emu_port(flash, uf2) as port:
        if log:
            log("sim: deploying the firmware onto a new emulated Pico flash image (once per source change)")
        out = os.path.join(work, "deploy")
        run_checked([sys.executable, "-m", "host_tools", "deploy", "--board", "rp2040_pico", "--port", port,
              "--out", out], "deploy")
        if firmware_build.FROZEN in _manifest_names(out):
            return  # a frozen image: the probe is frozen too (uf2_build --probe), nothing to add
        # the probe, imported from boot.py; both in the self-test's manifest
        with open(os.path.join(out, "boot.py"), "a") as f:
            f.write("import emu_probe  # emulated Pico only: sim --runtime pico (docs/emulation.md)\n")
        shutil.copyfile(PROBE, os.path.join(out, "emu_probe.py"))
        names = _manifest_names(out) + ["emu_probe.py"]
        with open(os.path.join(out, firmware_build.MANIFEST), "w") as f:
            f.write(firmware_build.manifest_text(out, names))
        mpremote = paths.tool_exe("mpremote")
        cp = ["connect", port, "resume", "exec", "import os\nos.remove('%s')" % firmware_build.MANIFEST]
        for name in ("boot.py", "emu_probe.py", firmware_build.MANIFEST):
            cp += ["+", "cp", os.path.join(out, name), ":" + name]
        run_checked([mpremote] + cp, "copying the probe")


def _manifest_names(out):
    with open(os.path.join(out, firmware_build.MANIFEST)) as f:
        return [line.split()[1] for line in f if line.strip()]


def corrupt_offsets(image_path, deployed_dir):
    """Where the text flash_corrupt flips sits in the flash image (every copy)."""
    there = [(name, text) for name, text in _CORRUPT if os.path.isfile(os.path.join(deployed_dir, name))]
    if not there:
        raise PicoSimError("no %s deployed for flash_corrupt" % " or ".join(n for n, _ in _CORRUPT))
    name, text = there[0]
    with open(os.path.join(deployed_dir, name), "rb") as f:
        data = f.read()
    at = data.find(text)
    if at < _CORRUPT_CONTEXT:
        raise PicoSimError("%s holds no %r for flash_corrupt" % (name, text.decode()))
    # found with the bytes before it: the file's copies only, not the same text in frozen code
    window = data[at - _CORRUPT_CONTEXT:at + len(text)]
    with open(image_path, "rb") as f:
        image = f.read()
    found, at = [], image.find(window)
    while at >= 0:
        found.append(at + _CORRUPT_CONTEXT)
        at = image.find(window, at + 1)
    return found


class PicoRun:
    """One scenario on the emulated Pico, writing the trace as the emulated ms go by."""

    def __init__(self, doc, stream, flash, uf2=None):
        paths.use_firmware_on_cpython()
        from boards.sim import scenario
        from boards.sim.model import Model
        from boards.sim.runner import _limits
        from boards.sim.trace import Trace
        from roller import VERSION

        self.doc = doc
        self.timeline = scenario.timeline(doc)
        self.duration_ms = scenario.to_ms(doc["duration_s"])
        self.front = emu_link.FrontEnd(0, doc.get("seed", 1))
        self.model = self.front.model
        self.trace = Trace(stream)
        self.trace.header("pico", "rp2040_pico", VERSION, doc["name"], _limits())
        self.flash = flash
        self.pico = emu_link.Pico(flash, self.front, uf2=uf2, on_serial=self._serial, on_ms=self._ms,
                                  on_reset=self._reset, on_probe=self._probe, before_step=self._events,
                                  on_enable=self._enable)
        self.injected_us = []  # (fault, emulated µs since t = 0 when the front end took it)
        self.enable_edges_us = []  # (µs since t = 0, level) of the output-enable pin
        self._bounce_rng = Model(doc.get("seed", 1) + 7)
        self.origin_us = None  # emulated µs of the first "ready": the scenario's t = 0
        self.boot_us = None
        self._next = 0
        self._pressed = False
        self._bounce_until_ms = 0
        self._rx = b""
        self._skip_lines = 0  # the answer to the scenario's settings, sent before t = 0
        self._led = None
        self._cue_pin = False
        self._last_out = None
        self._last_hw = None
        self._corrupt = []
        self.done = False

    def now_ms(self, us):
        return 0 if self.origin_us is None or us < self.origin_us else (us - self.origin_us) // 1000

    # --- what the Pico reports ---------------------------------------------------------------
    def _probe(self, us, text):
        trace = self.trace
        trace.now_ms = self.now_ms(us)
        words = text.split()
        if words[0] == "boot":
            if self.boot_us is None:
                self.boot_us = us
        elif words[0] == "ready":
            if self.origin_us is None:
                self.origin_us = us
                trace.now_ms = 0
                trace.reset("power")
                for line in self._pending:
                    self._probe_record(line)
                self._pending = []
                settings = self.doc.get("settings")
                if settings:
                    self._skip_lines = 1
                    self.pico.write((json.dumps(dict(settings, cmd="set")) + "\n").encode())
        elif self.origin_us is None:
            self._pending.append(words)
        else:
            self._probe_record(words)

    _pending = []

    def _enable(self, us, level):
        if self.origin_us is not None:
            self.enable_edges_us.append((us - self.origin_us, level))

    def _probe_record(self, words):
        if words[0] == "state":
            self.trace.state(words[1], int(words[2]), words[3])
        elif words[0] == "fault":
            self._stopped_before_the_fault()
            self.trace.fault(words[1])
        elif words[0] == "cue":
            self.trace.cue(words[1])

    def _serial(self, data):
        self._rx += data
        *lines, self._rx = self._rx.split(b"\n")
        for line in lines:
            text = line.rstrip(b"\r").decode("utf-8", "replace")
            if self.origin_us is None:
                continue
            if self._skip_lines:
                self._skip_lines -= 1
                continue
            self.trace.now_ms = self.now_ms(self.pico.us)
            self.trace.serial("out", text)

    def _reset(self, cause):
        if self.origin_us is None:
            raise PicoSimError("the Pico reset (%s) before the app started" % cause)
        self.trace.now_ms = self.now_ms(self.pico.us)
        if cause == "off":
            if self._cue_pin:
                self._cue_pin = False
                self.trace.cue_pin(False)
            self.model.power_off()
        else:
            self.trace.reset("watchdog" if cause == "watchdog" else "power")
        self._rx = b""

    # --- the scenario's side ------------------------------------------------------------------
    def _events(self, us):
        if self.origin_us is None:
            if us > BOOT_LIMIT_MS * 1000:
                raise PicoSimError("the app did not start on the emulated Pico within %d ms" % BOOT_LIMIT_MS)
            return
        t_ms = self.now_ms(us)
        self.trace.now_ms = t_ms
        timeline = self.timeline
        changed = False
        while self._next < len(timeline) and timeline[self._next][0] <= t_ms:
            _, key, value = timeline[self._next]
            self._next += 1
            self._apply(key, value, t_ms)
            changed = True
        if changed:
            self.model.settle()
        bouncing = t_ms < self._bounce_until_ms
        self.front.button = self._bounce_rng._noise() > 0 if bouncing else self._pressed

    def _apply(self, key, value, t_ms):
        model, pico, trace = self.model, self.pico, self.trace
        if key == "pin":
            if value != self._pressed:
                self._pressed = value
                self._bounce_until_ms = t_ms + _BOUNCE_MS
                trace.button(value)
        elif key == "skin":
            if value is None:
                model.set_skin(0)
            else:
                model.set_skin(value["ohm"], value.get("nf", 0))
        elif key == "battery_v":
            model.battery_mv = int(value * 1000 + 0.5)
        elif key == "usb":
            model.usb = value
        elif key == "fault":
            self.injected_us.append((value, self.pico.us - self.origin_us))
            if value is None:
                model.clear_faults()
                pico.fault("unhang")
            elif value == "loop_hang":
                pico.fault("hang")
            elif value == "flash_corrupt":
                for offset in self._corrupt:
                    pico.fault("flip %d" % offset)
            else:
                self.front.set_fault(value)
        elif key in ("serial", "serial_raw"):
            raw = key == "serial_raw"
            pico.write(value.encode() if raw else value.encode() + b"\n")
            trace.serial("in", value, raw)
        elif key == "power":
            pico.fault({"cut": "off", "on": "on"}.get(value, "tear"))

    def _stopped_before_the_fault(self):
        """A trip opens the switch before the fault is reported: no current from then on, as a
        scope sees it. The model learns the pins at the next conversion (the next tick), which
        would show the stop up to 2 ms after the fault record."""
        last = self._last_out
        edges = self.enable_edges_us
        if (last is None or not last[0] or not edges or edges[-1][1]
                or "enable_stuck_on" in self.model.faults):
            return
        pins = list(self.model.pins)
        pins[0] = 0  # boards.sim.model.PIN_ENABLE
        self.trace.out(0, self.model.electrode_mv, pins)
        self._last_out = (0, self.model.electrode_mv, tuple(pins))
        self._out_stale = self.pico.conversions  # the model's last state is older than this record

    _out_stale = -1

    def _ms(self, ms):
        """After each exchange: the out, led, cue pin and hw records from the pins and the model."""
        if self.origin_us is None:
            return
        t_ms = self.now_ms(self.pico.us)
        trace = self.trace
        trace.now_ms = t_ms
        model = self.model
        pins = self.front.pins
        out = (self.front.ua, model.electrode_mv, tuple(model.pins))
        last = self._last_out
        if self.pico.conversions == self._out_stale:
            pass  # not stepped since the stop was recorded: its pins would show the switch closed
        elif last is None or out[0] != last[0] or out[2] != last[2] or (
                abs(out[1] - last[1]) > self._step_mv or (out[1] == 0 and last[1] != 0)):
            trace.out(out[0], out[1], model.pins)
            self._last_out = out
        if model.hw_violation != self._last_hw:
            self._last_hw = model.hw_violation
            if self._last_hw:
                trace.hw(self._last_hw)
        led = tuple((duty + 128) // 257 for duty in pins[4:7])
        if led != self._led:
            self._led = led
            trace.led(*led)
        cue = bool(pins[7])
        if cue != self._cue_pin:
            self._cue_pin = cue
            trace.cue_pin(cue)
        if t_ms >= self.duration_ms:
            self.done = True

    def run(self, deployed_dir):
        from boards.sim.trace import OUT_STEP_MV

        self._step_mv = OUT_STEP_MV
        self._pending = []
        self._corrupt = corrupt_offsets(self.flash, deployed_dir)
        pico = self.pico
        start_s = time.monotonic()
        pico.start()
        try:
            while not self.done:
                writers = [pico] if pico.wants_write() else []
                ready, writable, _ = select.select([pico], writers, [], 30)
                if not ready and not writable:
                    raise PicoSimError("the emulator stopped answering")
                if writable:
                    pico.flush()
                if ready and not pico.pump():
                    raise PicoSimError("the emulator exited (%d)" % pico.proc.returncode)
        finally:
            pico.stop()
        self.trace.now_ms = self.duration_ms
        self.trace.end(pico.conversions, time.monotonic() - start_s)


def run_scenario(doc, trace_path, work, uf2=None, log=None):
    """(exit code, error line or None): the scenario on a copy of the cached image."""
    why = refused(doc)
    if why:
        return 2, why
    try:
        image, build_dir = cached_image(uf2, log)
        flash = os.path.join(work, "flash.bin")
        shutil.copyfile(image, flash)
        with open(trace_path, "w", encoding="utf-8") as out:
            PicoRun(doc, out, flash, uf2).run(build_dir)
    except (emu_link.EmuError, PicoSimError) as exc:
        return 2 if isinstance(exc, emu_link.EmuError) else 1, str(exc)
    except subprocess.TimeoutExpired as exc:
        return 1, "timed out: %s" % " ".join(exc.cmd[:4])
    return 0, None
