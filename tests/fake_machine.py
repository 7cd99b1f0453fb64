"""A stand-in `machine` module for the HAL tests: records every pin write in order.

For the rp2 port (`new("rp2")`) it also has the RP2040 registers the HAL reads and writes
directly (hal/rp2040.py): `m.mem32` is the register file, with the side effects the HAL relies
on (SIO GPIO_IN/OUT_SET/OUT_CLR, ADC CS/RESULT, PWM CC/TOP, WATCHDOG LOAD), and the machine
objects go through the same registers, the way ports/rp2/machine_adc.c, machine_pin.c and
machine_pwm.c do. `install()` lets viper's ptr32(address) reach them on CPython.
"""
import builtins
import importlib
import sys
import types

WDT_RESET = 3
PWRON_RESET = 1

RP2_WATCHDOG_REASON = 0x4005_8008
RP2_WATCHDOG_CTRL = 0x4005_8000
RP2_WATCHDOG_SCRATCH1 = 0x4005_8010
RP2_WATCHDOG_LOAD = 0x4005_8004
SIO_GPIO_IN = 0xD000_0004
SIO_GPIO_OUT_SET = 0xD000_0014
SIO_GPIO_OUT_CLR = 0xD000_0018
ADC_CS = 0x4004_C000
ADC_RESULT = 0x4004_C004
ADC_START_ONCE = 1 << 2
ADC_READY = 1 << 8
PWM_BASE = 0x4005_0000
PWM_SLICE_BYTES = 0x14
PWM_CC = 0x0C
PWM_TOP = 0x10
RP2_CLOCK_HZ = 125_000_000


def rp2_read_u16(code):
    """ADC.read_u16 on rp2 for an input at the 16-bit level `code`: its 12-bit conversion,
    scaled back to 16 bits as machine_adc.c does."""
    raw = code >> 4
    return (raw << 4 | raw >> 8) & 0xFFFF


def rp2_level(duty_u16, top):
    """The CC level PWM.duty_u16 sets on rp2 (machine_pwm.c)."""
    return (min(duty_u16, 65535) * (top + 1) + 65535 // 2) // 65535


def rp2_top(freq):
    """The slice's TOP for `freq` (machine_pwm.c with a divider of 1; above that, not modelled)."""
    top = (RP2_CLOCK_HZ + freq // 2) // freq - 1
    return top if top < 65534 else 65534


def slice_of(pin):
    """(slice, channel B?) of a GPIO's PWM output."""
    return (pin >> 1) & 7, pin & 1


class Registers:
    """The RP2040 registers as the HAL sees them: a conversion is done at once (READY), a level
    on an input pin is the Pin's (levels, else its pull), writes to OUT_SET/CLR are events."""

    def __init__(self, m):
        self.m = m
        # the watchdog's REASON (TIMER 1, FORCE 2), CTRL (ENABLE bit 30) and SCRATCH1
        self.words = {RP2_WATCHDOG_REASON: 0, RP2_WATCHDOG_CTRL: 0, RP2_WATCHDOG_SCRATCH1: 0}

    def __getitem__(self, address):
        m = self.m
        if address == SIO_GPIO_IN:
            return sum(pin.value() << pin.id for pin in m.pins.values() if isinstance(pin.id, int))
        if address == ADC_CS:
            return self.words.get(address, 0) | ADC_READY
        return self.words.get(address, 0)

    def __setitem__(self, address, value):
        m = self.m
        value &= 0xFFFF_FFFF
        if address in (SIO_GPIO_OUT_SET, SIO_GPIO_OUT_CLR):
            for pin in range(30):
                if value >> pin & 1:
                    m.events.append(("value", pin, int(address == SIO_GPIO_OUT_SET)))
                    m.levels[pin] = int(address == SIO_GPIO_OUT_SET)
            return
        if address == RP2_WATCHDOG_LOAD:
            for wdt in m.wdts:  # WDT.feed reloads what WDT(timeout) loaded (pico-sdk: 2 counts per us)
                if value == wdt.timeout * 2000:
                    wdt.fed += 1
            return
        if address == ADC_CS:
            if value & ADC_START_ONCE:
                channel = value >> 12 & 7
                m.conversions.append(channel)
                self.words[ADC_RESULT] = m.adc_codes.get(26 + channel, 0) >> 4
            value &= ~(ADC_START_ONCE | ADC_READY)
        elif 0 <= address - PWM_BASE < 8 * PWM_SLICE_BYTES:
            number, register = divmod(address - PWM_BASE, PWM_SLICE_BYTES)
            if register == PWM_CC:
                m.events.append(("cc", number, value))
        self.words[address] = value


class _Word:
    """ptr32(address) on CPython: item i is the register at address + 4 i."""

    def __init__(self, registers, address):
        self.registers = registers
        self.address = address & 0xFFFF_FFFF

    def __getitem__(self, i):
        return self.registers[self.address + 4 * i]

    def __setitem__(self, i, value):
        self.registers[self.address + 4 * i] = value


def install(monkeypatch, m):
    """`m` as the machine module; for the rp2 port, viper's ptr32(address) on its registers."""
    monkeypatch.setitem(sys.modules, "machine", m)
    if m.port == "rp2":
        importlib.import_module("micropython")  # the CPython shim: its ptr32 passes buffers through
        buffer = builtins.ptr32
        monkeypatch.setattr(builtins, "ptr32",
                            lambda x: _Word(m.mem32, x) if isinstance(x, int) else buffer(x))


def new(port="esp32"):
    """A fresh module; `m.events` lists ("init"|"value"|"duty"|"dac"|"cc"|..., pin id or slice,
    value)."""
    m = types.ModuleType("machine")
    m.port = port
    m.events = []
    m.levels = {}  # pin id -> last level written (outputs) or set by the test (inputs)
    m.pins = {}  # pin id -> its Pin (GPIO_IN reads them)
    m.adc_codes = {}  # pin id -> the level (16-bit) at the input: what read_u16 returns (rp2: converted)
    m.conversions = []  # rp2: the ADC channel of each conversion started
    m.timers = []
    m.wdts = []
    m.cause = PWRON_RESET
    m.WDT_RESET = WDT_RESET

    class Pin:
        OUT = 1
        IN = 0
        PULL_UP = 1

        def __init__(self, pin_id, mode=-1, pull=-1, *, value=None):
            self.id = pin_id
            self.mode = mode
            self.pull = pull
            m.events.append(("init", pin_id, value))
            m.pins[pin_id] = self
            if value is not None:
                m.levels[pin_id] = value

        def value(self, level=None):
            if level is None:
                return m.levels.get(self.id, 1 if self.pull == Pin.PULL_UP else 0)
            m.events.append(("value", self.id, level))
            m.levels[self.id] = level
            return None

    class PWM:
        def __init__(self, pin, *, freq=0, duty_u16=0):
            self.pin = pin
            self.freq = freq
            m.events.append(("pwm", pin.id, duty_u16))
            if port == "rp2":
                slice_at = PWM_BASE + PWM_SLICE_BYTES * slice_of(pin.id)[0]
                m.mem32.words[slice_at + PWM_TOP] = rp2_top(freq)
                self._set_level(duty_u16)

        def duty_u16(self, duty):
            m.events.append(("duty", self.pin.id, duty))
            if port == "rp2":
                self._set_level(duty)

        def _set_level(self, duty):
            number, channel_b = slice_of(self.pin.id)
            cc_at = PWM_BASE + PWM_SLICE_BYTES * number + PWM_CC
            level = rp2_level(duty, m.mem32[cc_at - PWM_CC + PWM_TOP])
            old = m.mem32[cc_at]
            m.mem32[cc_at] = (old & 0xFFFF) | level << 16 if channel_b else (old & 0xFFFF_0000) | level

    class DAC:
        def __init__(self, pin):
            self.pin = pin

        def write(self, code):
            m.events.append(("dac", self.pin.id, code))

    class ADC:
        ATTN_11DB = 3

        def __init__(self, pin, *, atten=None):
            self.pin = pin
            self.atten = atten

        def read_u16(self):
            code = m.adc_codes.get(self.pin.id, 0)
            if port == "rp2":
                m.conversions.append(self.pin.id - 26)
                return rp2_read_u16(code)
            return code

    class WDT:
        def __init__(self, *, id=0, timeout=5000):
            self.timeout = timeout
            self.fed = 0
            m.wdts.append(self)

        def feed(self):
            self.fed += 1

    class Timer:
        def __init__(self, timer_id=-1, *, period=0, callback=None):
            self.period = period
            self.callback = callback
            m.timers.append(self)

    m.Pin, m.PWM, m.DAC, m.ADC, m.WDT, m.Timer = Pin, PWM, DAC, ADC, WDT, Timer
    m.reset_cause = lambda: m.cause
    m.mem32 = Registers(m)  # rp2: also the watchdog's REASON register (TIMER 1, FORCE 2)
    return m


class FakeTime:
    """time.ticks_* and sleep_us on a clock that only moves when the code sleeps or ticks."""

    def __init__(self, tick_cost_us=100):
        self.now_us = 0
        self.slept_us = []
        self.tick_cost_us = tick_cost_us

    def ticks_us(self):
        return self.now_us & ((1 << 30) - 1)

    def ticks_ms(self):
        return (self.now_us // 1000) & ((1 << 30) - 1)

    @staticmethod
    def ticks_add(t, d):
        return (t + d) & ((1 << 30) - 1)

    @staticmethod
    def ticks_diff(a, b):
        return ((a - b + (1 << 29)) & ((1 << 30) - 1)) - (1 << 29)

    def sleep_us(self, us):
        self.slept_us.append(us)
        self.now_us += us
