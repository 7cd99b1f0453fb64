"""The LED language: one pattern table, and a non-blocking player updated every few ms."""
import micropython
from micropython import const

SOLID = const(0)
BLINK = const(1)  # on for half the period
BREATHE = const(2)  # rises and falls over the period in 8 steps
DOUBLE_BLINK = const(3)  # two short flashes per period

# name: (r, g, b, mode, period_ms)
PATTERNS = {
    "off": (0, 0, 0, SOLID, 0),
    "selftest": (255, 255, 255, SOLID, 0),
    "standby": (0, 80, 255, BREATHE, 2000),  # on, waiting for skin contact
    "run": (0, 255, 0, SOLID, 0),  # brightness shows the level
    "poor_contact": (255, 120, 0, BLINK, 500),
    "paused": (0, 80, 255, BLINK, 1000),
    "cue": (255, 255, 255, SOLID, 0),  # short flash with the vibration cue
    "done": (0, 255, 0, BLINK, 1000),
    "charging": (255, 120, 0, BREATHE, 2000),
    "charged": (0, 255, 0, SOLID, 0),
    "low_battery": (255, 0, 0, BLINK, 250),
    # faults: red, told apart by rhythm
    "fault_current": (255, 0, 0, BLINK, 200),  # OVER_CURRENT
    "fault_balance": (255, 0, 0, DOUBLE_BLINK, 1000),  # DC_IMBALANCE
    "fault_sense": (255, 0, 0, BLINK, 1000),  # SENSE_FAULT, OUTPUT_STUCK
    "fault_selftest": (255, 0, 255, BLINK, 1000),  # SELFTEST, WATCHDOG
}

# fault code (roller.faults) -> pattern name
FAULT_PATTERNS = (
    "off",
    "fault_current",
    "fault_balance",
    "fault_sense",
    "fault_sense",
    "fault_selftest",
    "fault_selftest",
)


def level_brightness(level):
    """RUN brightness for levels 1-5: 51..255."""
    return 51 * level


class LedPlayer:
    def __init__(self, board):
        self.board = board
        self.pattern = PATTERNS["off"]
        self.scale = 255  # brightness 0-255 applied to the pattern colour
        self.phase_ms = 0

    def show(self, name, scale=255):
        pattern = PATTERNS[name]
        if pattern is not self.pattern or scale != self.scale:
            self.pattern = pattern
            self.scale = scale
            self.phase_ms = 0

    @micropython.native
    def update(self, elapsed_ms):
        r, g, b, mode, period = self.pattern
        level = self.scale
        if mode != SOLID:
            self.phase_ms = (self.phase_ms + elapsed_ms) % period
            phase = self.phase_ms
            if mode == BLINK:
                level = level if phase < period // 2 else 0
            elif mode == DOUBLE_BLINK:
                slot = phase * 10 // period  # flashes in slots 0 and 2 of 10
                level = level if slot in (0, 2) else 0
            else:
                step = phase * 16 // period  # 0..15: up 8 steps, down 8 steps
                step = step if step < 8 else 15 - step
                level = level * (step + 1) // 8
        self.board.set_led(r * level // 255, g * level // 255, b * level // 255)
