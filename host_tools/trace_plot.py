"""PNG overview of a C2 trace: the whole run (current, voltage, states, cues, faults) and a
zoom on a few waveform periods at full current."""
import numpy as np

STATE_COLOURS = {"OFF": "0.6", "SELFTEST": "gold", "STANDBY": "tab:cyan", "RUN": "tab:green",
                 "PAUSED": "tab:orange", "DONE": "tab:purple", "CHARGING": "tab:blue",
                 "FAULT": "tab:red"}
BINS = 2000  # overview resolution: about one bin per pixel, whatever the run length
ZOOM_DELAY_S = 0.05  # past the soft-start ramp
ZOOM_PERIODS = 4
ZOOM_MAX_S = 10.0


def out_series(events):
    """Sample-and-hold series (t_s, ua, v) of the `out` events, starting from 0 at t=0."""
    outs = sorted((e for e in events if e.get("kind") == "out"), key=lambda e: e["t"])
    t_s = np.array([0.0] + [e["t"] for e in outs])
    ua = np.array([0.0] + [e["ua"] for e in outs], dtype=float)
    v = np.array([0.0] + [e["v"] for e in outs], dtype=float)
    return t_s, ua, v


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


def plot_trace(events, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    header = next((e for e in events if e.get("kind") == "header"), {})
    end_s = max((e.get("t", 0.0) for e in events), default=0.0) or 1.0
    t_s, ua, v = out_series(events)
    fig, (top, zoom) = plt.subplots(2, 1, figsize=(13, 8), height_ratios=(3, 2))
    fig.suptitle("%s  (board %s, %s, firmware %s)" % (
        header.get("scenario", "trace"), header.get("board", "?"), header.get("runtime", "?"),
        header.get("firmware", "?")))
    _overview(top, events, t_s, ua, v, end_s)
    _zoom(zoom, t_s, ua, v, end_s)
    fig.tight_layout()
    try:
        fig.savefig(path, dpi=100)
    finally:
        plt.close(fig)


def _overview(ax, events, t_s, ua, v, end_s):
    edges, low, high = envelope(t_s, ua, 0.0, end_s)
    ax.fill_between(edges, low, high, step="post", color="tab:blue", lw=0.6, label="current")
    ax.set_xlim(0, end_s)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("current (µA)", color="tab:blue")
    volts = ax.twinx()
    edges, low, high = envelope(t_s, v, 0.0, end_s)
    volts.step(edges, high, where="post", color="tab:orange", lw=0.6, alpha=0.8)
    volts.step(edges, low, where="post", color="tab:orange", lw=0.6, alpha=0.8)
    volts.set_ylabel("electrode voltage (V)", color="tab:orange")
    _states(ax, events, end_s)
    label = ax.get_xaxis_transform()  # x in data, y in axes fraction
    for e in events:
        kind = e.get("kind")
        if kind == "cue":
            ax.axvline(e["t"], color="0.3", ls=":", lw=0.8)
            ax.text(e["t"], 0.02, str(e["zone"]), transform=label, rotation=90, fontsize=7,
                    va="bottom", color="0.2", bbox={"facecolor": "white", "alpha": 0.7,
                                                    "lw": 0, "pad": 1})
        elif kind in ("fault", "hw"):
            ax.axvline(e["t"], color="red", lw=1.5)
            ax.text(e["t"], 0.5, " %s" % e.get("code", e.get("event")), transform=label,
                    rotation=90, fontsize=8, color="red", va="center", weight="bold")


def _states(ax, events, end_s):
    states = [e for e in events if e.get("kind") == "state"]
    if not states:
        return
    label = ax.get_xaxis_transform()
    stops_s = [e["t"] for e in states[1:]] + [end_s]
    for e, stop_s in zip(states, stops_s, strict=True):
        colour = STATE_COLOURS.get(e["state"], "0.8")
        ax.axvspan(e["t"], stop_s, color=colour, alpha=0.12, lw=0)
        if stop_s - e["t"] > 0.015 * end_s:  # label only spans wide enough to read
            ax.text(e["t"], 0.98, " " + e["state"], transform=label, fontsize=8, va="top",
                    color=colour if colour != "0.6" else "0.3")


def _zoom(ax, t_s, ua, v, end_s):
    window = zoom_window(t_s, ua, end_s)
    if window is None:
        ax.text(0.5, 0.5, "no current flowed in this run", transform=ax.transAxes,
                ha="center", va="center", fontsize=12)
        ax.set_axis_off()
        return
    start_s, stop_s = window
    first = max(np.searchsorted(t_s, start_s, side="right") - 1, 0)
    last = np.searchsorted(t_s, stop_s, side="right")
    # held value at the window start, the events inside, and held up to the window end
    x_s = np.concatenate(([start_s], t_s[first + 1:last], [stop_s])) - start_s
    ua_w = np.concatenate((ua[first:last], [ua[last - 1]]))
    v_w = np.concatenate((v[first:last], [v[last - 1]]))
    ax.step(x_s * 1e3, ua_w, where="post", color="tab:blue", lw=1.8)
    ax.set_xlim(0, (stop_s - start_s) * 1e3)
    ax.set_xlabel("time from t = %.3f s (ms)" % start_s)
    ax.set_ylabel("current (µA)", color="tab:blue")
    ax.set_title("zoom: a few periods at full current", fontsize=10)
    ax.grid(alpha=0.3)
    volts = ax.twinx()
    volts.step(x_s * 1e3, v_w, where="post", color="tab:orange", lw=0.9, ls="--")
    volts.set_ylabel("electrode voltage (V)", color="tab:orange")
