"""`monitor --port P`: a serial console for the C4 protocol.

Type a command as JSON or in short form (`status`, `set level=3 program=eye`, `stream on`,
`bench shape=square hz=50 ua=100`); responses are pretty-printed above the input line (with
history), `stream` telemetry shows in the bottom toolbar. Ctrl-D, Ctrl-C or `quit` leave, and
switch streaming off. Non-interactive (stdin not a terminal): --command (repeatable; `sleep S`
waits S seconds in between) or lines on stdin, then --wait-s seconds of output, then exit (1 if
any request got an error); telemetry shows one line per update (one refreshing line on a terminal).
A stopped app (the device at the MicroPython REPL) is named, exit 2; --restart starts it again.
"""
import json
import sys
import threading
import time

from host_tools import device
from host_tools.serial_link import LinkError, parse

_STATUS_ORDER = ("state", "level", "program", "contact", "ohm", "battery_v", "session_s",
                 "elapsed_s", "fault")


def register(sub):
    p = sub.add_parser(
        "monitor",
        help="serial console for the device protocol",
        description=__doc__.split("\n\n", 1)[1],
    )
    p.add_argument("--port", required=True, metavar="P", help="serial port (devsim: its pty)")
    p.add_argument("--command", "-c", action="append", metavar="CMD",
                   help="send CMD (repeatable) instead of reading commands interactively")
    p.add_argument("--wait-s", type=float, default=0.0,
                   help="after the commands, keep showing output this long (default 0)")
    p.add_argument("--restart", action="store_true",
                   help="if the app is stopped (the device is at the MicroPython REPL), restart it")
    p.set_defaults(func=run)


def to_request(text):
    """A typed line as the JSON text to send; short forms become {"cmd": ...}."""
    text = text.strip()
    if text.startswith("{"):
        return text
    words = text.split()
    request = {"cmd": words[0]}
    for word in words[1:]:
        key, sep, value = word.partition("=")
        if not sep:  # `stream on` / `stream off`
            key, value = "on", {"on": "true", "off": "false"}.get(word, word)
        try:
            request[key] = json.loads(value)
        except ValueError:
            request[key] = value
    return json.dumps(request, separators=(",", ":"))


def _value(v):
    if v is None:
        return "-"
    if v is True or v is False:
        return "yes" if v else "no"
    return json.dumps(v) if isinstance(v, (dict, list)) else str(v)


# `history`: one session a row, newest first (docs/protocol.md)
_HISTORY_COLUMNS = (("start", "start"), ("contact_s", "contact s"), ("zones", "zones"), ("head", "head"),
                    ("program", "program"), ("level", "level"), ("peak_ua", "peak uA"),
                    ("mean_ua", "mean uA"), ("charge_uc", "charge uC"), ("end", "end"))


def _start(entry):
    if entry.get("start") is not None:  # unix s, shown in this computer's time zone
        return time.strftime("%Y-%m-%d %H:%M", time.localtime(entry["start"]))
    return "boot %s +%ss" % (entry.get("boot", "?"), entry.get("uptime_s", "?"))


def format_history(sessions):
    """The sessions as a table with a header row."""
    rows = [[label for _, label in _HISTORY_COLUMNS]]
    for entry in sessions:
        rows.append([_start(entry) if key == "start" else _value(entry.get(key))
                     for key, _ in _HISTORY_COLUMNS])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    return "\n".join("    " + line for line in lines)


def format_response(doc):
    if not doc.get("ok"):
        return "error: %s" % doc.get("error")
    if isinstance(doc.get("sessions"), list):  # history
        if not doc["sessions"]:
            return "ok  no sessions recorded"
        return "ok  %d session(s), newest first\n%s" % (len(doc["sessions"]), format_history(doc["sessions"]))
    keys = [k for k in _STATUS_ORDER if k in doc]
    keys += sorted(k for k in doc if k not in _STATUS_ORDER and k != "ok")
    if "entries" in doc:  # log: one entry a line
        keys.remove("entries")
        lines = ["ok  " + "  ".join("%s %s" % (k, _value(doc[k])) for k in keys)]
        for entry in doc["entries"]:
            lines.append("    " + "  ".join("%s %s" % (k, _value(v)) for k, v in entry.items()))
        return "\n".join(lines)
    return "ok  " + "  ".join("%s %s" % (k, _value(doc[k])) for k in keys)


# telemetry fields shown first, with their units
_TELEMETRY = (("t", "t %s s"), ("state", "%s"), ("ua", "%s uA"), ("v", "%s V"), ("ohm", "%s ohm"),
              ("level", "level %s"))


def format_telemetry(doc):
    known = [fmt % _value(doc[k]) for k, fmt in _TELEMETRY if k in doc]
    rest = ["%s %s" % (k, _value(v)) for k, v in doc.items() if k not in dict(_TELEMETRY)]
    return "  ".join(known + rest)


class Display:
    """Responses and other lines as they come; telemetry refreshes one line on a terminal."""

    def __init__(self, out):
        self.out = out
        self.live = out.isatty()
        self._open_line = False

    def end_live_line(self):
        if self._open_line:
            self.out.write("\n")
            self._open_line = False

    def line(self, text):
        doc = parse(text)
        if doc is not None and "ok" in doc:
            self.end_live_line()
            self.out.write(format_response(doc) + "\n")
        elif doc is not None and self.live:
            self.out.write("\r\x1b[K" + format_telemetry(doc))
            self._open_line = True
        elif doc is not None:
            self.out.write("telemetry  " + format_telemetry(doc) + "\n")
        elif text:
            self.end_live_line()
            self.out.write("device: " + text + "\n")
        self.out.flush()


def _pump(link, display, seconds):
    end = time.monotonic() + seconds
    while True:
        line = link.read_line(max(0.0, min(0.1, end - time.monotonic())))
        if line is not None:
            display.line(line)
        elif time.monotonic() >= end:
            return


def run_commands(link, display, commands, wait_s):
    errors = 0
    streaming = False
    try:
        for text in commands:
            if text.split()[0] == "sleep":  # local: let the device work, show what it sends
                _pump(link, display, float(text.split()[1]))
                continue
            request = to_request(text)
            display.out.write("> %s\n" % request)
            response = link.request(request)
            display.line(json.dumps(response))
            errors += not response.get("ok")
            if response.get("ok") and "stream" in response and len(response) == 2:
                streaming = response["stream"]
        _pump(link, display, wait_s)
    finally:  # Ctrl-C too: leave the device as we found it, the terminal on a fresh line
        display.end_live_line()
        if streaming:
            link.request({"cmd": "stream", "on": False})
    return 1 if errors else 0


class Console:
    """The interactive monitor: a reader thread prints responses above the prompt_toolkit input
    line and keeps the latest telemetry for the bottom toolbar."""

    def __init__(self, link):
        self.link = link
        self.telemetry = None
        self.streaming = False  # as the device last said (telemetry, or a response's "stream")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)

    def toolbar(self):
        if self.telemetry is None:
            return " no telemetry (type `stream on`)"
        return " telemetry  " + self.telemetry

    def _read(self):
        told_stopped = False
        while not self._stop.is_set():
            line = self.link.read_line(0.1)
            if line is None:
                if self.link.at_prompt() and not told_stopped:
                    print("monitor: the app stopped (the device is at the MicroPython REPL); "
                          "quit and run monitor --restart")
                    told_stopped = True
                continue
            doc = parse(line)
            if doc is not None and "ok" in doc:
                if "stream" in doc:
                    self.streaming = doc["stream"] is True
                print(format_response(doc))
            elif doc is not None:
                self.streaming = True
                self.telemetry = format_telemetry(doc)
            elif line:
                print("device: " + line)

    def run(self):
        from prompt_toolkit import PromptSession
        from prompt_toolkit.patch_stdout import patch_stdout

        session = PromptSession("> ", bottom_toolbar=self.toolbar, refresh_interval=0.1)
        print("monitor: type a command (status, info, set level=2, stream on, ...); "
              "Ctrl-D or Ctrl-C to quit")
        with patch_stdout(raw=True):
            self._thread.start()
            try:
                while True:
                    text = session.prompt().strip()
                    if text in ("quit", "exit"):
                        break
                    if text:
                        self.link.send(to_request(text))
            except (EOFError, KeyboardInterrupt):
                pass
            finally:
                self._stop.set()
                self._thread.join()
        if self.streaming:  # leave the device as we found it
            self.link.request({"cmd": "stream", "on": False})
            print("monitor: stream off")
        return 0


def run(args):
    try:
        link = device.open_app(args.port, args.restart)
    except LinkError as exc:
        sys.stderr.write("monitor: error: %s: %s\n" % (args.port, exc))
        return 2
    except OSError as exc:
        sys.stderr.write("monitor: error: cannot open %s (%s)\n" % (args.port, exc))
        return 2
    try:
        commands = args.command
        if commands is None and not sys.stdin.isatty():
            commands = [line for line in sys.stdin.read().splitlines() if line.strip()]
        if commands is None:
            return Console(link).run()
        display = Display(sys.stdout)
        link.on_other = lambda text, doc: display.line(text)
        return run_commands(link, display, commands, args.wait_s)
    except LinkError as exc:
        sys.stderr.write("monitor: error: %s: %s\n" % (args.port, exc))
        return 2
    finally:
        link.close()
