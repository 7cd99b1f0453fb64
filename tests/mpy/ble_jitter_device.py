"""On the (emulated) Pico: the control tick's lateness with and without the BLE link's asyncio loop.

Run by tests/ble_jitter.py through `mpremote run`. The Pico's rp2 firmware has no radio: the
stand-in `bluetooth` (tests/mpy/ble_standin) takes its place, and a task plays a bonded central
that writes a status request every 20 ms with telemetry on, so aioble's tasks, the link's
service and its notifications all run. Lateness: how far after its 1 ms deadline each tick
starts, in the Pico's own microseconds (emulated time: the host's speed does not enter).
"""
import gc
import time
from array import array

from micropython import const

import asyncio
from hal.rp2040 import Board
from roller import ui
from roller.app import App
from roller.jsonline import dumps

_TICKS = const(3000)
_BINS = const(64)  # lateness histogram, 10 us per bin, the last one open
_BIN_US = const(10)
_TICK_US = const(1000)
_RESYNC_US = const(20_000)  # as hal.common.run_paced: this far behind, drop the missed ticks

board = Board()
app = App(board)
late = array("i", bytes(4 * _BINS))
worst = array("i", [0, 0])  # max lateness, resyncs


def record(deadline_us):
    us = time.ticks_diff(time.ticks_us(), deadline_us)
    if us > worst[0]:
        worst[0] = us
    b = us // _BIN_US if us > 0 else 0
    late[b if b < _BINS else _BINS - 1] += 1


def summary(name, ticks=_TICKS):
    total = 0
    p50 = p99 = 0
    for i in range(_BINS):
        total += late[i]
        if p50 == 0 and total >= ticks // 2:
            p50 = (i + 1) * _BIN_US
        if p99 == 0 and total >= ticks * 99 // 100:
            p99 = (i + 1) * _BIN_US
    print("%s ticks %d p50_us <=%d p99_us <=%d over_100us %d over_500us %d max_us %d resyncs %d" % (
        name, ticks, p50, p99, ticks - sum(late[i] for i in range(100 // _BIN_US)),
        ticks - sum(late[i] for i in range(500 // _BIN_US)), worst[0], worst[1]))
    reset()


def reset():
    for i in range(_BINS):
        late[i] = 0
    worst[0] = worst[1] = 0


def pace(deadline_us):
    """Sleep to the next deadline; as the real loops, resync after a long stall."""
    deadline_us = time.ticks_add(deadline_us, _TICK_US)
    wait_us = time.ticks_diff(deadline_us, time.ticks_us())
    if wait_us > 0:
        time.sleep_us(wait_us)
    elif wait_us < -_RESYNC_US:
        worst[1] += 1
        deadline_us = time.ticks_us()
    return deadline_us


def plain(n, requests=False):
    """hal.common.run_paced's loop, measured; `requests`: a status request on the console every
    20 ms, as the BLE run gets them (the same protocol work, without the radio)."""
    deadline_us = time.ticks_us()
    for i in range(n):
        record(deadline_us)
        app.tick()
        if requests and i % 20 == 0:
            dumps(app.protocol.handle(b'{"cmd": "status"}'))  # the work, not the console's wait
        else:
            app.service()
        deadline_us = pace(deadline_us)


def settle_in_run():
    app.dispatch(ui.START)
    for _ in range(8):  # self-test, contact (the emulator's load), soft start
        plain(500)
    print("state", ui.STATE_NAMES[app.state])


settle_in_run()
reset()
gc.collect()
plain(_TICKS)
summary("usb_idle")
gc.collect()
plain(_TICKS, True)
summary("usb_status_every_20ms")

from roller.ble_uart import BleLink  # noqa: E402
import aioble.core  # noqa: E402

link = BleLink(app, "Roller")
ble = aioble.core.ble


class _Count:
    """Notifications counted, not kept: the stand-in's list would fill the Pico's heap."""

    n = 0

    def append(self, item):
        self.n += 1

    def __len__(self):
        return self.n


ble.notified = _Count()


busy = [False]  # the central's requests: off for the idle run


async def central():
    await asyncio.sleep_ms(5)
    ble.central_connect(1)
    await asyncio.sleep_ms(5)
    ble.encryption(1, True, True)
    while not busy[0]:
        await asyncio.sleep_ms(20)
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
        if time.ticks_diff(time.ticks_add(deadline_us, _TICK_US), time.ticks_us()) > 150:
            await asyncio.sleep(0)
        deadline_us = pace(deadline_us)


async def main():
    asyncio.create_task(link._connections())
    asyncio.create_task(link._writes())
    asyncio.create_task(central())
    await measured(500)  # connected
    reset()
    gc.collect()
    await measured(_TICKS)
    summary("ble_connected_idle")
    busy[0] = True
    await measured(500)  # streaming
    reset()
    gc.collect()
    await measured(_TICKS)
    summary("ble_active")
    print("notifications", len(ble.notified), "state", ui.STATE_NAMES[app.state])


asyncio.run(main())
board.write_output(False, 0, 0)
