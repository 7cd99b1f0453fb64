"""The host end of the C4 serial protocol: JSON lines over a serial port (or devsim's pty)."""
import json
import time

BAUD = 115200


class NoResponse(Exception):
    pass


def open_port(port):
    """Open without toggling DTR/RTS where the port allows it (an ESP32 DevKitC resets on them)."""
    import serial  # pyserial: only when a port is opened

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


class Link:
    """Requests and responses; lines without "ok" (telemetry, boot noise) go to on_other."""

    def __init__(self, port, on_other=None):
        self.port = open_port(port)
        self.on_other = on_other
        self._buf = b""

    def close(self):
        self.port.close()

    def resync(self):
        """End any partial line the device holds (e.g. mpremote's Ctrl-B), drop stale output."""
        self.port.write(b"\n")
        time.sleep(0.2)
        self.port.reset_input_buffer()
        self._buf = b""

    def send(self, line):
        self.port.write(line.encode() + b"\n")

    def read_line(self, timeout_s):
        """One received line as text (CR/LF stripped), or None after timeout_s."""
        end = time.monotonic() + timeout_s
        while b"\n" not in self._buf:
            waiting = self.port.in_waiting
            if waiting:
                self._buf += self.port.read(waiting)
            elif time.monotonic() >= end:
                return None
            else:
                self._buf += self.port.read(1)  # waits up to the port timeout
        line, self._buf = self._buf.split(b"\n", 1)
        return line.decode("utf-8", "replace").strip("\r")

    def request(self, obj, timeout_s=3.0):
        """Send one request (dict or raw text); returns the response dict."""
        self.send(obj if isinstance(obj, str) else json.dumps(obj, separators=(",", ":")))
        end = time.monotonic() + timeout_s
        while True:
            line = self.read_line(max(0.0, end - time.monotonic()))
            if line is None:
                raise NoResponse("no response within %.1f s" % timeout_s)
            doc = parse(line)
            if isinstance(doc, dict) and "ok" in doc:
                return doc
            if self.on_other is not None and line:
                self.on_other(line, doc)


def parse(line):
    """The JSON object on a line, or None."""
    try:
        doc = json.loads(line)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None
