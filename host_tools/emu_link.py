"""The emulated Raspberry Pi Pico (host_tools/emu_pico.mjs under Node, rp2040js) and the analog
front end of docs/hardware.md around it, stepped in lockstep once per emulated ms.

The front end is boards/sim/model.py (the one electrical model): the Pico's pins drive it, and
its current and voltage come back as the Pico's ADC codes, scaled as boards/rp2040_pico wires
them. Inputs are checked here (one-line EmuError): the UF2 and boot ROM by a pinned SHA-256,
Node and the pinned npm package, and a flash image that must hold this UF2.
"""
import ctypes
import errno
import hashlib
import json
import os
import shutil
import signal
import struct
import subprocess
import time

from host_tools import paths

UF2_NAME = "rp2-RPI_PICO-v1.28.0.uf2"
UF2_SHA256 = "5daa8e5fcdb37f1d81ff1a720b6c632113a5b11336564c62db7cd0005354cd87"
BOOTROM_NAME = "rp2040-bootrom-b1.bin"
BOOTROM_SHA256 = "90b31e108faedfa6bbcfcc33ba05dac61e645108cfbbdc385f8dafc71fde44ae"
SHARED = os.path.normpath(os.path.join(paths.ROOT, "..", "shared", "micropython"))
RP2040JS_VERSION = "1.4.1"  # pinned in package.json and package-lock.json
HARNESS = os.path.join(paths.ROOT, "host_tools", "emu_pico.mjs")
FLASH_BYTES = 2 * 1024 * 1024  # the Pico's W25Q16
_FLASH_BASE = 0x10000000
_UF2_MAGIC = (0x0A324655, 0x9E5D5157, 0x0AB16F30)
_RP2040_FAMILY = 0xE48BFF56
_QUIT_S = 5.0
_PR_SET_PDEATHSIG = 1

# the Pico's ADC: 12 bits over 3.3 V; the front end's scaling (boards/rp2040_pico/board.py)
_ADC_MAX = 4095
_ADC_MID = 2048
_ISENSE_HALF_UA = 1650
_VSENSE_HALF_MV = 16_500
_VBAT_FULL_MV = 6600
_HEAD_FULL_MV = 3300  # the head ID on ADC2 through the analog switch: 4096 = 3.3 V


class EmuError(Exception):
    """Why the emulator cannot run, as one line."""


def _sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def _checked(path, digest, what):
    if not os.path.isfile(path):
        raise EmuError("%s not found: %s" % (what, path))
    if _sha256(path) != digest:
        raise EmuError("%s %s is not the pinned build (SHA-256 differs)" % (what, path))
    return path


def uf2_path(given=None):
    """The Pico UF2: --uf2, else ../shared/micropython; always the pinned SHA-256, or for a
    frozen image from `make uf2` the SHA-256 its build recorded (host_tools/uf2_build.py)."""
    from host_tools import uf2_build

    if given and uf2_build.verified(given):
        return given
    return _checked(given or os.path.join(SHARED, UF2_NAME), UF2_SHA256, "MicroPython UF2")


def bootrom_path():
    return _checked(os.path.join(SHARED, BOOTROM_NAME), BOOTROM_SHA256, "RP2040 boot ROM")


def missing():
    """What the emulator lacks on this machine (one line), or None."""
    try:
        uf2_path()
        bootrom_path()
        node_command()
    except EmuError as exc:
        return str(exc)
    return None


def node_command():
    """[node, harness]; raises EmuError without Node or the pinned rp2040js."""
    node = shutil.which("node")
    if node is None:
        raise EmuError("node not found (Debian: apt-get install nodejs)")
    manifest = os.path.join(paths.ROOT, "node_modules", "rp2040js", "package.json")
    try:
        with open(manifest) as f:
            version = json.load(f).get("version")
    except (OSError, ValueError):
        version = None
    if version != RP2040JS_VERSION:
        raise EmuError("npm package rp2040js %s is not installed (make setup runs npm ci)" % RP2040JS_VERSION)
    return [node, HARNESS]


def uf2_blocks(path):
    """(flash offset, payload) of every block of a UF2 for the RP2040."""
    with open(path, "rb") as f:
        data = f.read()
    blocks = []
    for at in range(0, len(data) - 511, 512):
        m0, m1, _, addr, size, _, _, family = struct.unpack_from("<8I", data, at)
        if (m0, m1, struct.unpack_from("<I", data, at + 508)[0]) != _UF2_MAGIC or family != _RP2040_FAMILY:
            raise EmuError("%s is not a UF2 for the RP2040" % path)
        offset = addr - _FLASH_BASE
        if not 0 <= offset <= FLASH_BYTES - size or size > 476:
            raise EmuError("%s writes outside the Pico's flash" % path)
        blocks.append((offset, data[at + 32:at + 32 + size]))
    return blocks


_SECTOR = 4096  # the flash's erase unit


def prepare_flash(path, uf2, update=False):
    """The flash image file: a fresh chip with the UF2 if it is missing; else it must be 2 MB
    and hold exactly this UF2 (what a board with other firmware would refuse to run). update:
    write the UF2 onto it as the Pico's boot ROM does when one is dragged onto its BOOTSEL drive
    (each 4 KB sector the UF2 touches erased, then written; the file system beyond stays)."""
    blocks = uf2_blocks(uf2)
    if update and os.path.exists(path):
        with open(path, "r+b") as f:
            image = bytearray(f.read(FLASH_BYTES + 1))
            if len(image) != FLASH_BYTES:
                raise EmuError("%s is not a Pico flash image (%d bytes, not %d)"
                               % (path, len(image), FLASH_BYTES))
            for sector in sorted({at // _SECTOR for offset, payload in blocks
                                  for at in (offset, offset + len(payload) - 1)}):
                image[sector * _SECTOR:(sector + 1) * _SECTOR] = b"\xff" * _SECTOR
            for offset, payload in blocks:
                image[offset:offset + len(payload)] = payload
            f.seek(0)
            f.write(image)
        return
    if not os.path.exists(path):
        image = bytearray(b"\xff" * FLASH_BYTES)
        for offset, payload in blocks:
            image[offset:offset + len(payload)] = payload
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "wb") as f:
            f.write(image)
        return
    try:
        with open(path, "rb") as f:
            image = f.read(FLASH_BYTES + 1)
    except OSError as exc:
        raise EmuError("%s: %s" % (path, exc.strerror)) from None
    if len(image) != FLASH_BYTES:
        raise EmuError("%s is not a Pico flash image (%d bytes, not %d)" % (path, len(image), FLASH_BYTES))
    if any(image[offset:offset + len(payload)] != payload for offset, payload in blocks):
        raise EmuError("%s holds another firmware than %s: give a new --flash file"
                       % (path, os.path.basename(uf2)))


def _round_div(num, den):
    return (2 * num + den) // (2 * den)


class FrontEnd:
    """The analog front end around the Pico: boards/sim/model.py driven by the Pico's pins,
    read back through the Pico's ADC scaling. Sense faults act on the ADC channel, as on a
    board: it freezes (at a rail, at zero, or where it was)."""

    def __init__(self, load_ohm, seed=1):
        paths.use_firmware_on_cpython()
        from boards.sim import model

        self._m = model
        self.model = model.Model(seed)
        self.model.set_skin(load_ohm)
        self.button = False
        self.pins = (0,) * 8  # enable, leg A, leg B, setpoint, LED R, G, B duty (u16), cue
        self.inputs = (_ADC_MID, _ADC_MID, 0, 0, 0, 0)
        self._vsense_frozen = _ADC_MID
        self.ua = 0  # delivered at the last step

    def set_fault(self, name):
        if name == "vsense_stuck":
            self._vsense_frozen = self._vsense_code()
        self.model.set_fault(name)

    def _vsense_code(self):
        return _ADC_MID + _round_div(self.model.electrode_mv * _ADC_MID, _VSENSE_HALF_MV)

    def step(self, pins):
        """One ms: the pins as the Pico drives them now -> the inputs it reads next."""
        m, model = self._m, self.model
        self.pins = pins
        model.pins[m.PIN_ENABLE] = pins[0]
        model.pins[m.PIN_LEG_A] = pins[1]
        model.pins[m.PIN_LEG_B] = pins[2]
        model.pins[m.PIN_DAC_CODE] = _round_div(pins[3] * m.DAC_MAX_CODE, 65535)
        self.ua = model.step()
        faults = model.faults
        if "sense_stuck_high" in faults:
            isense = _ADC_MAX
        elif "sense_stuck_low" in faults:
            isense = _ADC_MID
        else:
            isense = model._adc(_ADC_MID + _round_div(model.delivered_ua * _ADC_MID, _ISENSE_HALF_UA))
        vsense = self._vsense_frozen if "vsense_stuck" in faults else model._adc(self._vsense_code())
        vbat = model._adc(model.battery_mv * (_ADC_MAX + 1) // _VBAT_FULL_MV)
        # ADC2 reads the battery or the head ID, as the Pico's mux pin selects (the harness picks)
        head = model._adc(model.sensed[4] * (_ADC_MAX + 1) // _HEAD_FULL_MV)
        self.inputs = (isense, vsense, vbat, 1 if model.usb else 0, 1 if self.button else 0, head)
        return self.inputs


def _child_setup():
    """Node dies with this process, whatever ends it."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


class Pico:
    """The emulator process. pump() moves its lines: serial bytes to on_serial, each emulated ms
    through the front end (and to on_ms), resets to on_reset."""

    def __init__(self, flash, front_end, uf2=None, on_serial=None, on_ms=None, on_reset=None, paced=False,
                 on_probe=None, before_step=None, on_enable=None, update=False):
        self.uf2 = uf2_path(uf2)
        self.command = node_command() + [bootrom_path(), os.path.abspath(flash)]
        prepare_flash(flash, self.uf2, update)
        self.front_end = front_end
        self.on_serial = on_serial
        self.on_ms = on_ms
        self.on_reset = on_reset
        self.on_probe = on_probe  # (us, line) the emulation probe wrote
        self.before_step = before_step  # (us): the host's events for this ms, before the front end steps
        self.on_enable = on_enable  # (us, level): each edge of the output-enable pin
        self.conversions = 0  # current-sense conversions started: one per firmware tick
        self.ms = 0
        self.us = 0
        self.paced = paced  # a device: emulated time never runs ahead of the wall clock
        self._held = None  # (monotonic deadline, answer) while paced and ahead
        self._t0 = None
        self.proc = None
        self._buf = b""
        self._out = b""

    def start(self):
        self.proc = subprocess.Popen(self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     start_new_session=True, preexec_fn=_child_setup)
        os.set_blocking(self.proc.stdout.fileno(), False)
        os.set_blocking(self.proc.stdin.fileno(), False)
        self._t0 = time.monotonic()

    def timeout_s(self, longest_s):
        """How long the caller may wait in select before release() is due."""
        if self._held is None:
            return longest_s
        return max(0.0, min(longest_s, self._held[0] - time.monotonic()))

    def release(self):
        """Send an answer held back for pacing once its time has come."""
        if self._held is not None and time.monotonic() >= self._held[0]:
            self._send(self._held[1])
            self._held = None

    def fileno(self):
        return self.proc.stdout.fileno()

    def wants_write(self):
        return bool(self._out)

    def _send(self, line):
        self._out += line.encode() + b"\n"
        self.flush()

    def flush(self):
        try:
            written = os.write(self.proc.stdin.fileno(), self._out)
        except BlockingIOError:
            return
        except BrokenPipeError:
            self._out = b""
            return
        self._out = self._out[written:]

    def write(self, data):
        self._send("D " + data.hex())

    def fault(self, name):
        """A fault of the chip itself: "hang"/"unhang" (the core stops/goes on), "power" (a power cut
        and back), "off"/"on" (the power cut, and back), "tear" (the next flash program is cut
        half way with the power), "flip OFFSET" (a bit of a flash byte changes)."""
        self._send("F " + name)

    def pump(self):
        """Handle what the emulator printed; False once it has exited."""
        try:
            chunk = os.read(self.fileno(), 1 << 16)
        except OSError as exc:
            if exc.errno == errno.EAGAIN:
                return True
            raise
        if not chunk:
            self.proc.wait()
            return False
        self._buf += chunk
        *lines, self._buf = self._buf.split(b"\n")
        for line in lines:
            self._line(line.decode("latin-1"))
        return True

    def _line(self, line):
        kind, _, rest = line.partition(" ")
        if kind == "P":
            words = rest.split()
            self.us = int(words[0])
            self.ms = self.us // 1000
            pins = tuple(int(w) for w in words[2:])
            front_end = self.front_end
            if self.before_step is not None:
                self.before_step(self.us)
            if words[1] == "2":
                self.conversions += 1
            inputs = front_end.step(pins) if words[1] != "0" else front_end.inputs
            answer = "A %d %d %d %d %d %d" % inputs
            due = self._t0 + self.us / 1e6
            if self.paced and due > time.monotonic():
                self._held = (due, answer)
            else:
                self._send(answer)
            if self.on_ms is not None:
                self.on_ms(self.ms)
        elif kind == "D":
            if self.on_serial is not None:
                self.on_serial(bytes.fromhex(rest))
        elif kind == "G":
            if self.on_enable is not None:
                us, _, level = rest.partition(" ")
                self.on_enable(int(us), level == "1")
        elif kind == "T":
            if self.on_probe is not None:
                us, _, text = rest.partition(" ")
                self.on_probe(int(us), text)
        elif kind == "R":
            if self.on_reset is not None:
                self.on_reset(rest)
        elif kind == "E":
            raise EmuError(rest)

    def stop(self):
        """Quit (the flash file is already written through), or kill after a grace period."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self._send("Q")
        try:
            self.proc.wait(_QUIT_S)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
