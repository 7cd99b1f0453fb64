"""The host end of the C4 serial protocol: JSON lines over a serial port (or devsim's pty)."""
import json
import os
import time

BAUD = 115200
ATTACH_S = 1.0  # how long attach() waits for the app or the REPL to answer its probe
# Ctrl-B takes a raw REPL back to the friendly one; the newline ends any partial line, which the
# app answers with a response line and the REPL with its prompt
_PROBE = b"\x02\n"
_PROMPT = b">>> "
_TRACEBACK = "Traceback (most recent call last):"


class LinkError(Exception):
    """The port or the device is not what a tool needs; the message is one line for the user."""


class NoResponse(LinkError):
    pass


class AppStopped(LinkError):
    """The MicroPython REPL answers instead of the app."""


def missing_port(port):
    """Why `port` cannot be opened (it does not exist; the serial ports that do), or None."""
    from serial.tools import list_ports

    ports = sorted(p.device for p in list_ports.comports())
    if os.path.exists(port) or port in ports:
        return None
    return "does not exist; serial ports here: %s" % (
        ", ".join(ports) or "none (without a board: make devsim prints its pty)")


def open_port(port):
    """Open without toggling DTR/RTS where the port allows it (an ESP32 DevKitC resets on them)."""
    import serial  # pyserial: only when a port is opened

    missing = missing_port(port)
    if missing:
        raise LinkError(missing)  # pyserial would say "could not open port", as if busy
    s = serial.Serial()
    s.port = port
    s.baudrate = BAUD
    s.timeout = 0.05
    try:
        s.dtr = False
        s.rts = False
    except (OSError, serial.SerialException):
        pass  # a pty has no modem lines
    s.open()
    return s


def stopped_reason(text):
    """Why the app is not running, as one line, from what the device printed at its REPL."""
    lines = text.replace("\r", "").split("\n")
    error = None
    for i, line in enumerate(lines):
        if line == _TRACEBACK:  # the error is the first unindented line after the frames
            error = next((ln for ln in lines[i + 1:] if ln and not ln.startswith(" ")), None)
    return "the app is not running: the device is at the MicroPython REPL" + (
        " after " + error if error else "")


def shows_repl(text):
    """True if device output is the REPL's: a prompt, the raw-REPL banner or a traceback."""
    return (text.endswith(_PROMPT.decode()) or "\n>>> " in text or "raw REPL; CTRL-B to exit" in text
            or _TRACEBACK in text)


class Link:
    """Requests and responses; lines without "ok" (telemetry, boot noise) go to on_other."""

    def __init__(self, port, on_other=None):
        self.port = open_port(port)
        self.name = port
        self.on_other = on_other
        self._buf = b""

    def close(self):
        self.port.close()

    def attach(self, timeout_s=ATTACH_S):
        """Probe what listens before the first request: True once the app answers, False after
        timeout_s of silence (a board still booting); raises AppStopped if the REPL answers.
        Output from before the probe only explains a stop (a traceback printed at boot)."""
        earlier = self.port.read(self.port.in_waiting)
        self.port.write(_PROBE)
        self._buf = b""
        end = time.monotonic() + timeout_s
        while not self._buf.endswith(_PROMPT):
            line = self._line_before(end, stop_at_prompt=True)
            if line is None:
                break
            doc = parse(line)
            if doc is not None and "ok" in doc:
                return True
            earlier += line.encode() + b"\n"
        answer = self._buf.decode("utf-8", "replace")
        if shows_repl(answer):
            raise AppStopped(stopped_reason(earlier.decode("utf-8", "replace") + answer))
        self._buf = b""
        return False

    def at_prompt(self):
        """True if the last thing received is the REPL's prompt (the app has stopped)."""
        return self._buf.endswith(_PROMPT)

    def send(self, line):
        self.port.write(line.encode() + b"\n")

    def _line_before(self, end, stop_at_prompt=False):
        while b"\n" not in self._buf:
            if stop_at_prompt and self._buf.endswith(_PROMPT):
                return None
            waiting = self.port.in_waiting
            if waiting:
                self._buf += self.port.read(waiting)
            elif time.monotonic() >= end:
                return None
            else:
                self._buf += self.port.read(1)  # waits up to the port timeout
        line, self._buf = self._buf.split(b"\n", 1)
        return line.decode("utf-8", "replace").strip("\r")

    def read_line(self, timeout_s):
        """One received line as text (CR/LF stripped), or None after timeout_s."""
        return self._line_before(time.monotonic() + timeout_s)

    def request(self, obj, timeout_s=3.0):
        """Send one request (dict or raw text); returns the response dict. Raises AppStopped if
        the REPL answers, NoResponse (with the last line the device printed) after timeout_s."""
        self.send(obj if isinstance(obj, str) else json.dumps(obj, separators=(",", ":")))
        end = time.monotonic() + timeout_s
        printed = []
        while True:
            line = self._line_before(end, stop_at_prompt=True)
            if line is None:
                text = "\n".join(printed) + "\n" + self._buf.decode("utf-8", "replace")
                if shows_repl(text):
                    raise AppStopped(stopped_reason(text))
                raise NoResponse("no response within %.1f s%s" % (
                    timeout_s, " (the device printed: %s)" % printed[-1][:200] if printed else ""))
            doc = parse(line)
            if isinstance(doc, dict) and "ok" in doc:
                return doc
            if doc is None and line:
                printed.append(line)
            if self.on_other is not None and line:
                self.on_other(line, doc)


def parse(line):
    """The JSON object on a line, or None."""
    try:
        doc = json.loads(line)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None
