"""`hil --port P`: hardware-in-the-loop acceptance over the serial protocol (C4).

info, status, the head (a known one attached), selftest, a bench waveform into the dummy load
(checked from the `stream` telemetry and `status`), stop, status, log. One line per check; exit 1
when any check fails,
2 when the port does not exist, the device does not answer or its app is stopped (--restart
starts it again). Works on a board with a dummy load and against devsim.
"""
import sys
import time

from boards.sim import DUMMY_LOAD_OHM
from host_tools import device
from host_tools.serial_link import LinkError, parse

# the bench runs for --run-s of the device's own time (telemetry "t"); an emulated Pico runs slower
# than the wall clock, so the wait is bounded at this many times --run-s
SLOW_DEVICE_FACTOR = 20
SELFTEST_WAIT_S = 30
STATUS_KEYS = ("state", "level", "program", "contact", "ohm", "battery_v", "session_s", "fault")


def register(sub):
    p = sub.add_parser(
        "hil",
        help="hardware-in-the-loop acceptance over the serial protocol",
        description="Acceptance run over the serial protocol (C4): info, status, selftest, a "
        "bench waveform into the dummy load, status, log. Exit 1 on a failed check.",
    )
    p.add_argument("--port", required=True, metavar="P", help="serial port (devsim: its pty)")
    p.add_argument("--load-ohm", type=int, default=DUMMY_LOAD_OHM,
                   help="dummy load in ohm (default %d, docs/bench.md)" % DUMMY_LOAD_OHM)
    p.add_argument("--shape", default="square", help="bench shape (default square)")
    p.add_argument("--hz", type=float, default=7.0,
                   help="bench frequency (default 7: not a divisor of the 10 Hz telemetry)")
    p.add_argument("--ua", type=int, default=100, help="bench peak current in uA (default 100)")
    p.add_argument("--run-s", type=float, default=3.0,
                   help="bench time in s of the device's clock (default 3)")
    p.add_argument("--restart", action="store_true",
                   help="if the app is stopped (the device is at the MicroPython REPL), restart it")
    p.set_defaults(func=run)


class Hil:
    def __init__(self, link, out=sys.stdout):
        self.link = link
        self.out = out
        self.failed = 0
        self.telemetry = []
        self.slowdown = 1.0  # wall s per device s, measured in the bench: scales the waits after it

    def check(self, name, ok, detail=""):
        self.out.write("%s %-9s %s\n" % ("PASS" if ok else "FAIL", name, detail))
        self.out.flush()
        if not ok:
            self.failed += 1
        return ok

    def request(self, name, obj, timeout_s=3.0):
        response = self.link.request(obj, timeout_s)
        if not response.get("ok"):
            self.check(name, False, "error: %s" % response.get("error"))
        return response

    def wait_state(self, states, timeout_s):
        """Poll status until its state is one of states; returns the last status."""
        end = time.monotonic() + timeout_s * self.slowdown
        while True:
            status = self.link.request({"cmd": "status"})
            if status.get("state") in states or time.monotonic() >= end:
                return status
            time.sleep(0.1)


def _no_fault(status):
    return status.get("fault") in (None, "", "NONE")


def run_checks(hil, args):
    link = hil.link
    info = hil.request("info", {"cmd": "info"})
    hil.check("info", info.get("ok") and "board" in info,
              "board %s firmware %s" % (info.get("board"), info.get("fw")))
    log_before = link.request({"cmd": "log"}).get("entries") or []

    status = hil.request("status", {"cmd": "status"})
    missing = [k for k in STATUS_KEYS if k not in status]
    hil.check("status", status.get("ok") and not missing and _no_fault(status),
              "state %s fault %s%s" % (status.get("state"), status.get("fault"),
                                      " missing " + ",".join(missing) if missing else ""))
    head = status.get("head")
    hil.check("head", head in ("face", "eye"),
              "head %s%s" % (head, "" if head in ("face", "eye") else
                             " (no known head: attach one, or clean its ID contact; docs/hardware.md)"))
    if status.get("state") != "OFF":  # a previous run left it on: bring it back to OFF
        link.request({"cmd": "stop"})
        hil.wait_state(("OFF", "FAULT"), 3.0)

    measure_speed(hil)
    response = hil.request("selftest", {"cmd": "selftest"})
    # the bench has not measured the device's speed yet: a bound that holds on an emulated Pico
    # on a loaded machine (300 ms of self-test at 0.05 of real time); a board returns in 50 ms
    status = hil.wait_state(("OFF", "FAULT", "STANDBY"), SELFTEST_WAIT_S)
    result = (status.get("selftest") or {}).get("result")
    hil.check("selftest", response.get("ok") and _no_fault(status) and result in (None, "passed"),
              "result %s, state %s, fault %s" % (result, status.get("state"), status.get("fault")))

    bench(hil, args)

    link.request({"cmd": "stop"})
    status = hil.wait_state(("OFF",), 3.0)
    hil.check("stop", status.get("state") == "OFF" and _no_fault(status),
              "state %s fault %s" % (status.get("state"), status.get("fault")))

    log = hil.request("log", {"cmd": "log"})
    entries = log.get("entries")
    new = entries[len(log_before):] if isinstance(entries, list) else None
    hil.check("log", isinstance(entries, list) and all("code" in e for e in entries) and not new,
              "%s entries%s" % (len(entries) if isinstance(entries, list) else "no",
                                ", new: %s" % [e.get("code") for e in new] if new else ""))


def _stream(hil, device_s):
    """Telemetry for device_s of the device's time (at most SLOW_DEVICE_FACTOR times that of
    ours); hil.slowdown from it. Streaming stays on: the caller switches it off."""
    link = hil.link
    samples = []
    link.on_other = lambda line, doc: samples.append(doc) if doc and "ua" in doc else None
    link.request({"cmd": "stream", "on": True})
    start = time.monotonic()
    end = start + device_s * SLOW_DEVICE_FACTOR
    while time.monotonic() < end and _device_s(samples) < device_s:
        line = link.read_line(0.2)
        if line is not None:
            link.on_other(line, parse(line))
    if _device_s(samples) > 0:
        hil.slowdown = min(SLOW_DEVICE_FACTOR, max(1.0, (time.monotonic() - start) / _device_s(samples)))
    return samples


def measure_speed(hil):
    """How fast the device runs against the wall clock (an emulated one runs slower), so the
    waits for the self-test and the stop are in the device's time."""
    _stream(hil, 0.3)
    hil.link.request({"cmd": "stream", "on": False})
    hil.link.on_other = None


def bench(hil, args):
    link = hil.link
    request = {"cmd": "bench", "shape": args.shape, "hz": args.hz, "ua": args.ua}
    response = hil.request("bench", request)
    if not response.get("ok"):
        return
    samples = _stream(hil, args.run_s)
    status = link.request({"cmd": "status"})
    link.request({"cmd": "stream", "on": False})
    link.on_other = None
    hil.telemetry = samples
    tail = [s["ua"] for s in samples[len(samples) // 2:] if isinstance(s.get("ua"), int)]
    peak_pos = max(tail, default=0)
    peak_neg = -min(tail, default=0)
    limit = args.ua * 110 // 100 + 10  # R1: cap + 10 % + 10 uA
    hil.check("bench", response.get("ok") and len(samples) >= args.run_s * 5,
              "%s %s Hz %d uA, %d telemetry lines" % (args.shape, args.hz, args.ua, len(samples)))
    hil.check("current", args.ua // 2 <= peak_pos <= limit and args.ua // 2 <= peak_neg <= limit,
              "peaks +%d / -%d uA (expected up to %d, biphasic)" % (peak_pos, peak_neg, limit))
    ohm = status.get("ohm")
    hil.check("load", status.get("contact") is True and isinstance(ohm, int)
              and abs(ohm - args.load_ohm) <= args.load_ohm // 5 and _no_fault(status),
              "contact %s, %s ohm (dummy load %d), state %s"
              % (status.get("contact"), ohm, args.load_ohm, status.get("state")))


def _device_s(samples):
    """Device seconds the telemetry spans so far (its "t")."""
    times = [s["t"] for s in samples if isinstance(s.get("t"), (int, float))]
    return times[-1] - times[0] if times else 0.0


def run(args):
    try:
        link = device.open_app(args.port, args.restart)
    except LinkError as exc:
        sys.stderr.write("hil: error: %s: %s\n" % (args.port, exc))
        return 2
    except OSError as exc:
        sys.stderr.write("hil: error: cannot open %s (%s)\n" % (args.port, exc))
        return 2
    hil = Hil(link)
    try:
        run_checks(hil, args)
    except LinkError as exc:
        sys.stderr.write("hil: error: %s: %s\n" % (args.port, exc))
        return 2
    finally:
        link.close()
    print("hil: %s" % ("all checks passed" if not hil.failed else "%d check(s) failed" % hil.failed))
    return 1 if hil.failed else 0
