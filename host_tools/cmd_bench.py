"""`bench`: measure a scope capture of the output across a dummy load, check it against
expectations and the safety limits. Walk-through and tolerances: docs/bench.md."""
import argparse
import json
import math
import sys

SHAPES = ("square", "sine", "triangle", "burst")
FREQ_TOL = 0.02  # relative
AMP_TOL = 0.10  # relative, or AMP_TOL_UA if that is larger
AMP_TOL_UA = 10.0
HARD_MAX_UA = 500.0  # SPEC R1
BALANCE_MAX = 0.05  # SPEC R3
KEYS = ("vendor", "channel", "samples", "sample_rate_hz", "shape", "freq_hz",
        "peak_pos_ua", "peak_neg_ua", "dc_ua", "balance")


def register(sub):
    p = sub.add_parser(
        "bench", help="measure a scope CSV capture across a dummy load",
        description="Read a scope CSV export (Rigol, Siglent, Keysight, Tektronix, PicoScope "
        "or generic time,volts; fields separated by ',', ';' or tabs, decimal point or comma), "
        "convert to current through the dummy load, measure shape, "
        "frequency, peaks, DC and charge balance, and check expectations plus the safety "
        "limits (|peak| <= 500 uA, balance <= 5 %). Exit 0 all pass, 1 a check failed, "
        "2 bad input.")
    p.add_argument("capture", metavar="CAPTURE.csv", help="scope CSV export")
    p.add_argument("--load-ohm", type=_positive, required=True, metavar="R",
                   help="dummy load across the electrodes, ohms (e.g. 10000)")
    p.add_argument("--channel", type=_channel, metavar="N",
                   help="scope channel (1 = CH1 / Channel A); default: the first in the file")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--plot", metavar="F.png", help="save the capture in uA, annotated")
    p.add_argument("--expect-shape", choices=SHAPES, metavar="S",
                   help="expected shape: %s (exact)" % ", ".join(SHAPES))
    p.add_argument("--expect-hz", type=_positive, metavar="F",
                   help="expected carrier frequency (+-2 %%)")
    p.add_argument("--expect-ua", type=_positive, metavar="A",
                   help="expected peak current each way (+-10 %% or +-10 uA, the larger)")
    p.set_defaults(func=run)


def _positive(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("%r is not a number" % text) from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError("must be a positive number, got %s" % text)
    return value


def _channel(text):
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError("channel must be 1, 2, ..., got %r" % text)
    return int(text)


def run(args):
    from host_tools import scope  # numpy: only when a capture is read

    try:
        capture = scope.read_capture(args.capture, args.channel)
        result = scope.measure(capture.time_s, capture.volts / args.load_ohm * 1e6)
    except scope.CaptureError as exc:
        where = args.capture if exc.line is None else "%s line %d" % (args.capture, exc.line)
        sys.stderr.write("bench: error: %s: %s\n" % (where, exc))
        return 2
    result = {"vendor": capture.vendor, "channel": capture.channel, **result,
              "load_ohm": args.load_ohm}
    result["checks"] = checks(result, args.expect_shape, args.expect_hz, args.expect_ua)
    if args.plot:
        try:
            _plot(capture, args.load_ohm, result, args.plot)
        except OSError as exc:
            sys.stderr.write("bench: error: cannot write %s: %s\n" % (args.plot, exc.strerror))
            return 2
    print(json.dumps(result, indent=2) if args.json else _table(args.capture, result))
    return 0 if all(c["pass"] for c in result["checks"]) else 1


def checks(result, shape=None, freq_hz=None, ua=None):
    """One dict per check: name, expected, measured, tolerance (absolute, or None), pass."""
    out = []

    def near(name, expected, tolerance):
        measured = result[name]
        out.append(_check(name, expected, measured, tolerance,
                          abs(measured - expected) <= tolerance))

    if shape is not None:
        out.append(_check("shape", shape, result["shape"], None, result["shape"] == shape))
    if freq_hz is not None:
        near("freq_hz", freq_hz, FREQ_TOL * freq_hz)
    if ua is not None:
        near("peak_pos_ua", ua, max(AMP_TOL * ua, AMP_TOL_UA))
        near("peak_neg_ua", -ua, max(AMP_TOL * ua, AMP_TOL_UA))
    peak_ua = max(abs(result["peak_pos_ua"]), abs(result["peak_neg_ua"]))
    out.append(_check("R1 |peak| uA", "<= %g" % HARD_MAX_UA, peak_ua, None,
                      peak_ua <= HARD_MAX_UA))
    out.append(_check("R3 balance", "<= %g" % BALANCE_MAX, result["balance"], None,
                      result["balance"] <= BALANCE_MAX))
    return out


def _check(name, expected, measured, tolerance, ok):
    return {"name": name, "expected": expected, "measured": measured,
            "tolerance": tolerance, "pass": bool(ok)}


def _fmt(value):
    return "%.4g" % value if isinstance(value, float) else str(value)


def _fmt_key(result, key):
    if key == "balance":  # a fraction in JSON, easier to read as a percentage here
        return "%.3f (%.2f %%)" % (result[key], 100 * result[key])
    if key == "sample_rate_hz":
        return "%.6g" % result[key]
    return _fmt(result[key])


def _table(path, result):
    lines = ["%s (load %g ohm)" % (path, result["load_ohm"])]
    lines += ["  %-15s %s" % (key, _fmt_key(result, key)) for key in KEYS]
    lines.append("")
    lines.append("  %-15s %-10s %-10s %-10s %s" % ("check", "expected", "measured", "+-", ""))
    for c in result["checks"]:
        tol = "-" if c["tolerance"] is None else _fmt(c["tolerance"])
        lines.append("  %-15s %-10s %-10s %-10s %s" % (
            c["name"], _fmt(c["expected"]), _fmt(c["measured"]), tol,
            "PASS" if c["pass"] else "FAIL"))
    failed = sum(not c["pass"] for c in result["checks"])
    lines.append("")
    lines.append("FAIL: %d check(s) failed" % failed if failed else "PASS")
    return "\n".join(lines)


def _plot(capture, load_ohm, result, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # ms reads better for the usual 10 ms - 1 s captures, seconds for slow ones
    span_s = capture.time_s[-1] - capture.time_s[0]
    scale, unit = (1e3, "ms") if span_s < 2 else (1.0, "s")
    fig, ax = plt.subplots(figsize=(11, 4.5))
    fig.subplots_adjust(left=0.08, right=0.74, bottom=0.12, top=0.9)
    ax.plot(capture.time_s * scale, capture.volts / load_ohm * 1e6, lw=0.8, color="tab:blue")
    for key, colour in (("peak_pos_ua", "tab:red"), ("peak_neg_ua", "tab:purple")):
        ax.axhline(result[key], ls="--", lw=0.8, color=colour)
    start_s, stop_s = result["window_s"]
    ax.axvspan(start_s * scale, stop_s * scale, color="0.9", zorder=0,
               label="whole periods (balance, dc)")
    ax.axhline(HARD_MAX_UA, color="red", lw=0.6)
    ax.axhline(-HARD_MAX_UA, color="red", lw=0.6)
    ax.set_ylim(min(result["peak_neg_ua"], -50) * 1.3, max(result["peak_pos_ua"], 50) * 1.3)
    ax.set_xlabel("time (%s)" % unit)
    ax.set_ylabel("current (µA) through %g Ω" % load_ohm)
    ax.set_title("%s %s: %s %.4g Hz" % (capture.vendor, capture.channel, result["shape"],
                                        result["freq_hz"]))
    text = "\n".join(
        ["peak +%.1f / %.1f µA" % (result["peak_pos_ua"], result["peak_neg_ua"]),
         "dc %.2f µA, balance %.2f %%" % (result["dc_ua"], 100 * result["balance"])]
        + ["%s %s" % ("PASS" if c["pass"] else "FAIL", c["name"]) for c in result["checks"]])
    ax.text(1.02, 1.0, text, transform=ax.transAxes, va="top", fontsize=8, family="monospace")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 0.25), fontsize=8, frameon=False)
    try:
        fig.savefig(path, dpi=100)
    finally:
        plt.close(fig)
