"""Oscilloscope CSV captures: read the common vendor exports, measure the roller waveform.

Pure functions (no printing, no argparse). Bad input raises CaptureError with a one-line
message; `line` is the 1-based line of the file it refers to, when there is one.
Supported layouts are described in docs/bench.md.
"""
import csv
import math
import re
from dataclasses import dataclass

import numpy as np

FLAT_UA = 2.0  # below this peak-to-peak there is no waveform, only scope noise
HYSTERESIS = 0.3  # edge detector band, as a fraction of the half swing around the centre
GAP_LEVEL = 0.15  # |i| below this fraction of the peak counts as "off" (burst gaps)
EXTREME_LEVEL = 0.8  # shape: time spent beyond this fraction of the half swing


class CaptureError(ValueError):
    def __init__(self, message, line=None):
        super().__init__(message)
        self.line = line


@dataclass
class Capture:
    vendor: str
    channel: str  # channel label as the file names it
    time_s: np.ndarray
    volts: np.ndarray


# --- reading -------------------------------------------------------------------------------

def read_capture(path, channel=None):
    """Read a CSV export; `channel` is the 1-based scope channel (None: the first one)."""
    rows = _read_rows(path)
    if not any(rows):
        raise CaptureError("file is empty")
    for parse in (_tektronix, _rigol_ds, _rigol_mso, _keysight, _picoscope, _siglent):
        parsed = parse(rows, channel)
        if parsed is not None:
            return _checked(parsed)
    return _checked(_generic(rows, channel))


def _read_rows(path):
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise CaptureError("no such file") from None
    except OSError as exc:
        raise CaptureError(exc.strerror or "cannot read") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:  # PicoScope on Windows writes 'µ' in Latin-1
        text = raw.decode("latin-1")
    lines = text.splitlines()
    separator = _separator(lines)
    rows = _Rows(_cells(line, separator) for line in lines)
    rows.separator = separator
    _decimal_commas_to_points(rows)
    return rows


class _Rows(list):
    """The file's lines as lists of cells, and the separator they were split at."""
    separator = ","


# Locales with a decimal comma write ';' (or a tab) between fields: PicoScope there, and any
# capture re-saved by a spreadsheet. A spreadsheet that keeps ',' quotes the numbers instead.
_OTHER_SEPARATORS = {"\t": "tab", ";": "semicolon"}
_POINT_NUMBER = re.compile(r"[+-]?(\d+\.\d*|\.\d+)(e[+-]?\d+)?$", re.I)
_COMMA_NUMBER = re.compile(r"[+-]?(\d+,\d*|,\d+)(e[+-]?\d+)?$", re.I)
_MARK_NAMES = {".": "point", ",": "comma"}


def _separator(lines):
    """',' unless a tab or ';' is on at least half of the non-blank lines (not both)."""
    filled = [line for line in lines if line.strip()]
    found = [sep for sep in _OTHER_SEPARATORS if 2 * sum(sep in line for line in filled) >= len(filled) > 0]
    if len(found) > 1:
        raise CaptureError("tabs and semicolons both separate fields: cannot tell the separator")
    return found[0] if found else ","


def _cells(line, separator):
    cells = next(csv.reader([line], delimiter=separator, skipinitialspace=True)) if '"' in line \
        else line.split(separator)
    cells = [c.strip().strip('"').strip() for c in cells]
    while cells and not cells[-1]:  # Rigol and Tektronix end every row with a comma
        cells.pop()
    return cells


def _decimal_commas_to_points(rows):
    """Numbers written with a decimal comma become 'x.y'; a file with both marks is refused."""
    first = {}  # mark -> first line with a number written with it
    for index, cells in enumerate(rows):
        for cell in cells:
            for mark, pattern in ((".", _POINT_NUMBER), (",", _COMMA_NUMBER)):
                if mark not in first and pattern.match(cell):
                    first[mark] = index + 1
    if "," not in first:
        return
    if "." in first:
        later, earlier = sorted(first, key=first.get, reverse=True)
        raise CaptureError("a decimal %s here, decimal %ss from line %d: mixed number formats"
                           % (_MARK_NAMES[later], _MARK_NAMES[earlier], first[earlier]), first[later])
    for cells in rows:
        for k, cell in enumerate(cells):
            if _COMMA_NUMBER.match(cell):
                cells[k] = cell.replace(",", ".")


def _number(text, line):
    try:
        value = float(text)
    except ValueError:
        raise CaptureError("%r is not a number" % text, line) from None
    if not math.isfinite(value):
        raise CaptureError("%r is not a finite number (over-range?)" % text, line)
    return value


def _columns(rows, start, cols, width):
    """Numeric table of `cols` from rows[start:], skipping blank lines; plus the line numbers.
    `width`: the columns the layout has (more values on a row: a decimal comma split them?)."""
    need = max(cols) + 1
    values, lines = [], []
    for index in range(start, len(rows)):
        cells = rows[index]
        if not cells:
            continue
        line = index + 1
        if len(cells) < need:
            raise CaptureError("expected %d columns, found %d%s" % (
                need, len(cells), "" if rows.separator == "," else
                " (this file separates fields with %ss)" % _OTHER_SEPARATORS[rows.separator]), line)
        if len(cells) > width:
            raise _too_wide(rows, index, width)
        values.append([_number(cells[c], line) for c in cols])
        lines.append(line)
    return np.array(values, dtype=float).reshape(-1, len(cols)), lines


def _too_wide(rows, index, width):
    return CaptureError("%d values in a layout of %d columns%s" % (
        len(rows[index]), width,
        " (decimal commas in a comma-separated file?)" if rows.separator == "," else ""), index + 1)


def _pick(labels, channel, names):
    """Index into `labels` of scope channel `channel`; `names(n)` gives the labels it may have."""
    if channel is None:
        return 0
    wanted = {n.lower() for n in names(channel)}
    for index, label in enumerate(labels):
        if label.lower() in wanted:
            return index
    raise CaptureError("channel %d not present (file has %s)" % (channel, ", ".join(labels)))


def _ch_names(n):
    return ("CH%d" % n, "C%d" % n)


def _table(vendor, rows, start, labels, channel, names, width=None):
    """Time in the first column, then one column per label (`width` columns in all)."""
    index = _pick(labels, channel, names)
    data, lines = _columns(rows, start, (0, 1 + index), width or 1 + len(labels))
    return Capture(vendor, labels[index], data[:, 0], data[:, 1]), lines


def _tektronix(rows, channel):
    # 6 columns: header label/value/unit in columns 1-3 of the first rows, time,volts in 4-5
    head = rows[0]
    if len(head) < 5 or head[0] != "Record Length":  # Siglent's has two columns
        return None
    meta = {r[0]: r[1] for r in rows[:32] if len(r) > 1 and r[0]}
    source = meta.get("Source", "CH1")
    _pick([source], channel, _ch_names)
    data, lines = _columns(rows, 0, (3, 4), 5)
    return Capture("tektronix", source, data[:, 0], data[:, 1]), lines


def _rigol_ds(rows, channel):
    # X,CH1,Start,Increment /  Sequence,Volt,<start>,<increment> / index,value
    head = rows[0]
    if not head or head[0] != "X" or "Start" not in head or "Increment" not in head:
        return None
    at_start, at_inc = head.index("Start"), head.index("Increment")
    if len(rows) < 2 or len(rows[1]) <= at_inc:
        raise CaptureError("Rigol units line lacks Start/Increment values", 2)
    if len(rows[1]) > len(head):
        raise _too_wide(rows, 1, len(head))
    start_s = _number(rows[1][at_start], 2)
    step_s = _number(rows[1][at_inc], 2)
    if step_s <= 0:
        raise CaptureError("Increment must be positive", 2)
    capture, lines = _table("rigol", rows, 2, head[1:at_start], channel, _ch_names)
    capture.time_s = start_s + capture.time_s * step_s
    return capture, lines


def _rigol_mso(rows, channel):
    # Time(s),CH1(V)[,CH2(V)][,t0 = ...,tInc = ...] / time,value rows
    head = rows[0]
    if not head or not head[0].lower().startswith("time(s)"):
        return None
    labels = [re.match(r"(CH\d+)", c).group(1) for c in head[1:] if re.match(r"CH\d+", c)]
    if not labels:
        return None
    # rows at most as wide as the header, whose t0 = / tInc = cells may stand over empty ones
    return _table("rigol", rows, 1, labels, channel, _ch_names, len(head))


def _keysight(rows, channel):
    # x-axis,1[,2] / second,Volt[,Volt] / rows
    head = rows[0]
    if not head or head[0].lower() != "x-axis":
        return None
    return _table("keysight", rows, 2, head[1:], channel, lambda n: (str(n),))


_TIME_UNITS = {"(s)": 1.0, "(ms)": 1e-3, "(us)": 1e-6, "(ns)": 1e-9}
_VOLT_UNITS = {"(v)": 1.0, "(mv)": 1e-3, "(uv)": 1e-6}


def _picoscope(rows, channel):
    # Time,Channel A[,Channel B] / (ms),(mV)[,(mV)] / blank / rows
    head = rows[0]
    if len(head) < 2 or head[0] != "Time" or not head[1].startswith("Channel"):
        return None
    units = [u.replace("\u00b5", "u").replace("\u03bc", "u").lower() for u in rows[1]]
    if len(units) < len(head):
        raise CaptureError("PicoScope units line has %d columns, expected %d"
                           % (len(units), len(head)), 2)
    capture, lines = _table("picoscope", rows, 2, head[1:], channel,
                            lambda n: ("Channel " + chr(ord("A") + n - 1),))
    column = 1 + head[1:].index(capture.channel)
    if units[0] not in _TIME_UNITS:
        raise CaptureError("unknown time unit %r" % rows[1][0], 2)
    if units[column] not in _VOLT_UNITS:
        raise CaptureError("unknown voltage unit %r" % rows[1][column], 2)
    capture.time_s = capture.time_s * _TIME_UNITS[units[0]]
    capture.volts = capture.volts * _VOLT_UNITS[units[column]]
    return capture, lines


def _siglent(rows, channel):
    # "Record Length,..." and other label,value lines, then Second,Volt[,Volt] / rows
    if not rows[0] or rows[0][0] != "Record Length":
        return None
    head = next((i for i, r in enumerate(rows) if [c.lower() for c in r[:2]] == ["second", "volt"]),
                None)
    if head is None:
        raise CaptureError("Siglent header without a 'Second,Volt' line")
    sources = next((r[1:] for r in rows[:head] if r and r[0] == "Source"), [])
    labels = [s.split(":")[0] for s in sources] or ["CH%d" % n for n in range(1, len(rows[head]))]
    return _table("siglent", rows, head + 1, labels, channel, _ch_names)


def _generic(rows, channel):
    # time,volts[,volts...] with an optional header line
    start = next(i for i, r in enumerate(rows) if r)
    head = rows[start]
    has_header = not _is_number(head[0])
    width = len(head)
    if width < 2:
        raise CaptureError("expected time and volts columns, found 1 column", start + 1)
    labels = head[1:] if has_header else ["column %d" % n for n in range(2, width + 1)]
    if channel is not None and channel > len(labels):
        raise CaptureError("channel %d not present (file has %d data column%s)"
                           % (channel, len(labels), "s" * (len(labels) > 1)))
    index = 0 if channel is None else channel - 1
    data, lines = _columns(rows, start + has_header, (0, 1 + index), width)
    return Capture("generic", labels[index], data[:, 0], data[:, 1]), lines


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def _checked(parsed):
    capture, lines = parsed
    if capture.time_s.size == 0:
        raise CaptureError("no samples")
    if capture.time_s.size == 1:
        raise CaptureError("only 1 sample", lines[0])
    back = np.flatnonzero(np.diff(capture.time_s) <= 0)
    if back.size:
        raise CaptureError("time does not increase", lines[back[0] + 1])
    return capture


# --- measuring -----------------------------------------------------------------------------

def measure(time_s, current_ua):
    """Shape, carrier frequency, peaks, mean and charge balance of a current capture."""
    current_ua = _despike(np.asarray(current_ua, dtype=float))
    peak_pos_ua, peak_neg_ua = float(current_ua.max()), float(current_ua.min())
    swing_ua = peak_pos_ua - peak_neg_ua
    if swing_ua < FLAT_UA:
        raise CaptureError("signal is flat (%.2f uA peak to peak): nothing to measure" % swing_ua)
    centre_ua, half_ua = (peak_pos_ua + peak_neg_ua) / 2, swing_ua / 2
    edges_s = _rising_edges(time_s, current_ua, centre_ua - HYSTERESIS * half_ua,
                            centre_ua + HYSTERESIS * half_ua)
    if edges_s.size < 2:
        raise CaptureError("less than one full period captured: widen the timebase")
    period_s = _carrier_period(np.diff(edges_s))
    # whole periods only, so a balanced waveform integrates to zero whatever the trigger phase
    first, last = np.searchsorted(time_s, edges_s[[0, -1]])
    t, i = time_s[first:last], current_ua[first:last]
    net_uas = float(np.trapezoid(i, t))
    total_uas = float(np.trapezoid(np.abs(i), t))
    return {
        "samples": int(time_s.size),
        "sample_rate_hz": float(1 / np.median(np.diff(time_s))),
        "shape": _shape(time_s, current_ua, centre_ua, half_ua, period_s, first, last),
        "freq_hz": float(1 / period_s),
        "peak_pos_ua": peak_pos_ua,
        "peak_neg_ua": peak_neg_ua,
        "dc_ua": net_uas / float(t[-1] - t[0]),
        "balance": abs(net_uas) / total_uas if total_uas > 0 else 0.0,
        "window_s": [float(t[0]), float(t[-1])],
    }


def _despike(x):
    """3-point running median: drops single-sample glitches, keeps edges and plateaus."""
    if x.size < 3:
        return x
    out = x.copy()
    out[1:-1] = np.median(np.stack((x[:-2], x[1:-1], x[2:])), axis=0)
    return out


def _rising_edges(time_s, x, low, high):
    """Times where x rises through `high` after having been below `low` (noise-proof)."""
    state = np.where(x > high, 1, np.where(x < low, -1, 0))
    outside = np.flatnonzero(state)
    s = state[outside]
    k = outside[1:][(s[1:] == 1) & (s[:-1] == -1)]
    # linear interpolation between the samples around the crossing: sub-sample timing
    frac = (high - x[k - 1]) / (x[k] - x[k - 1])
    return time_s[k - 1] + frac * (time_s[k] - time_s[k - 1])


def _carrier_period(intervals_s):
    # bursts add long gap intervals: the carrier is the typical short interval
    short = np.median(intervals_s[intervals_s <= np.median(intervals_s)])
    carrier = intervals_s[np.abs(intervals_s - short) <= 0.25 * short]
    return float(carrier.sum() / carrier.size)


def _shape(time_s, x, centre, half, period_s, first, last):
    if _has_gap(time_s, np.abs(x) < GAP_LEVEL * max(abs(x.max()), abs(x.min())), period_s):
        return "burst"
    # time fraction near the extremes: square ~1, sine ~0.41, triangle 0.2
    extreme = float(np.mean(np.abs(x[first:last] - centre) > EXTREME_LEVEL * half))
    if extreme > 0.7:
        return "square"
    return "sine" if extreme > 0.3 else "triangle"


def _has_gap(time_s, off, period_s):
    """An interior stretch of 'off' at least one carrier period long."""
    change = np.flatnonzero(np.diff(off.astype(np.int8))) + 1
    starts = np.concatenate(([0], change))
    stops = np.concatenate((change, [off.size]))
    interior = (starts > 0) & (stops < off.size)
    long_enough = time_s[stops - 1] - time_s[starts] >= period_s
    return bool(np.any(off[starts] & interior & long_enough))
