"""`devsim`: the firmware with the sim board on the MicroPython unix port, behind a pseudo-terminal.

The interpreter's stdio is one pty (its controlling terminal, so Ctrl-C interrupts the app as on
a board); a second pty, whose path is printed first, is bridged to it for deploy, monitor,
mpremote and hil. The interpreter's cwd is the device flash, so `mpremote fs cp` lands there. If
the interpreter exits (Ctrl-D at its REPL), it starts again like a board after a reset.
"""
import ctypes
import errno
import fcntl
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import termios
import time
import tty

from boards.sim import DUMMY_LOAD_OHM
from host_tools import firmware_build, paths

HEAPSIZE = "512k"
_RESPAWN_S = 0.2
_PR_SET_PDEATHSIG = 1


def register(sub):
    p = sub.add_parser(
        "devsim",
        help="the firmware on the unix port behind a pseudo-terminal",
        description="Run the firmware with the sim board on the MicroPython unix port behind a "
        "pseudo-terminal, like a board on a serial port. Prints the device path first (stdout), "
        "then how to connect and stop (stderr).",
    )
    p.add_argument("--link", metavar="PATH", help="also make PATH a symlink to the device")
    p.add_argument("--flash", metavar="DIR", help="device flash folder (default: a temporary one); "
                   "laid with the sim firmware when it has no manifest")
    p.add_argument("--load-ohm", type=int, default=DUMMY_LOAD_OHM,
                   help="dummy load on the electrodes in ohm, 0 = open (default %d)" % DUMMY_LOAD_OHM)
    p.set_defaults(func=run)


def lay_firmware(flash_dir):
    """A fresh device: the sim build, as `deploy --board sim` would leave it."""
    build = firmware_build.build(firmware_build.board("sim"), os.path.join(flash_dir, ".build"))
    for name in build.files:
        dst = os.path.join(flash_dir, name)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copyfile(build.local(name), dst)
    shutil.rmtree(build.out_dir)


def _device_process_setup():
    """In the interpreter's process: the pty becomes its controlling terminal (Ctrl-C is
    SIGINT), and it dies with devsim, so no interpreter outlives a killed devsim."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass  # not Linux: the SIGTERM handler still cleans up


def _raw(fd, isig):
    tty.setraw(fd)
    if isig:  # Ctrl-C becomes SIGINT while the app runs (the REPL switches ISIG off itself)
        attrs = termios.tcgetattr(fd)
        attrs[3] |= termios.ISIG
        termios.tcsetattr(fd, termios.TCSANOW, attrs)


class Device:
    """The interpreter on its pty, bridged to the host-side pty."""

    def __init__(self, flash_dir, load_ohm):
        self.flash_dir = flash_dir
        self.env = dict(os.environ, ROLLER_DEVSIM_LOAD_OHM=str(load_ohm), MICROPYPATH=":.frozen")
        self.dev_master, self.dev_slave = os.openpty()
        _raw(self.dev_slave, isig=True)
        self.host_master, self.host_slave = os.openpty()
        _raw(self.host_slave, isig=False)  # held open: no hang-up while no client is attached
        for fd in (self.dev_master, self.host_master):
            os.set_blocking(fd, False)
        self.path = os.ttyname(self.host_slave)
        self.proc = None

    def start(self):
        slave = self.dev_slave
        self.proc = subprocess.Popen(
            [paths.micropython_exe(), "-X", "heapsize=" + HEAPSIZE, "-i", "-c",
             firmware_build.DEVSIM_START],
            stdin=slave, stdout=slave, stderr=slave, cwd=self.flash_dir, env=self.env,
            start_new_session=True,
            preexec_fn=_device_process_setup,
        )

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def pump(self, timeout_s):
        """Move bytes both ways for up to timeout_s; output with no reader attached is dropped."""
        ready, _, _ = select.select([self.dev_master, self.host_master], [], [], timeout_s)
        for src in ready:
            dst = self.host_master if src == self.dev_master else self.dev_master
            try:
                data = os.read(src, 4096)
            except OSError as exc:
                if exc.errno in (errno.EAGAIN, errno.EIO):
                    continue
                raise
            try:
                os.write(dst, data)
            except OSError as exc:
                if exc.errno != errno.EAGAIN:
                    raise

    def serve(self, stopping):
        while not stopping():
            if self.proc.poll() is not None:
                sys.stderr.write("devsim: interpreter exited (%d), restarting\n" % self.proc.returncode)
                time.sleep(_RESPAWN_S)
                self.start()
            self.pump(0.1)


def _shown(path):
    """A path as a person would type it here: relative when under the current folder."""
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel


def howto(port, load_ohm):
    """How to connect and stop, for stderr (stdout carries only the device path)."""
    py = _shown(sys.executable) + " -m host_tools"
    return "".join("devsim: %s\n" % line for line in (
        "the firmware runs on %s (%s); connect with" % (
            port, "%d ohm dummy load" % load_ohm if load_ohm else "electrodes open"),
        "  %s monitor --port %s" % (py, port),
        "  %s hil --port %s" % (py, port),
        "  %s connect %s resume repl   (resume: a soft reset would end the unix port)"
        % (_shown(paths.tool_exe("mpremote")), port),
        "an app stopped at the REPL starts again with: %s monitor --port %s --restart" % (py, port),
        "stop: Ctrl-C here, or kill %d" % os.getpid(),
    ))


def run(args):
    own_flash = args.flash is None
    flash_dir = tempfile.mkdtemp(prefix="devsim-flash-") if own_flash else os.path.abspath(args.flash)
    os.makedirs(flash_dir, exist_ok=True)
    if not os.path.exists(os.path.join(flash_dir, firmware_build.MANIFEST)):
        lay_firmware(flash_dir)
    device = Device(flash_dir, args.load_ohm)
    stop = []
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: stop.append(1))
    if args.link:
        if os.path.islink(args.link):
            os.remove(args.link)
        os.makedirs(os.path.dirname(os.path.abspath(args.link)), exist_ok=True)  # build/ on a fresh clone
        os.symlink(device.path, args.link)
    print(device.path, flush=True)
    sys.stderr.write(howto(args.link or device.path, args.load_ohm))
    sys.stderr.flush()
    try:
        device.start()
        device.serve(lambda: stop)
    finally:
        device.stop()
        if args.link and os.path.islink(args.link):
            os.remove(args.link)
        if own_flash:
            shutil.rmtree(flash_dir, ignore_errors=True)
    return 0
