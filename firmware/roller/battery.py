"""Battery voltage, averaged over one second (R7)."""
from roller.limits import BATTERY_FILTER_MS


class Battery:
    sample_ms = 10

    def __init__(self):
        self.filtered_mv = 0  # 0 until the first reading
        self._sum_mv = 0
        self._count = 0

    def update(self, mv):
        """One sample every `sample_ms`; the filtered value moves once per filter window."""
        if not self.filtered_mv:
            self.filtered_mv = mv
        self._sum_mv += mv
        self._count += 1
        if self._count * self.sample_ms >= BATTERY_FILTER_MS:
            self.filtered_mv = self._sum_mv // self._count
            self._sum_mv = self._count = 0
