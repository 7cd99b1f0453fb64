"""The LED language: one pattern table, and a non-blocking player updated every few ms."""
from micropython import const

SOLID = const(0)
BLINK = const(1)  # on for half the period
BREATHE = const(2)  # rises and falls over the period in 8 steps
DOUBLE_BLINK = const(3)  # two short flashes per period
_FOREVER_MS = const(1 << 29)  # a solid pattern's wait: then one harmless replay

# a period in equal steps, by mode: the brightness of each in eighths (periods are even, so
# a blink's halves are whole ms)
_STEPS = (
    None,  # SOLID
    (8, 0),  # BLINK: on for the first half
    (1, 2, 3, 4, 5, 6, 7, 8, 8, 7, 6, 5, 4, 3, 2, 1),  # BREATHE: up 8 steps, down 8
    (8, 0, 8, 0, 0, 0, 0, 0, 0, 0),  # DOUBLE_BLINK: flashes in tenths 0 and 2
)

# pattern numbers: indexes into PATTERNS (a number, not a name: no string lookup every 10 ms)
LED_OFF = const(0)
LED_SELFTEST = const(1)
LED_STANDBY = const(2)
LED_RUN = const(3)
LED_POOR_CONTACT = const(4)
LED_PAUSED = const(5)
LED_CUE = const(6)
LED_DONE = const(7)
LED_CHARGING = const(8)
LED_CHARGED = const(9)
LED_LOW_BATTERY = const(10)
LED_FAULT_CURRENT = const(11)  # roller.faults picks these per fault code
LED_FAULT_BALANCE = const(12)
LED_FAULT_SENSE = const(13)
LED_FAULT_SELFTEST = const(14)
LED_NO_HEAD = const(15)  # on and waiting, but no known head: no output
LED_REFUSED = const(16)  # a program the head cannot run was asked for
LED_WEEK_ON_TRACK = const(17)  # at switch-on: this week's sessions have reached the target
LED_WEEK_DUE = const(18)  # at switch-on: fewer sessions this week than the target
LED_PAIRING = const(19)  # roller.ble_uart's pairing window, in OFF
LED_BONDS_FORGOTTEN = const(20)  # roller.ble_uart: every bond forgotten, on flash

# (r, g, b, mode, period_ms), in pattern-number order
PATTERNS = (
    (0, 0, 0, SOLID, 0),  # off
    (255, 255, 255, SOLID, 0),  # selftest
    (0, 80, 255, BREATHE, 2000),  # standby: on, waiting for skin contact
    (0, 255, 0, SOLID, 0),  # run: brightness shows the level
    (255, 120, 0, BLINK, 500),  # poor contact
    (0, 80, 255, BLINK, 1000),  # paused
    (255, 255, 255, SOLID, 0),  # cue: short flash with the vibration cue
    (0, 255, 0, BLINK, 1000),  # done
    (255, 120, 0, BREATHE, 2000),  # charging
    (0, 255, 0, SOLID, 0),  # charged
    (255, 0, 0, BLINK, 250),  # low battery
    # faults: red, told apart by rhythm; magenta when the device itself is in doubt
    (255, 0, 0, BLINK, 200),  # over-current
    (255, 0, 0, DOUBLE_BLINK, 1000),  # charge imbalance
    (255, 0, 0, BLINK, 1000),  # sense or output stage
    (255, 0, 255, BLINK, 1000),  # self-test or watchdog
    (255, 200, 0, DOUBLE_BLINK, 1000),  # no head, or one it does not know
    (160, 0, 255, BLINK, 250),  # refused: the eye head runs the eye program only
    (0, 255, 0, DOUBLE_BLINK, 1000),  # week on track: two green flashes a second
    (0, 200, 255, DOUBLE_BLINK, 1000),  # week behind: two cyan flashes a second
    (0, 0, 255, BLINK, 200),  # Bluetooth pairing window open: fast blue
    (0, 0, 255, DOUBLE_BLINK, 1000),  # Bluetooth bonds forgotten: two blue flashes a second
)

# UI state (roller.ui) -> pattern, where nothing else (RUN's cues, faults, battery) decides
STATE_PATTERNS = (LED_OFF, LED_SELFTEST, LED_STANDBY, LED_RUN, LED_PAUSED, LED_DONE, LED_CHARGING,
                  LED_OFF)


class LedPlayer:
    """Plays one pattern at a time. The caller counts `wait_ms` down by its step and calls
    play() only when the pattern or scale changes or wait_ms runs out: in between, the LED
    shows the same (a call every 10 ms costs more than the countdown)."""

    def __init__(self, board):
        self.board = board
        self.pattern = -1  # none yet: the first play() writes
        self.scale = 255  # brightness 0-255 applied to the pattern colour
        self.phase_ms = 0
        self.wait_ms = 0  # until the brightness can change (counted down by the caller)
        self._waited_ms = 0  # wait_ms as play() set it
        self._level = -1  # brightness last written for this pattern (-1: write)
        self.signal_ms = 0  # a short signal (a refused program, the week at switch-on) ...
        self.signal_pattern = LED_OFF  # ... shows this pattern for that long (roller.app)
        self.poor_ms = 0  # a poor contact shows at least this long (whole blinks, no flicker)

    def play(self, pattern, scale, step_ms):
        """Show `pattern` at brightness `scale` (0-255). A new pattern or scale starts from
        its beginning, `step_ms` in; else the pattern moves on by the time wait_ms was counted
        down. The LED is written only when what it shows changes. Bytecode: called every 100 ms
        at most; its frames fit the C stack (over 11 slots would come from the heap)."""
        if pattern != self.pattern or scale != self.scale:
            self.pattern = pattern
            self.scale = scale
            self.phase_ms = 0
            self._level = -1
        else:
            step_ms = self._waited_ms - self.wait_ms  # the time since the last play
        row = PATTERNS[pattern]
        scale = self._advance(_STEPS[row[3]], row[4], step_ms, scale)
        if scale != self._level:
            self._level = scale
            self.board.set_led(row[0] * scale // 255, row[1] * scale // 255, row[2] * scale // 255)

    def _advance(self, steps, period, elapsed_ms, scale):
        """The brightness `elapsed_ms` on; wait_ms until it can change."""
        if steps is None:  # solid
            self.wait_ms = self._waited_ms = _FOREVER_MS
            return scale
        phase = (self.phase_ms + elapsed_ms) % period
        self.phase_ms = phase
        step = phase * len(steps) // period
        # the level holds until the next step's boundary
        self.wait_ms = self._waited_ms = ((step + 1) * period + len(steps) - 1) // len(steps) - phase
        return scale * steps[step] // 8
