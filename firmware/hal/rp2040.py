"""Raspberry Pi Pico board (docs/board.md): PWM + RC filter setpoint, ADC0-2 sense (ADC2 shared by the
battery and the head ID through an analog switch), PWM LED.

The three calls of every tick, sample(), write_output() and wdt_feed(), are viper code on the
registers: the machine calls they replace cost over 120 us of a 250 us RUN tick
(docs/performance.md). The machine objects still configure the pins, the ADC, the PWM slices and
the watchdog at construction; what is read and written then is what ADC.read_u16, Pin.value,
PWM.duty_u16 and WDT.feed would (ports/rp2/machine_adc.c, machine_pwm.c, machine_wdt.c of
MicroPython v1.28.0).
"""
from array import array

import machine
import micropython
from machine import ADC, PWM, WDT, Pin, Timer

from micropython import const

from hal import common
from roller.limits import HARD_MAX_UA

_WDT_KEEPER_MS = const(100)  # feeds while parked at the REPL
# WATCHDOG REASON (RP2040 datasheet 4.7.6): TIMER = the watchdog bit. machine.reset() reboots
# through the watchdog's FORCE trigger, which machine.reset_cause() also calls WDT_RESET.
_WATCHDOG_REASON = const(0x4005_8008)
_REASON_TIMER = const(1)
_WATCHDOG_LOAD = const(0x4005_8004)  # 4.7.6 WATCHDOG: LOAD, a write restarts the count from it
# the count falls by 2 each us (erratum RP2040-E1): WDT(timeout=ms) loads ms * 2000 (pico-sdk's
# watchdog_enable), and WDT.feed writes that again (watchdog_update)
_WDT_COUNTS_PER_MS = const(2000)

# --- registers (RP2040 datasheet) ---------------------------------------------------------------
_SIO_GPIO_IN = const(0xD000_0004)  # 2.3.1.7 SIO: GPIO_IN, the input levels of GPIO0-29
_SIO_GPIO_OUT_SET = const(0xD000_0014)  # 2.3.1.7 SIO: GPIO_OUT_SET, a 1 drives that pin high
_SIO_GPIO_OUT_CLR = const(0xD000_0018)  # 2.3.1.7 SIO: GPIO_OUT_CLR, a 1 drives that pin low
_ADC_CS = const(0x4004_C000)  # 4.9.6 ADC: CS
_ADC_RESULT = const(0x4004_C004)  # 4.9.6 ADC: RESULT, the last conversion (12 bits)
_CS_START_ONCE = const(1 << 2)  # 4.9.6 CS: start one conversion (self-clearing)
_CS_READY = const(1 << 8)  # 4.9.6 CS: the conversion is done
_CS_AINSEL_SHIFT = const(12)  # 4.9.6 CS: AINSEL, bits 14:12, the input
# not written back when selecting the input: AINSEL, ERR_STICKY (write 1 to clear), START_ONCE
_CS_WRITE_CLEARS = const(7 << 12 | 1 << 10 | 1 << 2)
_PWM_BASE = const(0x4005_0000)  # 4.5.3 PWM: slice n's CSR, DIV, CTR, CC, TOP at + 0x14 * n
_PWM_SLICE_BYTES = const(0x14)
_PWM_CC = const(0x0C)  # 4.5.3 CHn_CC: channel A's level in bits 15:0, B's in 31:16
_PWM_TOP = const(0x10)  # 4.5.3 CHn_TOP: the counter wraps after TOP
_ADC_FIRST_PIN = const(26)  # GPIO26-29 are ADC0-3
_U16 = const(0xFFFF)

# --- the registers' table (self._hw, array "I"): what sample() and write_output() read -----------
_K_GPIO_IN = const(0)  # addresses
_K_OUT_SET = const(1)
_K_OUT_CLR = const(2)
_K_ADC_CS = const(3)
_K_ADC_RESULT = const(4)
_K_SETPOINT_CC = const(5)
_K_SENSE = const(6)  # per conversion, in sample()'s order: channel, zero code, scale, shift, slot
_SENSE_WORDS = const(5)
_K_SENSE_END = const(21)  # _K_SENSE + 3 * _SENSE_WORDS
_K_USB_BIT = const(21)  # 1 << pin, 0: not a GPIO (the Pico W's WL_GPIO2), read through its Pin
_K_BUTTON_BIT = const(22)
_K_ENABLE_BIT = const(23)
_K_LEG_A_BIT = const(24)
_K_LEG_B_BIT = const(25)
_K_HARD_MAX_UA = const(26)
_K_SETPOINT_MAX = const(27)  # the setpoint's duty_u16 at SETPOINT_FULL_UA
_K_SETPOINT_FULL_UA = const(28)
_K_PERIOD = const(29)  # the setpoint slice's TOP + 1
_K_CC_KEEP = const(30)  # the bits of the CC register that belong to the slice's other channel
_K_CC_SHIFT = const(31)
_K_LEG = const(32)  # the leg driven: 0 none, 1 A (positive), 2 B (negative)
_K_WDT_LOAD_AT = const(33)
_K_WDT_LOAD = const(34)  # what WDT.feed writes; 0 until wdt_start
_HW_WORDS = const(35)
_I32_MAX = const(0x7FFF_FFFF)
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
        self._hw = _registers(cfg)

    @micropython.viper
    def write_output(self, enable: bool, polarity: int, magnitude_ua: int):
        """common.Board.write_output on the registers, in its order: enable off first when
        disabling; break before make on the legs; the hard cap; enable on last."""
        hw = ptr32(self._hw)
        out_set = ptr32(hw[_K_OUT_SET])
        out_clr = ptr32(hw[_K_OUT_CLR])
        if not enable:
            out_clr[0] = hw[_K_ENABLE_BIT]  # first: the switch stops the current fastest
        leg = 0
        if polarity > 0:
            leg = 1
        elif polarity < 0:
            leg = 2
        if leg != hw[_K_LEG]:
            # break before make: release the active leg, only then drive the other
            if hw[_K_LEG] == 1:
                out_clr[0] = hw[_K_LEG_A_BIT]
            elif hw[_K_LEG] == 2:
                out_clr[0] = hw[_K_LEG_B_BIT]
            if leg == 1:
                out_set[0] = hw[_K_LEG_A_BIT]
            elif leg == 2:
                out_set[0] = hw[_K_LEG_B_BIT]
            hw[_K_LEG] = leg
        # last barrier after the supervisor: the hard cap, and the DAC's range
        if magnitude_ua > int(hw[_K_HARD_MAX_UA]):
            magnitude_ua = int(hw[_K_HARD_MAX_UA])
        elif magnitude_ua < 0:
            magnitude_ua = 0
        full = int(hw[_K_SETPOINT_FULL_UA])
        duty = (magnitude_ua * int(hw[_K_SETPOINT_MAX]) + (full >> 1)) // full
        if duty > _U16:
            duty = _U16
        # PWM.duty_u16 (machine_pwm.c): the level rounds duty / 65535 of the period
        level = (duty * int(hw[_K_PERIOD]) + (_U16 >> 1)) // _U16
        cc = ptr32(hw[_K_SETPOINT_CC])
        cc[0] = (cc[0] & hw[_K_CC_KEEP]) | (level << hw[_K_CC_SHIFT])
        if enable:
            out_set[0] = hw[_K_ENABLE_BIT]  # last: the new setpoint and polarity are in place

    @micropython.viper
    def sample(self, inputs):
        """common.Board.sample on the registers: the current first (its conversion is the tick's
        first reading of the front end), the electrode voltage, the head ID, then USB and button."""
        hw = ptr32(self._hw)
        out = ptr32(inputs)
        cs = ptr32(hw[_K_ADC_CS])
        result = ptr32(hw[_K_ADC_RESULT])
        k = _K_SENSE
        while k < _K_SENSE_END:
            # adc_select_input, then adc_read: start one conversion and wait for it (2 us)
            selected = (cs[0] & (-1 - _CS_WRITE_CLEARS)) | (hw[k] << _CS_AINSEL_SHIFT)
            cs[0] = selected
            cs[0] = selected | _CS_START_ONCE
            while (cs[0] & _CS_READY) == 0:
                pass
            raw = result[0] & _U16
            code = ((raw << 4) | (raw >> 8)) & _U16  # ADC.read_u16: 12 bits to 16
            # offset binary (value of half scale >> 15), or a plain scale (>> 16, zero code 0)
            out[hw[k + 4]] = (code - int(hw[k + 1])) * int(hw[k + 2]) >> int(hw[k + 3])
            k += _SENSE_WORDS
        gpio = ptr32(hw[_K_GPIO_IN])[0]
        if hw[_K_USB_BIT] == 0:
            out[2] = int(self._usb.value())
        elif gpio & hw[_K_USB_BIT]:
            out[2] = 1
        else:
            out[2] = 0
        if gpio & hw[_K_BUTTON_BIT]:
            out[3] = 0  # active low
        else:
            out[3] = 1

    def wdt_start(self, timeout_ms):
        self._wdt = WDT(timeout=timeout_ms)
        self._hw[_K_WDT_LOAD] = timeout_ms * _WDT_COUNTS_PER_MS

    @micropython.viper
    def wdt_feed(self):
        """WDT.feed on the register, once per tick: the method call and its lookups cost 16 us."""
        hw = ptr32(self._hw)
        if hw[_K_WDT_LOAD]:
            ptr32(hw[_K_WDT_LOAD_AT])[0] = hw[_K_WDT_LOAD]

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


def _registers(cfg):
    """The table sample() and write_output() work from, for this board_config. ValueError if a
    calibration would overflow the 32-bit arithmetic of viper on the RP2040."""
    hw = array("I", bytes(4 * _HW_WORDS))
    hw[_K_GPIO_IN] = _SIO_GPIO_IN
    hw[_K_OUT_SET] = _SIO_GPIO_OUT_SET
    hw[_K_OUT_CLR] = _SIO_GPIO_OUT_CLR
    hw[_K_ADC_CS] = _ADC_CS
    hw[_K_ADC_RESULT] = _ADC_RESULT
    hw[_K_WDT_LOAD_AT] = _WATCHDOG_LOAD
    sense = (
        (cfg.ISENSE_PIN, cfg.ISENSE_ZERO_U16, cfg.ISENSE_UA_PER_32768, 15, 0),
        (cfg.VSENSE_PIN, cfg.VSENSE_ZERO_U16, cfg.VSENSE_MV_PER_32768, 15, 1),
        (cfg.HEAD_PIN, 0, cfg.HEAD_MV_PER_65536, 16, 4),
    )
    for i, (pin, zero, scale, shift, slot) in enumerate(sense):
        if not 0 <= zero <= _U16 or not 0 <= scale <= _I32_MAX // _U16:
            raise ValueError("board_config: the sense scale of pin %d is out of range" % pin)
        for j, word in enumerate((pin - _ADC_FIRST_PIN, zero, scale, shift, slot)):
            hw[_K_SENSE + i * _SENSE_WORDS + j] = word
    if isinstance(cfg.USB_PIN, int):
        hw[_K_USB_BIT] = 1 << cfg.USB_PIN
    hw[_K_BUTTON_BIT] = 1 << cfg.BUTTON_PIN
    hw[_K_ENABLE_BIT] = 1 << cfg.ENABLE_PIN
    hw[_K_LEG_A_BIT] = 1 << cfg.LEG_A_PIN
    hw[_K_LEG_B_BIT] = 1 << cfg.LEG_B_PIN
    hw[_K_HARD_MAX_UA] = HARD_MAX_UA
    hw[_K_SETPOINT_MAX] = cfg.SETPOINT_MAX_CODE
    hw[_K_SETPOINT_FULL_UA] = cfg.SETPOINT_FULL_UA
    slice_at = _PWM_BASE + _PWM_SLICE_BYTES * ((cfg.SETPOINT_PIN >> 1) & 7)
    hw[_K_SETPOINT_CC] = slice_at + _PWM_CC
    hw[_K_PERIOD] = (machine.mem32[slice_at + _PWM_TOP] & _U16) + 1
    channel_b = cfg.SETPOINT_PIN & 1
    hw[_K_CC_SHIFT] = 16 if channel_b else 0
    hw[_K_CC_KEEP] = _U16 if channel_b else _U16 << 16
    if (HARD_MAX_UA * cfg.SETPOINT_MAX_CODE + cfg.SETPOINT_FULL_UA > _I32_MAX
            or cfg.SETPOINT_MAX_CODE > _U16 or hw[_K_PERIOD] * _U16 > _I32_MAX):
        raise ValueError("board_config: the setpoint's code or PWM period is out of range")
    return hw
