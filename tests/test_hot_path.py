"""Shortcuts the hot path takes must not change behaviour."""
from hypothesis import given, settings
from hypothesis import strategies as st

from roller.button import NONE, Button

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
