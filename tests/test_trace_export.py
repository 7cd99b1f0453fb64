"""Trace exports: VCD read back with pyvcd's tokenizer, GTKWave save file, PNG overview."""
import pathlib

import matplotlib.image
import numpy as np
import pytest
from vcd.reader import TokenKind, tokenize

from host_tools.trace_plot import (
    BINS,
    build_figure,
    envelope,
    event_marks,
    out_series,
    place_labels,
    plot_trace,
    state_spans,
    zoom_window,
)
from host_tools.trace_vcd import write_vcd

HEADER = {"kind": "header", "t": 0.0, "format": "roller-trace/1", "runtime": "cpython",
          "board": "sim", "firmware": "0.1.0", "scenario": "export test",
          "limits": {"hard_max_ua": 500}}


def square_outs(start_s, stop_s, freq_hz, amp_ua, ohm=20_000):
    """`out` events of a square wave: one per polarity change, as the simulator emits them."""
    outs = []
    for k, t_s in enumerate(np.arange(start_s, stop_s, 0.5 / freq_hz)):
        ua = amp_ua if k % 2 == 0 else -amp_ua
        outs.append({"kind": "out", "t": round(float(t_s), 6), "ua": ua, "v": ua * 1e-6 * ohm,
                     "en": 1, "pol": 1 if ua > 0 else -1, "set_ua": amp_ua})
    return outs


def synthetic_trace():
    events = [HEADER,
              {"kind": "head", "t": 0.0, "head": "face"},
              {"kind": "state", "t": 0.0, "state": "OFF", "level": 1, "program": "lift"},
              {"kind": "button", "t": 0.2, "pressed": True},
              {"kind": "button", "t": 0.3, "pressed": False},
              {"kind": "state", "t": 0.3, "state": "SELFTEST", "level": 1, "program": "lift"},
              {"kind": "led", "t": 0.3, "rgb": [255, 160, 0]},
              {"kind": "state", "t": 0.5, "state": "STANDBY", "level": 1, "program": "lift"},
              {"kind": "led", "t": 0.5, "rgb": [0, 255, 0]},
              {"kind": "state", "t": 1.0, "state": "RUN", "level": 2, "program": "lift"}]
    events += square_outs(1.0, 3.0, 50, 160)
    events += [{"kind": "cue", "t": 2.0, "zone": "left cheek"},
               {"kind": "cue_pin", "t": 2.0, "on": True},
               {"kind": "cue_pin", "t": 2.2, "on": False},
               {"kind": "head", "t": 2.4, "head": None},
               {"kind": "head", "t": 2.45, "head": "eye"},
               {"kind": "state", "t": 2.5, "state": "RUN", "level": 3, "program": "tone"},
               {"kind": "fault", "t": 3.0, "code": "OVER_CURRENT"},
               {"kind": "out", "t": 3.0, "ua": 0, "v": 0.0, "en": 0, "pol": 0, "set_ua": 0},
               {"kind": "state", "t": 3.0, "state": "FAULT", "level": 2, "program": "lift"},
               {"kind": "led", "t": 3.0, "rgb": [255, 0, 0]},
               {"kind": "end", "t": 4.0, "ticks": 4000, "wall_s": 0.2}]
    return sorted(events, key=lambda e: e["t"])


def read_vcd(path):
    """{signal name: [(t_us, value), ...]} from the VCD, via pyvcd's tokenizer."""
    names, changes, now = {}, {}, 0
    with open(path, "rb") as f:
        for token in tokenize(f):
            if token.kind is TokenKind.VAR:
                names[token.var.id_code] = token.var.reference
                changes[token.var.reference] = []
            elif token.kind is TokenKind.CHANGE_TIME:
                now = token.time_change
            elif token.kind in (TokenKind.CHANGE_SCALAR, TokenKind.CHANGE_VECTOR,
                                TokenKind.CHANGE_REAL, TokenKind.CHANGE_STRING):
                changes[names[token.data.id_code]].append((now, token.data.value))
    return changes


def value_at(changes, t_s):
    t_us = round(t_s * 1e6)
    return [value for when, value in changes if when <= t_us][-1]


def test_vcd_signals_read_back(tmp_path):
    path = tmp_path / "run.vcd"
    gtkw = write_vcd(synthetic_trace(), str(path))
    signals = read_vcd(path)
    assert set(signals) >= {"ua", "v", "state", "fault", "zone", "led_r", "led_g", "led_b",
                            "button"}
    at = {name: (lambda t, c=changes: value_at(c, t)) for name, changes in signals.items()}
    assert at["ua"](0.5) == 0
    assert at["ua"](1.005) == 160 and at["ua"](1.015) == -160
    assert at["v"](1.015) == pytest.approx(-3.2)
    assert at["ua"](3.5) == 0
    assert [at["state"](t) for t in (0.1, 0.4, 0.7, 1.5, 3.5)] == [
        "OFF", "SELFTEST", "STANDBY", "RUN", "FAULT"]
    assert at["button"](0.1) in (0, "0") and at["button"](0.25) in (1, "1")
    assert [at[c](0.4) for c in ("led_r", "led_g", "led_b")] == [255, 160, 0]
    assert [at[c](3.5) for c in ("led_r", "led_g", "led_b")] == [255, 0, 0]
    assert at["zone"](2.5) == "left_cheek"  # VCD strings cannot hold spaces
    assert at["fault"](2.9) == "" and at["fault"](3.0) == "OVER_CURRENT"
    # issue 14: the output pins, cue, level and program
    assert [int(at["enable"](t)) for t in (0.5, 1.5, 3.5)] == [0, 1, 0]
    polarity = [at["polarity"](t) for t in (1.005, 1.015, 3.5)]
    assert [p - 4 if p >= 2 else p for p in polarity] == [1, -1, 0]  # 2-bit two's complement
    assert at["setpoint_ua"](1.5) == 160 and at["setpoint_ua"](3.5) == 0
    assert [int(at["cue"](t)) for t in (1.9, 2.1, 2.3)] == [0, 1, 0]
    assert [at["level"](t) for t in (0.1, 1.5, 2.6)] == [1, 2, 3]
    assert [at["program"](t) for t in (0.1, 2.6)] == ["lift", "tone"]
    assert [at["head"](t) for t in (0.1, 2.42, 2.6)] == ["face", "none", "eye"]  # issue 17
    text = pathlib.Path(gtkw).read_text()
    for name in ("roller.ua", "roller.v", "roller.state", "roller.fault", "roller.led_r",
                 "roller.button", "roller.zone", "roller.enable", "roller.polarity",
                 "roller.setpoint_ua", "roller.cue", "roller.level", "roller.program", "roller.head"):
        assert name in text


def test_gtkw_names_the_vcd_relative_to_itself(tmp_path, monkeypatch):
    """Issue 14: no absolute paths in the save file, so the pair can move together."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    gtkw = write_vcd(synthetic_trace(), "sub/run.vcd")
    text = pathlib.Path(gtkw).read_text()
    assert '[dumpfile] "run.vcd"' in text
    assert str(tmp_path) not in text and not any(
        line.split('"')[1].startswith("/") for line in text.splitlines() if '"' in line)


def test_vcd_header_and_end_time(tmp_path):
    path = tmp_path / "run.vcd"
    write_vcd(synthetic_trace(), str(path))
    with open(path, "rb") as f:
        tokens = list(tokenize(f))
    scale = next(t.timescale for t in tokens if t.kind is TokenKind.TIMESCALE)
    assert (int(scale.magnitude), scale.unit.value) == (1, "us")
    times = [t.time_change for t in tokens if t.kind is TokenKind.CHANGE_TIME]
    assert times == sorted(times) and times[-1] == 4_000_000


def test_envelope_is_sample_and_hold():
    t_s = np.array([0.0, 1.0, 1.2, 3.0])
    ua = np.array([0.0, 100.0, -50.0, 20.0])
    edges, low, high = envelope(t_s, ua, 0.0, 4.0, bins=4)
    assert list(edges) == [0, 1, 2, 3, 4]
    assert list(low[:4]) == [0, -50, -50, 20]  # bin 2 holds -50 from t=1.2
    assert list(high[:4]) == [0, 100, -50, 20]


def test_zoom_window_and_no_current():
    t_s, ua, _ = out_series(synthetic_trace())
    start_s, stop_s = zoom_window(t_s, ua, 4.0)
    assert 1.05 <= start_s < stop_s < 1.2  # a few 20 ms periods, 50 ms after full current
    quiet = [HEADER, {"kind": "end", "t": 5.0, "ticks": 5000, "wall_s": 0.1}]
    assert zoom_window(*out_series(quiet)[:2], 5.0) is None


@pytest.mark.parametrize("events", [synthetic_trace(),
                                    [HEADER, {"kind": "end", "t": 2.0}]],
                         ids=["session", "no current"])
def test_plot_png(tmp_path, events):
    path = tmp_path / "run.png"
    plot_trace(events, str(path))
    assert path.stat().st_size > 20_000
    image = matplotlib.image.imread(str(path))
    assert image.shape[0] >= 600 and image.shape[1] >= 1000
    assert image[..., :3].std() > 0.05  # not a blank canvas


def test_plot_of_a_long_session_draws_a_bounded_number_of_points(tmp_path):
    """What keeps a 10-minute plot quick: the overview draws about a point per pixel column
    (BINS), not one per `out` record."""
    events = [HEADER, {"kind": "state", "t": 0.0, "state": "RUN", "level": 3, "program": "lift"}]
    events += square_outs(1.0, 600.0, 100, 200)  # 10 minutes: ~120k out events
    events += [{"kind": "cue", "t": float(t), "zone": "zone %d" % t} for t in range(15, 600, 15)]
    events.append({"kind": "end", "t": 600.0})
    events.sort(key=lambda e: e["t"])
    fig = build_figure(events)
    for label in ("current", "voltage"):
        ax = _axes(fig, label)
        points = sum(len(line.get_xdata()) for line in ax.lines)
        points += sum(len(path.vertices) for c in ax.collections for path in c.get_paths())
        assert points <= 10 * BINS, (label, points)
    plot_trace(events, str(tmp_path / "long.png"))
    assert matplotlib.image.imread(str(tmp_path / "long.png"))[..., :3].std() > 0.05


# --- issue 14: a plot that tells the truth -------------------------------------------------
def _axes(fig, label):
    return next(ax for ax in fig.axes if ax.get_label() == label)


def _overlap(a, b):
    """Whether two display boxes share area (touching edges do not count)."""
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def test_place_labels_keeps_each_row_free_of_overlaps():
    assert place_labels([20.0, 22.2], [3.0, 1.5], 2) == [(0, 20.0), (1, 22.2)]  # PAUSED, RUN
    assert place_labels([0.0, 1.0, 2.0], [5.0, 5.0, 5.0], 2) == [(0, 0.0), (1, 1.0), None]
    # a label may move right within its span: the long RUN after two short states
    assert place_labels([0.0, 1.0, 2.0], [5.0, 5.0, 5.0], 2, [0.0, 1.0, 90.0]) == [
        (0, 0.0), (1, 1.0), (0, 5.0)]
    rng = np.random.default_rng(14)
    for _ in range(300):
        n = int(rng.integers(1, 40))
        starts, widths = rng.uniform(0, 100, n), rng.uniform(0.1, 25, n)
        latest = starts + rng.uniform(0, 30, n) * rng.integers(0, 2, n)
        spots = place_labels(list(starts), list(widths), 2, list(latest))
        for row in (0, 1):
            boxes = sorted((s[1], s[1] + widths[i]) for i, s in enumerate(spots) if s and s[0] == row)
            assert all(a[1] <= b[0] for a, b in zip(boxes, boxes[1:], strict=False))
        for i, spot in enumerate(spots):
            if spot is None:
                continue
            assert starts[i] <= spot[1] <= max(starts[i], latest[i])


def flapping_trace():
    """States that change faster than their labels fit, a level change within RUN, a button
    press and serial commands."""
    events = [HEADER]
    changes = [(0.0, "OFF", 1, "lift"), (0.30, "SELFTEST", 1, "lift"), (0.33, "STANDBY", 1, "lift"),
               (1.0, "RUN", 2, "lift"), (1.5, "RUN", 3, "lift"), (2.0, "PAUSED", 3, "lift"),
               (2.04, "RUN", 3, "lift"), (2.08, "PAUSED", 3, "lift"), (2.12, "RUN", 3, "tone"),
               (3.5, "DONE", 3, "tone"), (3.52, "OFF", 3, "tone")]
    events += [{"kind": "state", "t": t, "state": s, "level": lv, "program": p} for t, s, lv, p in changes]
    events += square_outs(1.0, 2.0, 50, 160) + square_outs(2.12, 3.5, 50, 240)
    events += [{"kind": "button", "t": 0.1, "pressed": True}, {"kind": "button", "t": 0.22, "pressed": False},
               {"kind": "serial", "t": 1.2, "dir": "in", "line": '{"cmd": "status"}'},
               {"kind": "serial", "t": 1.2, "dir": "out", "line": '{"ok": true}'},
               {"kind": "serial", "t": 1.21, "dir": "in", "line": "not json"},
               {"kind": "end", "t": 4.0}]
    return sorted(events, key=lambda e: e["t"])


def test_plot_has_current_and_voltage_on_their_own_axes_and_a_legend():
    fig = build_figure(synthetic_trace())
    current, volts = _axes(fig, "current"), _axes(fig, "voltage")
    assert current.get_ylabel() == "current (µA)" and volts.get_ylabel() == "electrode voltage (V)"
    fig.canvas.draw()
    assert not _overlap(current.get_window_extent(), volts.get_window_extent())
    assert current.get_ylim()[1] >= 160 and volts.get_ylim()[1] < 10  # each scaled to its own
    names = {t.get_text() for t in fig.legends[0].get_texts()}
    assert {"delivered current", "electrode voltage", "OFF", "RUN", "FAULT", "button press",
            "level/program change", "zone cue", "fault, reset"} <= names


def test_state_labels_never_collide_and_a_level_change_is_no_new_state():
    events = flapping_trace()
    assert [s for _, _, s in state_spans(events, 4.0)] == [
        "OFF", "SELFTEST", "STANDBY", "RUN", "PAUSED", "RUN", "PAUSED", "RUN", "DONE", "OFF"]
    fig = build_figure(events)
    fig.canvas.draw()
    texts = _axes(fig, "states").texts
    assert len(texts) >= 5  # most fit in the two rows
    boxes = [t.get_window_extent() for t in texts]
    assert not any(_overlap(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1:])


def test_event_lanes_mark_buttons_serial_commands_and_level_and_program_changes():
    events = flapping_trace()
    marks, presses = event_marks(events)
    assert presses == [(0.1, 0.22)]
    assert marks["serial"] == [(1.2, "status"), (1.21, "not json")]
    assert marks["level/program"] == [(1.0, "L2"), (1.5, "L3"), (2.12, "tone")]
    fig = build_figure(events)
    fig.canvas.draw()
    lanes = _axes(fig, "events")
    assert {"status", "L3", "tone"} <= {t.get_text() for t in lanes.texts}
    boxes = [t.get_window_extent() for t in lanes.texts]
    assert not any(_overlap(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
    marked = {round(float(x), 3) for line in lanes.lines for x in line.get_xdata()}
    assert {0.1, 1.2, 1.21, 1.5, 2.12} <= marked
