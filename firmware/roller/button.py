"""One debounced push button with click / double-click / hold gestures.

After Peter Hinch's Pushbutton: an edge is taken at once, then the switch is ignored for
`debounce_ms` (contact bounce); tunables are class attributes. Polled once per tick with the
tick's duration (time injected), allocation-free, so it is testable without hardware.
"""
import micropython
from micropython import const

NONE = const(0)
CLICK = const(1)
DOUBLE = const(2)
HOLD = const(3)


class Button:
    debounce_ms = 50
    double_click_ms = 400  # a second press this soon after a release is a double click
    long_press_ms = 1000

    def __init__(self):
        self.pressed = False  # debounced state
        self._since_edge_ms = 1_000_000
        self._held_ms = 0
        self._since_release_ms = 0
        self._awaiting_second = False
        self._gesture_done = False  # the current press already produced its gesture
        # released and settled, no gesture pending: update(False) would change nothing that
        # matters (_since_edge_ms only counts up to debounce_ms), so the caller may skip it
        self.idle = True

    @micropython.native
    def update(self, raw_pressed, elapsed_ms=1):
        """Feed the raw switch (True = pressed); returns the gesture completed now, or NONE."""
        self._since_edge_ms += elapsed_ms
        gesture = NONE
        if raw_pressed != self.pressed and self._since_edge_ms >= self.debounce_ms:
            self.idle = False
            self.pressed = raw_pressed
            self._since_edge_ms = 0
            if raw_pressed:
                self._held_ms = 0
                if self._awaiting_second:
                    self._awaiting_second = False
                    self._gesture_done = True
                    return DOUBLE
                self._gesture_done = False
            elif not self._gesture_done:
                self._awaiting_second = True
                self._since_release_ms = 0
            return NONE
        if self.pressed:
            self._held_ms += elapsed_ms
            if not self._gesture_done and self._held_ms >= self.long_press_ms:
                self._gesture_done = True
                gesture = HOLD
        elif self._awaiting_second:
            self._since_release_ms += elapsed_ms
            if self._since_release_ms >= self.double_click_ms:
                self._awaiting_second = False
                gesture = CLICK
        else:
            self.idle = self._since_edge_ms >= self.debounce_ms
        return gesture
