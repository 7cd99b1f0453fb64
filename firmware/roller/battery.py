"""Battery voltage, averaged over one second (R7)."""
from micropython import const

from roller.limits import BATTERY_FILTER_MS

SAMPLE_MS = const(10)  # one sample per App slow tick
_SAMPLES = (BATTERY_FILTER_MS + SAMPLE_MS - 1) // SAMPLE_MS  # per window (not a const: const()
# takes no imported names)


class Battery:
    """The App's slow tick adds each sample to sum_mv and counts samples_left down (inline: a
    call every 10 ms costs more than the sum), then calls settle() when it reaches 0 or there
    is no value yet."""

    def __init__(self):
        self.filtered_mv = 0  # 0 until the first reading
        self.sum_mv = 0
        self.samples_left = _SAMPLES

    def settle(self, mv):
        """`mv`: the sample just added."""
        if not self.filtered_mv:
            self.filtered_mv = mv
        if not self.samples_left:
            self.filtered_mv = self.sum_mv // _SAMPLES
            self.sum_mv = 0
            self.samples_left = _SAMPLES
