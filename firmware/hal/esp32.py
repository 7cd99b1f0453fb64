"""ESP32 DevKitC board (docs/board.md): 8-bit DAC setpoint, ADC1 sense, LEDC PWM LED."""
import machine
from machine import ADC, DAC, PWM, WDT, Pin, Timer

from micropython import const

from hal import common

_WDT_KEEPER_MS = const(100)  # feeds while parked at the REPL


def _adc(pin):
    return ADC(Pin(pin), atten=ADC.ATTN_11DB)  # 0..3.1 V nominal


class Board(common.Board):
    name = "esp32_devkitc"

    def __init__(self, cfg=None, console=None):
        if cfg is None:
            import board_config as cfg
        # output-enable low before anything else (boot.py did too; a soft reset skips it)
        enable = Pin(cfg.ENABLE_PIN, Pin.OUT, value=0)
        leg_a = Pin(cfg.LEG_A_PIN, Pin.OUT, value=0)
        leg_b = Pin(cfg.LEG_B_PIN, Pin.OUT, value=0)
        self._dac = DAC(Pin(cfg.SETPOINT_PIN))
        self._dac.write(0)
        led = tuple(PWM(Pin(p), freq=cfg.LED_PWM_HZ, duty_u16=0) for p in cfg.LED_PINS)
        super().__init__(
            cfg, enable, leg_a, leg_b,
            _adc(cfg.ISENSE_PIN), _adc(cfg.VSENSE_PIN), _adc(cfg.VBAT_PIN),
            Pin(cfg.USB_PIN, Pin.IN),  # input-only pin: the divider holds it low without USB
            Pin(cfg.BUTTON_PIN, Pin.IN, Pin.PULL_UP),
            (led[0], led[1], led[2]),
            Pin(cfg.CUE_PIN, Pin.OUT, value=0),
            _adc(cfg.HEAD_PIN),
            console,
        )
        self._keeper = None

    def _write_setpoint(self, code):
        self._dac.write(code)

    def wdt_start(self, timeout_ms):
        self._wdt = WDT(timeout=timeout_ms)

    def reset_cause(self):
        return "watchdog" if machine.reset_cause() == machine.WDT_RESET else "power"

    def _keep_watchdog_quiet(self, wdt):
        self._keeper = Timer(0, period=_WDT_KEEPER_MS, callback=lambda t: wdt.feed())
