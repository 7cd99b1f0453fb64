"""Export a C2 trace (list of event dicts) as VCD for GTKWave/PulseView, plus a .gtkw save file."""
import math
import os

from vcd import VCDWriter
from vcd.gtkw import GTKWColor, GTKWFlag, GTKWSave

SCOPE = "roller"
US_PER_S = 1_000_000  # timescale 1 us
# (name, vcd type, size, initial value); order is also the GTKWave display order
SIGNALS = (
    ("ua", "real", None, 0.0),
    ("setpoint_ua", "real", None, 0.0),  # what the current source is set to (the DAC), unsigned
    ("enable", "wire", 1, 0),  # the output-enable switch
    ("polarity", "integer", 2, 0),  # the H-bridge: 1 forward, -1 reverse, 0 off
    ("v", "real", None, 0.0),
    ("state", "string", None, ""),
    ("level", "integer", 3, 0),
    ("program", "string", None, ""),
    ("fault", "string", None, ""),
    ("zone", "string", None, ""),
    ("cue", "wire", 1, 0),  # the vibration motor
    ("led_r", "wire", 8, 0),
    ("led_g", "wire", 8, 0),
    ("led_b", "wire", 8, 0),
    ("button", "wire", 1, 0),
    ("head", "string", None, ""),  # the head the firmware has accepted ("none" while none is)
    ("hw", "string", None, ""),
)
# `out` fields that the simulator adds to C2 (docs/board.md, "The trace"); a trace without them
# leaves these signals at 0
_PINS = (("en", "enable", int), ("pol", "polarity", int), ("set_ua", "setpoint_ua", float))


def _text(value):
    # pyvcd escapes spaces as \x20, which GTKWave shows literally: use '_' instead
    return "_".join(str(value).split())


def _changes(event):
    """(signal, value) pairs an event sets."""
    kind = event.get("kind")
    if kind == "out":
        return (("ua", float(event["ua"])), ("v", float(event["v"]))) + tuple(
            (name, cast(event[field])) for field, name, cast in _PINS if field in event)
    if kind == "state":
        return (("state", _text(event["state"])), ("level", int(event["level"])),
                ("program", _text(event["program"])))
    if kind == "cue_pin":
        return (("cue", int(bool(event["on"]))),)
    if kind == "fault":
        return (("fault", _text(event["code"])),)
    if kind == "reset":  # a power cycle or watchdog reset unlatches the fault display
        return (("fault", ""),)
    if kind == "cue":
        return (("zone", _text(event["zone"])),)
    if kind == "led":
        r, g, b = (int(c) for c in event["rgb"])
        return (("led_r", r), ("led_g", g), ("led_b", b))
    if kind == "button":
        return (("button", int(bool(event["pressed"]))),)
    if kind == "head":
        return (("head", _text(event["head"] or "none")),)
    if kind == "hw":
        return (("hw", _text(event["event"])),)
    return ()


def write_vcd(events, path):
    """Write `path` (.vcd) and its GTKWave save file; returns the .gtkw path."""
    header = next((e for e in events if e.get("kind") == "header"), {})
    ordered = sorted(events, key=lambda e: e.get("t", 0.0))  # stable: same-t order kept
    end_us = round(ordered[-1].get("t", 0.0) * US_PER_S) if ordered else 0
    comment = "roller-trace board=%s scenario=%s runtime=%s" % (
        header.get("board", "?"), header.get("scenario", "?"), header.get("runtime", "?"))
    with open(path, "w") as f, VCDWriter(f, timescale="1 us", date="", comment=comment,
                                         version=str(header.get("firmware", ""))) as writer:
        signals = {name: writer.register_var(SCOPE, name, kind, size=size, init=init)
                   for name, kind, size, init in SIGNALS}
        for event in ordered:
            t_us = round(event.get("t", 0.0) * US_PER_S)
            for name, value in _changes(event):
                writer.change(signals[name], t_us, value)
        writer.close(end_us)
    gtkw_path = os.path.splitext(path)[0] + ".gtkw"
    _write_gtkw(path, gtkw_path, end_us)
    return gtkw_path


def _write_gtkw(vcd_path, gtkw_path, end_us):
    with open(gtkw_path, "w") as f:
        save = GTKWSave(f)
        save.comment("GTKWave save file for %s" % os.path.basename(vcd_path))
        # beside the save file, by name only: the pair can move together (GTKWave reads the name
        # from its working directory, so `cd` there first, or name both: gtkwave F.vcd F.gtkw)
        save.dumpfile(os.path.basename(vcd_path), abspath=False)
        save.timestart(0)
        save.zoom_markers(_zoom(end_us))
        save.treeopen(SCOPE)
        for name, kind, size, _ in SIGNALS:
            full = "%s.%s" % (SCOPE, name)
            if kind == "real":  # analog step display, a few rows tall
                save.trace(full, datafmt="real", color=GTKWColor.green,
                           extraflags=GTKWFlag.analog_step)
                for _ in range(3):
                    save.blank(analog_extend=True)
            elif kind == "integer":
                save.trace(full, datafmt="dec", extraflags=GTKWFlag.signed)
            elif size == 8:
                save.trace(full, datafmt="dec")
            else:
                save.trace(full, datafmt="ascii" if kind == "string" else "bin")


def _zoom(end_us):
    # GTKWave shows 2**-zoom time units per pixel: fit the whole run into ~1000 pixels
    return -math.log2(max(end_us / 1000, 1))
