"""A stand-in `machine` module for the HAL tests: records every pin write in order."""
import types

WDT_RESET = 3
PWRON_RESET = 1


def new():
    """A fresh module; `m.events` lists ("init"|"value"|"duty"|"dac"|..., pin id, value)."""
    m = types.ModuleType("machine")
    m.events = []
    m.levels = {}  # pin id -> last level written (outputs) or set by the test (inputs)
    m.adc_codes = {}  # pin id -> what read_u16 returns
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

        def duty_u16(self, duty):
            m.events.append(("duty", self.pin.id, duty))

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
            return m.adc_codes.get(self.pin.id, 0)

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
    # rp2: the watchdog's REASON (TIMER 1, FORCE 2), CTRL (ENABLE bit 30) and SCRATCH1 registers
    m.mem32 = {RP2_WATCHDOG_REASON: 0, RP2_WATCHDOG_CTRL: 0, RP2_WATCHDOG_SCRATCH1: 0}
    return m


RP2_WATCHDOG_CTRL = 0x4005_8000
RP2_WATCHDOG_REASON = 0x4005_8008
RP2_WATCHDOG_SCRATCH1 = 0x4005_8010


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
