"""Raspberry Pi Pico board (docs/board.md): PWM + RC filter setpoint, ADC0-2 sense (ADC2 shared by the
battery and the head ID through an analog switch), PWM LED."""
import machine
from machine import ADC, PWM, WDT, Pin, Timer

from micropython import const

from hal import common

_WDT_KEEPER_MS = const(100)  # feeds while parked at the REPL
# WATCHDOG REASON (RP2040 datasheet 4.7.6): TIMER = the watchdog bit. machine.reset() reboots
# through the watchdog's FORCE trigger, which machine.reset_cause() also calls WDT_RESET.
_WATCHDOG_REASON = const(0x4005_8008)
_REASON_TIMER = const(1)
# maintenance boot (docs/flashing.md): WATCHDOG SCRATCH1 keeps the host's request through the
# reset that follows (a power-on clears it; SCRATCH0 is the emulation probe's, 4-7 the boot ROM's)
_WATCHDOG_CTRL = const(0x4005_8000)
_CTRL_ENABLE = const(1 << 30)
_SCRATCH_MAINTENANCE = const(0x4005_8010)
_MAINTENANCE = const(0x2D61_696E)  # a word a cleared or random register is unlikely to hold
_HOLD_MS = const(2000)  # the button held this long from power-on: deliberate, never a click
_HOLD_POLL_US = const(10_000)
_MAINTENANCE_WDT_MS = const(8000)  # the RP2040's longest is 8388


def maintenance_next():
    """Ask for a maintenance boot at the next reset (the host, over the raw REPL)."""
    machine.mem32[_SCRATCH_MAINTENANCE] = _MAINTENANCE


class Board(common.Board):
    name = "rp2040_pico"

    def __init__(self, cfg=None, console=None):
        if cfg is None:
            import board_config as cfg
        self.name = cfg.NAME  # rp2040_pico or rp2040_picow
        # output-enable low before anything else (boot.py did too; a soft reset skips it)
        enable = Pin(cfg.ENABLE_PIN, Pin.OUT, value=0)
        leg_a = Pin(cfg.LEG_A_PIN, Pin.OUT, value=0)
        leg_b = Pin(cfg.LEG_B_PIN, Pin.OUT, value=0)
        self._setpoint = PWM(Pin(cfg.SETPOINT_PIN), freq=cfg.SETPOINT_PWM_HZ, duty_u16=0)
        led = tuple(PWM(Pin(p), freq=cfg.LED_PWM_HZ, duty_u16=0) for p in cfg.LED_PINS)
        super().__init__(
            cfg, enable, leg_a, leg_b,
            ADC(Pin(cfg.ISENSE_PIN)), ADC(Pin(cfg.VSENSE_PIN)), ADC(Pin(cfg.VBAT_PIN)),
            Pin(cfg.USB_PIN, Pin.IN),
            Pin(cfg.BUTTON_PIN, Pin.IN, Pin.PULL_UP),
            (led[0], led[1], led[2]),
            Pin(cfg.CUE_PIN, Pin.OUT, value=0),
            ADC(Pin(cfg.HEAD_PIN)),  # the same ADC2 as the battery, through the analog switch
            console,
            Pin(cfg.ADC_MUX_PIN, Pin.OUT, value=0),
        )
        self._keeper = None

    def _write_setpoint(self, code):
        self._setpoint.duty_u16(code)

    def wdt_start(self, timeout_ms):
        self._wdt = WDT(timeout=timeout_ms)

    def reset_cause(self):
        # only a timeout is the watchdog biting: a deploy's `mpremote reset` is a FORCE reboot
        return "watchdog" if machine.mem32[_WATCHDOG_REASON] & _REASON_TIMER else "power"

    def _keep_watchdog_quiet(self, wdt):
        self._keeper = Timer(-1, period=_WDT_KEEPER_MS, callback=lambda t: wdt.feed())

    def maintenance(self):
        """True for a maintenance boot, which main.py ends at the REPL without the app: asked for
        by the host (maintenance_next, then a reset: once), or the button held from a power-on
        reset for _HOLD_MS. The output is off (built so), the LED steady cyan, and a watchdog a
        soft reset left running is fed."""
        mem = machine.mem32
        asked = mem[_SCRATCH_MAINTENANCE] == _MAINTENANCE
        mem[_SCRATCH_MAINTENANCE] = 0  # once: the next reset starts the app
        if not asked and not (mem[_WATCHDOG_REASON] == 0 and self._held(_HOLD_MS)):
            return False
        self.write_output(False, 0, 0)
        self.set_led(0, 255, 255)
        if mem[_WATCHDOG_CTRL] & _CTRL_ENABLE:
            self._keep_watchdog_quiet(WDT(timeout=_MAINTENANCE_WDT_MS))
        return True

    def _held(self, ms):
        """The button stays pressed for ms from now."""
        start = self.ticks_ms()
        while not self._button.value():  # active low
            if self.ticks_diff(self.ticks_ms(), start) >= ms:
                return True
            common.time.sleep_us(_HOLD_POLL_US)
        return False
