"""`emu`: the rp2 MicroPython on an emulated Raspberry Pi Pico (rp2040js), behind a pseudo-terminal.

The Pico's USB CDC is a pty whose path is printed first (like devsim): deploy, mpremote, monitor
and hil use it as a board's serial port. The analog front end is co-simulated around the chip
(host_tools/emu_link.py), with a dummy load on the electrodes. The flash image is a file, so what
is deployed survives a restart of the emulator. docs/emulation.md.
"""
import errno
import os
import select
import signal
import sys
import tempfile

from boards.sim import DUMMY_LOAD_OHM
from host_tools.cmd_devsim import _raw, _shown

_PUMP_S = 0.1


def register(sub):
    p = sub.add_parser(
        "emu",
        help="the rp2 MicroPython on an emulated Pico behind a pseudo-terminal",
        description="Boot the Raspberry Pi Pico UF2 in rp2040js (Node) with the analog front end "
        "around it, and expose its USB CDC as a pseudo-terminal. Prints the device path first "
        "(stdout), then how to connect (stderr). Exit 2 on bad input (UF2, Node, flash image).",
    )
    p.add_argument("--uf2", metavar="FILE", help="the MicroPython UF2 (default ../shared/micropython/; "
                   "checked against the pinned SHA-256)")
    p.add_argument("--flash", metavar="FILE", help="flash image file, kept across runs (default: a "
                   "temporary one, a fresh chip); created from the UF2 when missing")
    p.add_argument("--update", action="store_true",
                   help="write the UF2 onto an existing --flash image as dragging it onto the Pico's "
                   "BOOTSEL drive does (the file system on it stays)")
    p.add_argument("--link", metavar="PATH", help="also make PATH a symlink to the device")
    p.add_argument("--load-ohm", type=int, default=DUMMY_LOAD_OHM,
                   help="dummy load on the electrodes in ohm, 0 = open (default %d)" % DUMMY_LOAD_OHM)
    p.set_defaults(func=run)


class Bridge:
    """The host-side pty and the emulated Pico's USB CDC."""

    def __init__(self, pico):
        self.pico = pico
        self.master, self.slave = os.openpty()
        _raw(self.slave, isig=False)  # held open: no hang-up while no client is attached
        os.set_blocking(self.master, False)
        self.path = os.ttyname(self.slave)
        pico.on_serial = self.to_host

    def to_host(self, data):
        try:
            os.write(self.master, data)
        except OSError as exc:  # nobody reads: dropped, as a USB host that is not listening
            if exc.errno not in (errno.EAGAIN, errno.EIO):
                raise

    def serve(self, stopping):
        pico = self.pico
        while not stopping():
            writers = [pico] if pico.wants_write() else []
            ready, writable, _ = select.select([pico, self.master], writers, [], pico.timeout_s(_PUMP_S))
            if writable:
                pico.flush()
            if self.master in ready:
                try:
                    data = os.read(self.master, 4096)
                except OSError as exc:
                    data = None
                    if exc.errno not in (errno.EAGAIN, errno.EIO):
                        raise
                if data:
                    pico.write(data)
            if pico in ready and not pico.pump():
                return "the emulator exited (%d)" % pico.proc.returncode
            pico.release()
        return None


def run(args):
    from host_tools.emu_link import EmuError, FrontEnd, Pico

    own_flash = args.flash is None
    flash = os.path.join(tempfile.mkdtemp(prefix="emu-"), "flash.bin") if own_flash else args.flash
    stop = []
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: stop.append(1))
    pico = None
    try:
        front = FrontEnd(args.load_ohm)
        pico = Pico(flash, front, uf2=args.uf2,
                    on_reset=lambda cause: sys.stderr.write("emu: the Pico reset (%s)\n" % cause),
                    paced=True, update=args.update, on_probe=lambda us, text: bench(front, text))
        bridge = Bridge(pico)
        if args.link:
            if os.path.islink(args.link):
                os.remove(args.link)
            os.makedirs(os.path.dirname(os.path.abspath(args.link)), exist_ok=True)
            os.symlink(bridge.path, args.link)
        print(bridge.path, flush=True)
        sys.stderr.write(howto(args.link or bridge.path, args.load_ohm, flash, own_flash))
        sys.stderr.flush()
        pico.start()
        problem = bridge.serve(lambda: stop)
    except EmuError as exc:
        problem = str(exc)
    finally:
        if pico is not None:
            pico.stop()
        if args.link and os.path.islink(args.link):
            os.remove(args.link)
        if own_flash:
            if os.path.exists(flash):
                os.remove(flash)
            os.rmdir(os.path.dirname(flash))
    if problem:
        sys.stderr.write("emu: error: %s\n" % problem)
        return 2
    return 0


def bench(front, text):
    """What an operator does at the bench, asked by a script on the emulated Pico through the
    emulation probe (boards/rp2040_pico/emu_probe.py: perf --rp2040 walks the states so):
    "bench skin OHM" (0 = lifted off) and "bench usb 0|1". Any other probe line is telemetry."""
    words = text.split()
    if len(words) != 3 or words[0] != "bench" or not words[2].isdigit():
        return
    if words[1] == "skin":
        front.model.set_skin(int(words[2]))
    elif words[1] == "usb":
        front.model.usb = words[2] == "1"
    else:
        return
    front.model.settle()


def howto(port, load_ohm, flash, own_flash):
    py = _shown(sys.executable) + " -m host_tools"
    return "".join("emu: %s\n" % line for line in (
        "MicroPython runs on an emulated Pico on %s (%s); flash %s" % (
            port, "%d ohm dummy load" % load_ohm if load_ohm else "electrodes open",
            "in a temporary file" if own_flash else _shown(os.path.abspath(flash))),
        "  %s deploy --board rp2040_pico --port %s" % (py, port),
        "  %s hil --port %s" % (py, port),
        "stop: Ctrl-C here, or kill %d" % os.getpid(),
    ))
