"""devsim and the web bridge as child processes, for tests/test_web*.py."""
import json
import os
import select
import signal
import subprocess
import sys

from host_tools import paths

START_S = 30


def _spawn(args):
    return subprocess.Popen([sys.executable, "-m", "host_tools", *args], cwd=paths.ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def first_line(proc, what):
    ready, _, _ = select.select([proc.stdout], [], [], START_S)
    assert ready, "%s printed nothing: %s" % (what, proc.stderr.read() if proc.poll() is not None else "")
    line = proc.stdout.readline().strip()
    assert line, "%s ended: %s" % (what, proc.stderr.read())
    return line


def stop(proc):
    """SIGTERM, then the process group's SIGKILL: nothing outlives the test."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
    proc.stdout.close()
    proc.stderr.close()
    return proc.returncode


class Devsim:
    """`devsim --flash DIR`: .path (the pty), .inject(obj) a stimulus (devsim-inject.json)."""

    def __init__(self, flash_dir):
        self.flash = str(flash_dir)
        self.proc = _spawn(["devsim", "--flash", self.flash])
        self.path = first_line(self.proc, "devsim")

    def inject(self, doc):
        tmp = os.path.join(self.flash, "devsim-inject.json.tmp")
        with open(tmp, "w") as f:
            f.write(json.dumps(doc))
        os.rename(tmp, os.path.join(self.flash, "devsim-inject.json"))  # whole, never half

    def close(self):
        stop(self.proc)


class Bridge:
    """`web --port DEVICE --http-port 0 [--host H]`: .url as printed at start."""

    def __init__(self, device, *extra):
        self.proc = _spawn(["web", "--port", device, "--http-port", "0", *extra])
        self.url = first_line(self.proc, "web")

    def close(self):
        return stop(self.proc)
