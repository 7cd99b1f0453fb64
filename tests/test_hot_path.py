"""Shortcuts the hot path takes must not change behaviour."""
from hypothesis import given, settings
from hypothesis import strategies as st

from roller.button import NONE, Button
from roller.led import BLINK, DOUBLE_BLINK, PATTERNS, SOLID, LedPlayer

# raw switch levels as runs of (level, ms): presses, releases and bounce
runs = st.lists(st.tuples(st.booleans(), st.integers(1, 700)), max_size=40)


def gestures(levels, skip_idle):
    button = Button()
    out = []
    for t_ms, raw in enumerate(levels):
        if skip_idle and not raw and button.idle:
            continue  # what App.tick does
        gesture = button.update(raw)
        if gesture != NONE:
            out.append((t_ms, gesture))
    return out


@settings(max_examples=300, deadline=None)
@given(runs)
def test_skipping_an_idle_button_changes_no_gesture(run_list):
    levels = [level for level, ms in run_list for _ in range(ms)] + [False] * 1500
    assert gestures(levels, skip_idle=True) == gestures(levels, skip_idle=False)


# --- LED: played only when wait_ms runs out -------------------------------------------------
class _Led:
    def __init__(self):
        self.rgb = None

    def set_led(self, r, g, b):
        self.rgb = (r, g, b)


def _expected_level(pattern, scale, phase_ms):
    """The brightness every 10 ms of a pattern, as the LED language defines it."""
    _, _, _, mode, period = PATTERNS[pattern]
    if mode == SOLID:
        return scale
    phase = phase_ms % period
    if mode == BLINK:
        return scale if phase < period // 2 else 0
    if mode == DOUBLE_BLINK:
        return scale if phase * 10 // period in (0, 2) else 0
    step = phase * 16 // period
    step = step if step < 8 else 15 - step
    return scale * (step + 1) // 8


shows = st.lists(st.tuples(st.integers(0, len(PATTERNS) - 1), st.sampled_from([51, 153, 255]),
                           st.integers(1, 400)), min_size=1, max_size=12)


@settings(max_examples=300, deadline=None)
@given(shows)
def test_an_led_played_only_when_due_shows_what_every_step_would(show_list):
    board = _Led()
    led = LedPlayer(board)
    shown, phase_ms = None, 0
    for pattern, scale, steps in show_list:
        for _ in range(steps):
            phase_ms = 10 if (pattern, scale) != shown else phase_ms + 10  # a new one restarts
            shown = (pattern, scale)
            led.wait_ms -= 10  # what App._slow_tick does
            if pattern != led.pattern or scale != led.scale or led.wait_ms <= 0:
                led.play(pattern, scale, 10)
            r, g, b = PATTERNS[pattern][:3]
            level = _expected_level(pattern, scale, phase_ms)
            assert board.rgb == (r * level // 255, g * level // 255, b * level // 255)
