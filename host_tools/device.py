"""What is on the other end of a port: the app (over the protocol) or MicroPython (over mpremote).

monitor and hil open the app with open_app(); deploy asks MicroPython what it runs on before
copying (identify) and waits for the app after its restart (wait_for_app). A stopped app is
restarted the way deploy does it for a board of the device's platform (firmware_build). Each
sets the device's clock once the app answers (the session history dates its sessions by it).
"""
import subprocess
import time

from host_tools import firmware_build, paths
from host_tools.serial_link import AppStopped, Link, LinkError, NoResponse

MPREMOTE_TIMEOUT_S = 120
START_S = 10.0  # a restarted app answers within this: a board resets, boots and starts its self-test
_RETRY_S = 0.2
# the third word: the source hash of a frozen roller image (make uf2), or "-"
_IDENTIFY = ("import sys\ntry:\n from roller_build import SOURCE_SHA256 as f\nexcept ImportError:\n f = '-'\n"
             "print(sys.platform, getattr(sys.implementation, '_mpy', 0), f)")


def set_clock(link):
    """The device's clock to this computer's (`clock`, docs/protocol.md). Firmware without the
    command answers an error: nothing else depends on it."""
    link.request({"cmd": "clock", "unix": int(time.time())})


def mpremote(port, args, timeout_s=MPREMOTE_TIMEOUT_S):
    """`mpremote connect PORT ARGS`; returns its output, raises LinkError with its last line."""
    cmd = [paths.tool_exe("mpremote"), "connect", port] + args
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise LinkError("mpremote gave no answer within %d s on %s" % (timeout_s, port)) from None
    if proc.returncode:
        lines = (proc.stderr + proc.stdout).strip().splitlines() or ["exit %d" % proc.returncode]
        raise LinkError(lines[-1].strip())
    return proc.stdout


class Identity:
    """The MicroPython port on the device: sys.platform and the .mpy files it loads."""

    def __init__(self, platform, mpy, frozen=None):
        self.platform = platform
        self.frozen = frozen  # roller_build.SOURCE_SHA256 of a frozen image, else None
        self.arch = firmware_build.arch_name(mpy >> 10)  # None: no native code
        self.mpy_version = (mpy & 0xFF, mpy >> 8 & 3)

    def __str__(self):
        arch = self.arch or "(no native code)"
        return "%s with .mpy %d.%d %s" % ((self.platform,) + self.mpy_version + (arch,))


def identify(port):
    """Ask MicroPython (this stops a running app: mpremote's Ctrl-C)."""
    words = mpremote(port, ["resume", "exec", _IDENTIFY]).split()
    if len(words) != 3 or not words[1].isdigit():
        raise LinkError("%s does not say what MicroPython it runs (it printed %r)" % (port, " ".join(words)))
    return Identity(words[0], int(words[1]), None if words[2] == "-" else words[2])


def app_answers(port):
    """True if the app answers on port, False if it is silent; raises AppStopped at the REPL."""
    link = Link(port)
    try:
        return link.attach()
    finally:
        link.close()


def restart_app(port, identity=None):
    """Start the app again, as deploy does for a board of the device's platform."""
    identity = identity or identify(port)
    board = firmware_build.board_for_platform(identity.platform)
    if board is None:
        raise LinkError("no board of this project runs on MicroPython for %s" % identity.platform)
    mpremote(port, ["resume"] + board.restart)


def wait_for_app(port, timeout_s=START_S):
    """(Link, `info` response) once the app answers; raises AppStopped if the REPL answers, or
    NoResponse after timeout_s (a board's USB port may vanish while it resets)."""
    end = time.monotonic() + timeout_s
    while True:
        link = None
        try:
            link = Link(port)
            link.attach()
            info = link.request({"cmd": "info"}, max(_RETRY_S, end - time.monotonic()))
            if not info.get("ok"):  # the answer to an earlier probe that a slow boot kept queued
                info = link.request({"cmd": "info"}, max(_RETRY_S, end - time.monotonic()))
            set_clock(link)
            return link, info
        except AppStopped:
            link.close()
            raise
        except (LinkError, OSError) as exc:
            if link is not None:
                link.close()
            if time.monotonic() >= end:
                raise NoResponse("the app gave no answer within %.0f s (%s)" % (timeout_s, exc)) from None
        time.sleep(_RETRY_S)


def open_app(port, restart=False):
    """A Link to the running app. At the REPL: restart the app if `restart`, else raise
    AppStopped saying how to."""
    link = Link(port)
    try:
        link.attach()
        set_clock(link)
        return link
    except AppStopped as exc:
        link.close()
        if not restart:
            raise AppStopped("%s; run again with --restart (or reset the board)" % exc) from None
    restart_app(port)
    return wait_for_app(port)[0]
