"""The ESP32 and RP2040 HALs under the MicroPython unix port, on a minimal fake machine.

micropython tests/mpy/hal_on_unix_port.py REPO_ROOT BOARD_DIR HAL_MODULE
Prints one result per line for tests/test_hal.py to check.
"""
from array import array
import sys

root, board_dir, hal_module = sys.argv[1], sys.argv[2], sys.argv[3]
sys.path.insert(0, root + "/firmware")
sys.path.insert(0, root + "/boards/" + board_dir)
events = []


class Pin:
    OUT = 1
    IN = 0
    PULL_UP = 1

    def __init__(self, pin_id, mode=-1, pull=-1, value=None):
        self.id = pin_id
        events.append(("init", pin_id, value))

    def value(self, level=None):
        if level is None:
            return 1
        events.append(("value", self.id, level))


class PWM:
    def __init__(self, pin, freq=0, duty_u16=0):
        self.pin = pin

    def duty_u16(self, duty):
        events.append(("duty", self.pin.id, duty))


class DAC:
    def __init__(self, pin):
        self.pin = pin

    def write(self, code):
        events.append(("dac", self.pin.id, code))


class ADC:
    ATTN_11DB = 3

    def __init__(self, pin, atten=None):
        self.pin = pin

    def read_u16(self):
        return cfg.ISENSE_ZERO_U16 + 16384


class WDT:
    def __init__(self, timeout=0):
        self.fed = 0

    def feed(self):
        self.fed += 1


class Timer:
    def __init__(self, timer_id, period=0, callback=None):
        self.callback = callback


class Machine:
    WDT_RESET = 3
    mem32 = {0x4005_0010: 1249}  # rp2: PWM slice 0's TOP at 100 kHz

    def __init__(self):
        self.Pin, self.PWM, self.DAC, self.ADC, self.WDT, self.Timer = Pin, PWM, DAC, ADC, WDT, Timer

    def reset_cause(self):
        return 1


sys.modules["machine"] = Machine()
import board as cfg  # noqa: E402

Board = __import__(hal_module, None, None, ["Board"]).Board


class App:
    ticks = 0

    def tick(self):
        self.ticks += 1
        if self.ticks == 20:
            raise KeyboardInterrupt


board = Board(cfg)  # the RP2040's viper code compiled by this port's native emitter
print("first", events[0] == ("init", cfg.ENABLE_PIN, 0))
del events[:]
if hasattr(board, "_hw"):
    # the RP2040's per-tick calls work on its registers, which are not there on this port
    # (tests/test_hal.py runs them on a register model, the emulated Pico on the chip's)
    print("registers", len(board._hw))
    board.write_output = lambda enable, polarity, ua: events.append(("output", enable, polarity, ua))
else:
    board.write_output(True, 1, 250)
    board.write_output(True, -1, 250)
    board.write_output(False, 0, 0)
    print("events", events)
    inputs = array("i", bytes(20))
    board.sample(inputs)
    print("current_ua", inputs[0])
# an idle console (stdin a pipe with nothing in it) allocates nothing: it is read every ms
import micropython  # noqa: E402

from hal import common  # noqa: E402

def idle_reads_allocate_nothing(console, count):
    console.read()  # the first poll sets up its table (64 bytes, once)
    micropython.heap_lock()
    try:
        for _ in range(count):
            if console.read() is not None:
                break
        else:
            micropython.heap_unlock()
            return True
    except MemoryError:
        pass
    micropython.heap_unlock()
    return False


print("idle_console", idle_reads_allocate_nothing(common.Console(), 100))
board.wdt_start(250)
app = App()
try:
    board.run(app)
except KeyboardInterrupt:
    print("interrupted", app.ticks, board._keeper is not None, events[-1])
