"""Measuring a C2 trace the way a bench engineer would: current per simulated ms."""
import numpy as np


def ms(t_s):
    return int(round(t_s * 1000))


def current_ua(events, duration_ms=None):
    """Delivered current per ms (sample and hold between `out` events)."""
    end = duration_ms or ms(next(e["t"] for e in events if e["kind"] == "end"))
    series = np.zeros(end, dtype=np.int64)
    last_t, last_ua = 0, 0
    for e in events:
        if e["kind"] == "out":
            t = ms(e["t"])
            series[last_t:t] = last_ua
            last_t, last_ua = t, e["ua"]
    series[last_t:] = last_ua
    return series


def first(events, kind, after_s=0.0, **fields):
    """The first event of `kind` at or after `after_s` whose fields match."""
    for e in events:
        if e["kind"] == kind and e["t"] >= after_s and all(e.get(k) == v for k, v in fields.items()):
            return e
    return None


def states(events):
    return [(e["t"], e["state"]) for e in events if e["kind"] == "state"]


def sliding_peak(abs_ua, window_ms):
    """Peak |I| over the `window_ms` ending at each ms (the amplitude envelope)."""
    padded = np.concatenate([np.zeros(window_ms - 1, dtype=abs_ua.dtype), abs_ua])
    return np.lib.stride_tricks.sliding_window_view(padded, window_ms).max(axis=1)


def same_sign_runs(ua):
    """Lengths (ms) of the runs of strictly positive or strictly negative current."""
    sign = np.sign(ua)
    runs = []
    start = 0
    for i in range(1, len(sign) + 1):
        if i == len(sign) or sign[i] != sign[start]:
            if sign[start] != 0:
                runs.append(i - start)
            start = i
    return runs


def doc(name, duration_s, events, **settings):
    """A scenario document: click on at 0.1 s, then `events`."""
    d = {"name": name, "duration_s": duration_s, "seed": 3,
         "events": [{"t": 0.1, "button": "click"}] + list(events)}
    if settings:
        d["settings"] = settings
    return d
