"""On the (emulated) Pico: the control tick's lateness with and without the BLE link's asyncio loop.

Run by tests/ble_jitter.py through `mpremote run`. The Pico's rp2 firmware has no radio: the
stand-in `bluetooth` (tests/mpy/ble_standin) takes its place, and a task plays a bonded central
that writes a status request every 20 ms with telemetry on, so aioble's tasks, the link's
service and its notifications all run. Lateness: how far after its 1 ms deadline each tick
starts, in the Pico's own microseconds (emulated time: the host's speed does not enter).
"""
import time
from array import array

from micropython import const

import asyncio
from hal.rp2040 import Board
from roller import ui
from roller.app import App

_TICKS = const(3000)
_BINS = const(64)  # lateness histogram, 10 us per bin, the last one open
_BIN_US = const(10)
_TICK_US = const(1000)

board = Board()
app = App(board)
late = array("i", bytes(4 * _BINS))
worst = array("i", [0])


def record(deadline_us):
    us = time.ticks_diff(time.ticks_us(), deadline_us)
    if us > worst[0]:
        worst[0] = us
    b = us // _BIN_US if us > 0 else 0
    late[b if b < _BINS else _BINS - 1] += 1


def summary(name):
    total = 0
    p99 = 0
    for i in range(_BINS):
        total += late[i]
        if p99 == 0 and total >= _TICKS * 99 // 100:
            p99 = (i + 1) * _BIN_US
    print("%s ticks %d p99_us <=%d max_us %d" % (name, _TICKS, p99, worst[0]))
    for i in range(_BINS):
        late[i] = 0
    worst[0] = 0


def plain(n):
    """hal.common.run_paced's loop, measured."""
    deadline_us = time.ticks_us()
    for _ in range(n):
        record(deadline_us)
        app.tick()
        app.service()
        deadline_us = time.ticks_add(deadline_us, _TICK_US)
        wait_us = time.ticks_diff(deadline_us, time.ticks_us())
        if wait_us > 0:
            time.sleep_us(wait_us)


def settle_in_run():
    app.dispatch(ui.START)
    for _ in range(8):  # self-test, contact (the emulator's load), soft start
        plain(500)
    print("state", ui.STATE_NAMES[app.state])


settle_in_run()
plain(_TICKS)
summary("usb_only")

from roller.ble_uart import BleLink  # noqa: E402
import aioble.core  # noqa: E402

link = BleLink(app, "Roller")
ble = aioble.core.ble


async def central():
    await asyncio.sleep_ms(5)
    ble.central_connect(1)
    await asyncio.sleep_ms(5)
    ble.encryption(1, True, True)
    ble.central_write(1, link.rx._value_handle, b'{"cmd": "stream", "on": true}\n')
    while True:
        await asyncio.sleep_ms(20)
        ble.central_write(1, link.rx._value_handle, b'{"cmd": "status"}\n')


async def measured(n):
    """roller.ble_uart.BleLink._paced, measured."""
    deadline_us = time.ticks_us()
    for _ in range(n):
        record(deadline_us)
        app.tick()
        app.service()
        link.service()
        deadline_us = time.ticks_add(deadline_us, _TICK_US)
        if time.ticks_diff(deadline_us, time.ticks_us()) > 150:
            await asyncio.sleep(0)
        wait_us = time.ticks_diff(deadline_us, time.ticks_us())
        if wait_us > 0:
            time.sleep_us(wait_us)


async def main():
    asyncio.create_task(link._connections())
    asyncio.create_task(link._writes())
    asyncio.create_task(central())
    await measured(500)  # connected, streaming
    summary("warmup")
    await measured(_TICKS)
    summary("ble_active")
    print("notifications", len(ble.notified), "state", ui.STATE_NAMES[app.state])


asyncio.run(main())
board.write_output(False, 0, 0)
