"""PNG overview of a C2 trace: lanes for the states and the events (button, serial commands,
level and program changes, cues, faults), the current and the electrode voltage each on its own
axes, and a zoom on a few waveform periods at full current."""
import json

import numpy as np

STATE_COLOURS = {"OFF": "0.6", "SELFTEST": "gold", "STANDBY": "tab:cyan", "RUN": "tab:green",
                 "PAUSED": "tab:orange", "DONE": "tab:purple", "CHARGING": "tab:blue",
                 "FAULT": "tab:red"}
CURRENT_COLOUR = "tab:blue"
COMMANDED_COLOUR = "0.1"
VOLTAGE_COLOUR = "tab:orange"
# event lanes, top to bottom: (name, marker, colour)
LANES = (("button", "v", "0.1"), ("serial", ">", "tab:purple"), ("level/program", "D", "tab:green"),
         ("cue", "|", "0.3"), ("fault/reset", "X", "tab:red"))
LEGEND_NAMES = {"button": "button press", "serial": "serial command", "level/program":
                "level/program change", "cue": "zone cue", "fault/reset": "fault, reset"}
BINS = 2000  # overview resolution: about one bin per pixel, whatever the run length
ZOOM_DELAY_S = 0.05  # past the soft-start ramp
ZOOM_PERIODS = 4
ZOOM_MAX_S = 10.0
LABEL_PT = 7.5
LABEL_GAP_PX = 4  # free space after a label before the next one in its row
LABEL_ROWS = 2  # label rows in the state lane and in each event lane
DPI = 100


def _outs(events):
    return sorted((e for e in events if e.get("kind") == "out"), key=lambda e: e["t"])


def out_series(events):
    """Sample-and-hold series (t_s, ua, v) of the `out` events, starting from 0 at t=0."""
    outs = _outs(events)
    t_s = np.array([0.0] + [e["t"] for e in outs])
    ua = np.array([0.0] + [e["ua"] for e in outs], dtype=float)
    v = np.array([0.0] + [e["v"] for e in outs], dtype=float)
    return t_s, ua, v


def commanded_series(events):
    """The current the output pins ask for (enable x polarity x setpoint) at the times of
    out_series; None for a trace without the pin fields."""
    outs = _outs(events)
    if not outs or "set_ua" not in outs[0]:
        return None
    return np.array([0.0] + [e["en"] * e["pol"] * e["set_ua"] for e in outs], dtype=float)


def envelope(t_s, x, start_s, stop_s, bins=BINS):
    """Bin edges and the min/max a sample-and-hold series takes within each bin."""
    edges = np.linspace(start_s, stop_s, bins + 1)
    held = np.searchsorted(t_s, edges[:-1], side="right") - 1
    low = np.where(held >= 0, x[np.maximum(held, 0)], 0.0)
    high = low.copy()
    inside = (t_s > start_s) & (t_s < stop_s)
    where = np.minimum(np.searchsorted(edges, t_s[inside], side="right") - 1, bins - 1)
    np.minimum.at(low, where, x[inside])
    np.maximum.at(high, where, x[inside])
    return edges, np.append(low, low[-1]), np.append(high, high[-1])


def zoom_window(t_s, ua, end_s):
    """(start_s, stop_s) around a few periods at full current; None if no current flowed."""
    peak_ua = np.abs(ua).max() if ua.size else 0.0
    if peak_ua < 1.0:
        return None
    reached_s = t_s[np.argmax(np.abs(ua) >= peak_ua)]
    after_s = reached_s + ZOOM_DELAY_S if reached_s + ZOOM_DELAY_S < end_s else reached_s
    # align on rising zero crossings so the window holds whole periods
    rising_s = t_s[1:][(ua[1:] > 0) & (ua[:-1] <= 0) & (t_s[1:] >= after_s)]
    if rising_s.size >= 2:
        start_s, stop_s = rising_s[0], rising_s[min(ZOOM_PERIODS, rising_s.size - 1)]
    else:
        start_s, stop_s = after_s, after_s + ZOOM_DELAY_S
    margin_s = 0.05 * (stop_s - start_s)
    return start_s - margin_s, min(stop_s, start_s + ZOOM_MAX_S) + margin_s


def place_labels(starts, widths, rows, latest=None):
    """Where each label [x, x + width) goes: (row, x) with x from starts[i] up to latest[i]
    (default: starts[i]), or None where no row is free in that range. Greedy from the left: the
    earliest x, then the lowest row. Labels in one row never overlap."""
    ends = [-np.inf] * rows
    placed = [None] * len(starts)
    for i in sorted(range(len(starts)), key=lambda k: starts[k]):
        last = starts[i] if latest is None else max(starts[i], latest[i])
        x, row = min((max(starts[i], end), row) for row, end in enumerate(ends))
        if x <= last:
            ends[row] = x + widths[i]
            placed[i] = (row, x)
    return placed


def state_spans(events, end_s):
    """(start_s, stop_s, state), a span per state: a record that changes only the level or
    the program continues the span (the event lane shows the change)."""
    spans = []
    for e in events:
        if e.get("kind") == "state" and (not spans or spans[-1][2] != e["state"]):
            spans.append([e["t"], end_s, e["state"]])
            if len(spans) > 1:
                spans[-2][1] = e["t"]
    return [tuple(s) for s in spans]


def _command(line):
    try:
        cmd = json.loads(line).get("cmd")
    except (ValueError, AttributeError):
        cmd = None
    return cmd if isinstance(cmd, str) else line[:12]


def event_marks(events):
    """{lane: [(t_s, label), ...]} for the event lanes; and the button's (press_s, release_s)."""
    marks = {name: [] for name, _, _ in LANES}
    presses = []
    shown = None  # (level, program) of the last state record
    for e in events:
        kind, t = e.get("kind"), e.get("t", 0.0)
        if kind == "button":
            if e["pressed"]:
                presses.append([t, None])
            elif presses and presses[-1][1] is None:
                presses[-1][1] = t
        elif kind == "serial" and e["dir"] == "in":
            marks["serial"].append((t, _command(e["line"])))
        elif kind == "state":
            now = (e["level"], e["program"])
            if shown is not None and now != shown:
                level = "L%d" % now[0] if now[0] != shown[0] else ""
                program = now[1] if now[1] != shown[1] else ""
                marks["level/program"].append((t, " ".join(x for x in (level, program) if x)))
            shown = now
        elif kind == "cue":
            marks["cue"].append((t, str(e["zone"])))
        elif kind in ("fault", "hw"):
            marks["fault/reset"].append((t, str(e.get("code", e.get("event")))))
        elif kind == "reset" and t > 0:
            marks["fault/reset"].append((t, "reset (%s)" % e["cause"]))
    return marks, [(a, b) for a, b in presses]


def build_figure(events):
    """The overview as a matplotlib Figure (Agg canvas); plot_trace saves it."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    header = next((e for e in events if e.get("kind") == "header"), {})
    end_s = max((e.get("t", 0.0) for e in events), default=0.0) or 1.0
    t_s, ua, v = out_series(events)
    commanded = commanded_series(events)
    fig = Figure(figsize=(13, 11), dpi=DPI)
    FigureCanvasAgg(fig)
    # a fixed layout (tight_layout would space every row for the widest gap): the whole run
    # above, the zoom below
    fig.subplots_adjust(left=0.09, right=0.98, top=0.9, bottom=0.05)
    whole, zoomed = fig.add_gridspec(2, 1, height_ratios=(5.2, 2.4), hspace=0.16)
    rows = whole.subgridspec(4, 1, height_ratios=(0.45, 1.2, 2.0, 1.5), hspace=0.08)
    states = fig.add_subplot(rows[0], label="states")
    lanes = fig.add_subplot(rows[1], sharex=states, label="events")
    current = fig.add_subplot(rows[2], sharex=states, label="current")
    volts = fig.add_subplot(rows[3], sharex=states, label="voltage")
    rows = zoomed.subgridspec(2, 1, height_ratios=(1.3, 1.0), hspace=0.08)
    zoom_i = fig.add_subplot(rows[0], label="zoom current")
    zoom_v = fig.add_subplot(rows[1], sharex=zoom_i, label="zoom voltage")
    fig.suptitle("%s  (board %s, %s, firmware %s)" % (
        header.get("scenario", "trace"), header.get("board", "?"), header.get("runtime", "?"),
        header.get("firmware", "?")))
    handles = _overview(current, volts, t_s, ua, v, commanded, end_s)
    state_labels, state_handles = _states(states, state_spans(events, end_s))
    event_labels, lane_handles = _lanes(lanes, events, (current, volts))
    _zoom(zoom_i, zoom_v, t_s, ua, v, commanded, end_s)
    fig.legend(handles=handles + state_handles + lane_handles, loc="upper center", ncol=8,
               fontsize=8, frameon=False, bbox_to_anchor=(0.5, 0.965))
    _place(fig, states, state_labels, states.get_xaxis_transform())  # y: axes fraction
    _place(fig, lanes, event_labels, lanes.transData)
    return fig


def plot_trace(events, path):
    build_figure(events).savefig(path, dpi=DPI)


def _overview(current, volts, t_s, ua, v, commanded, end_s):
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    edges, low, high = envelope(t_s, ua, 0.0, end_s)
    current.fill_between(edges, low, high, step="post", color=CURRENT_COLOUR, lw=0.6)
    handles = [Patch(color=CURRENT_COLOUR, label="delivered current")]
    if commanded is not None:  # drawn only where it differs from the delivered current
        edges, c_low, c_high = envelope(t_s, commanded, 0.0, end_s)
        for line, delivered in ((c_low, low), (c_high, high)):
            current.step(edges, np.where(line == delivered, np.nan, line), where="post",
                         color=COMMANDED_COLOUR, lw=0.8)
        handles.append(Line2D([], [], color=COMMANDED_COLOUR, lw=0.8,
                              label="commanded where it differs (enable x polarity x setpoint)"))
    current.set_xlim(0, end_s)
    current.set_ylabel("current (µA)", color=CURRENT_COLOUR)
    current.tick_params(labelbottom=False)
    edges, low, high = envelope(t_s, v, 0.0, end_s)
    volts.fill_between(edges, low, high, step="post", color=VOLTAGE_COLOUR, lw=0.6)
    volts.set_ylabel("electrode voltage (V)", color=VOLTAGE_COLOUR)
    volts.set_xlabel("time (s)")
    for ax in (current, volts):
        ax.axhline(0, color="0.5", lw=0.5)
        ax.grid(alpha=0.3)
    return handles + [Patch(color=VOLTAGE_COLOUR, label="electrode voltage")]


def _states(ax, spans):
    from matplotlib.patches import Patch

    labels, seen = [], {}
    for start_s, stop_s, state in spans:
        colour = STATE_COLOURS.get(state, "0.8")
        ax.axvspan(start_s, stop_s, color=colour, alpha=0.35, lw=0)
        labels.append((start_s, stop_s, (0.72, 0.28), state, "black"))
        seen.setdefault(state, Patch(color=colour, alpha=0.35, label=state))
    ax.set_ylim(0, 1)
    ax.set_yticks([])
    ax.set_ylabel("state", rotation=0, ha="right", va="center")
    ax.tick_params(labelbottom=False)
    return labels, list(seen.values())


def _lanes(ax, events, panels):
    from matplotlib.lines import Line2D

    marks, presses = event_marks(events)
    labels, handles = [], []
    for i, (name, marker, colour) in enumerate(LANES):
        y = len(LANES) - 1 - i
        times = [t for t, _ in marks[name]] + ([a for a, _ in presses] if name == "button" else [])
        if times:
            ax.plot(times, [y] * len(times), ls="none", marker=marker, color=colour, ms=5)
            handles.append(Line2D([], [], ls="none", marker=marker, color=colour,
                                  label=LEGEND_NAMES[name]))
        labels += [(t, t, (y + 0.25, y - 0.25), text, colour) for t, text in marks[name] if text]
    for press_s, release_s in presses:  # how long it was held: click or hold
        ax.plot([press_s, release_s if release_s is not None else ax.get_xlim()[1]],
                [len(LANES) - 1] * 2, color="0.1", lw=2.5, solid_capstyle="butt")
    for t, _ in marks["cue"]:
        for panel in panels:
            panel.axvline(t, color="0.3", ls=":", lw=0.8)
    for t, _ in marks["fault/reset"]:
        for panel in panels:
            panel.axvline(t, color="tab:red", lw=1.2)
    ax.set_ylim(-0.6, len(LANES) - 0.4)
    ax.set_yticks(range(len(LANES)), [name for name, _, _ in reversed(LANES)], fontsize=8)
    ax.tick_params(labelbottom=False)
    ax.grid(axis="y", alpha=0.3)
    return labels, handles


def _place(fig, ax, labels, transform):
    """Draw labels (start, stop, (y per row), text, colour) from a small gap after start, in
    the first row and place where they overlap no other label and begin before stop less their
    width (place_labels); a label that fits nowhere is left out. Call it once the layout is
    final: it measures the labels in pixels."""
    from matplotlib.font_manager import FontProperties

    if not labels:
        return
    renderer = fig.canvas.get_renderer()
    x0, x1 = ax.get_xlim()
    per_px = (x1 - x0) / ax.get_window_extent(renderer).width
    font = FontProperties(size=LABEL_PT)
    widths = [per_px * (LABEL_GAP_PX + renderer.get_text_width_height_descent(text, font, ismath=False)[0])
              for _, _, _, text, _ in labels]
    starts = [start + 2 * per_px for start, _, _, _, _ in labels]
    latest = [stop - width for (_, stop, _, _, _), width in zip(labels, widths, strict=True)]
    spots = place_labels(starts, widths, LABEL_ROWS, latest)
    for (_, _, ys, text, colour), spot in zip(labels, spots, strict=True):
        if spot is not None:
            ax.text(spot[1], ys[spot[0]], text, transform=transform, fontproperties=font, color=colour,
                    va="center", ha="left", clip_on=True, parse_math=False)


def _zoom(zoom_i, zoom_v, t_s, ua, v, commanded, end_s):
    window = zoom_window(t_s, ua, end_s)
    if window is None:
        zoom_i.text(0.5, 0.5, "no current flowed in this run", transform=zoom_i.transAxes,
                    ha="center", va="center", fontsize=12)
        zoom_i.set_axis_off()
        zoom_v.set_axis_off()
        return
    start_s, stop_s = window
    first = max(np.searchsorted(t_s, start_s, side="right") - 1, 0)
    last = np.searchsorted(t_s, stop_s, side="right")
    # held value at the window start, the events inside, and held up to the window end
    x_ms = (np.concatenate(([start_s], t_s[first + 1:last], [stop_s])) - start_s) * 1e3

    def held(x):
        return np.concatenate((x[first:last], [x[last - 1]]))

    zoom_i.step(x_ms, held(ua), where="post", color=CURRENT_COLOUR, lw=1.8, zorder=2)
    if commanded is not None:
        # beneath the delivered current: seen where they differ
        zoom_i.step(x_ms, held(commanded), where="post", color=COMMANDED_COLOUR, lw=0.9, ls="--",
                    zorder=1.5)
    zoom_i.set_title("zoom: a few periods at full current", fontsize=10)
    zoom_i.set_ylabel("current (µA)", color=CURRENT_COLOUR)
    zoom_i.tick_params(labelbottom=False)
    zoom_v.step(x_ms, held(v), where="post", color=VOLTAGE_COLOUR, lw=1.2)
    zoom_v.set_ylabel("electrode voltage (V)", color=VOLTAGE_COLOUR)
    zoom_v.set_xlim(0, x_ms[-1])
    zoom_v.set_xlabel("time from t = %.3f s (ms)" % start_s)
    for ax in (zoom_i, zoom_v):
        ax.grid(alpha=0.3)
