"""A program on a pseudo-terminal, read through pyte (a VT100 emulator) as a person sees it."""
import fcntl
import os
import select
import struct
import subprocess
import termios
import time

import pyte


def _controlling_tty():
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)  # as in a shell: Ctrl-C is SIGINT unless the program reads raw


class Terminal:
    def __init__(self, argv, cwd, rows=12, cols=110):
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.proc = subprocess.Popen(argv, cwd=cwd, stdin=slave, stdout=slave, stderr=slave,
                                     env=dict(os.environ, TERM="xterm"), start_new_session=True,
                                     preexec_fn=_controlling_tty)
        os.close(slave)
        master = self.master

        class Screen(pyte.Screen):
            def write_process_input(self, data):  # answers the cursor-position request, as a terminal does
                os.write(master, data.encode())

        self.screen = Screen(cols, rows)
        self._stream = pyte.ByteStream(self.screen)

    def type(self, text):
        os.write(self.master, text.encode())

    def lines(self):
        return [line.rstrip() for line in self.screen.display]

    def wait_for(self, predicate, timeout_s=30.0):
        """Feed the screen until predicate(self) holds; returns its last value (a timeout guard only)."""
        end = time.monotonic() + timeout_s
        while not predicate(self) and time.monotonic() < end:
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if ready:
                try:
                    self._stream.feed(os.read(self.master, 65536))
                except OSError:  # the program has exited and closed the terminal
                    time.sleep(0.05)
        return predicate(self)

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        os.close(self.master)
