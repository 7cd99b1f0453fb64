"""On the (emulated) Pico: the control tick's lateness with and without the BLE link's asyncio loop.

Run by tests/ble_jitter.py through `mpremote run`. The Pico's rp2 firmware has no radio: the
stand-in `bluetooth` (tests/mpy/ble_standin) takes its place, and a task plays a bonded central
that writes a status request every 20 ms with telemetry on, so aioble's tasks, the link's
service and its notifications all run. The loops are the firmware's own (hal.common.run_paced,
BleLink._paced) around hal.common.Pacer, whose tick is wrapped to measure: lateness (how far after
its 1 ms deadline each tick starts) and the longest time between two tick starts, in the Pico's
own microseconds (emulated time: the host's speed does not enter).
"""
import gc
import time
from array import array

from micropython import const

import asyncio
from hal.common import Pacer, run_paced
from hal.rp2040 import Board
from roller import ui
from roller.app import App
from roller.jsonline import dumps

_TICKS = const(3000)
_BINS = const(64)  # lateness histogram, 10 us per bin, the last one open
_BIN_US = const(10)
_TICK_US = const(1000)
_STALL_US = const(20_000)  # a gap this long between tick starts is counted

board = Board()
app = App(board)
late = array("i", bytes(4 * _BINS))
worst = array("i", [0, 0, 0])  # max lateness, stalls over 20 ms, max time between tick starts
left = array("i", [0, 0])  # ticks left in this row, the last tick's start
asked = [0]  # when the last request was made (ms)


class _Enough(Exception):
    """The row's ticks are done: out of the firmware's endless loop."""


def measured_tick():
    now = time.ticks_us()
    us = time.ticks_diff(now, pacer._deadline_us) + _TICK_US  # pace() has moved it on already
    if us > worst[0]:
        worst[0] = us
    b = us // _BIN_US if us > 0 else 0
    late[b if b < _BINS else _BINS - 1] += 1
    if left[1]:
        gap = time.ticks_diff(now, left[1])
        if gap > worst[2]:
            worst[2] = gap
        if gap > _STALL_US:
            worst[1] += 1
    left[1] = now
    app.tick()
    left[0] -= 1
    if left[0] <= 0:
        raise _Enough


pacer = Pacer(measured_tick)
app.pace = pacer.pace  # as Board.run does


def summary(name, ticks=_TICKS):
    total = 0
    p50 = p99 = 0
    for i in range(_BINS):
        total += late[i]
        if p50 == 0 and total >= ticks // 2:
            p50 = (i + 1) * _BIN_US
        if p99 == 0 and total >= ticks * 99 // 100:
            p99 = (i + 1) * _BIN_US
    print("%s ticks %d p50_us <=%d p99_us <=%d over_100us %d over_500us %d max_us %d "
          "max_between_starts_us %d stalls_over_20ms %d" % (
              name, ticks, p50, p99, ticks - sum(late[i] for i in range(100 // _BIN_US)),
              ticks - sum(late[i] for i in range(500 // _BIN_US)), worst[0], worst[2], worst[1]))
    reset()


def reset():
    for i in range(_BINS):
        late[i] = 0
    worst[0] = worst[1] = worst[2] = 0
    left[1] = 0


def requests_every_20ms():
    """App.service, and a status request every 20 ms: the work of one from the console (parse,
    answer, encode, with the tick let in between), not the console's wait."""
    now = time.ticks_ms()
    if time.ticks_diff(now, asked[0]) >= 20:  # by the clock: nested ticks move `left` by several
        asked[0] = now
        dumps(app.protocol.handle(b'{"cmd": "status"}'), app.pace)
    app.service()


def plain(n, service=None):
    """hal.common.run_paced for n ticks."""
    left[0] = n
    pacer._deadline_us = time.ticks_us()  # the row starts on time
    try:
        run_paced(pacer, service or app.service)
    except _Enough:
        pass


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
plain(_TICKS, requests_every_20ms)
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
    """roller.ble_uart.BleLink._paced for n ticks."""
    left[0] = n
    pacer._deadline_us = time.ticks_us()
    try:
        await link._paced(pacer, app.service)
    except _Enough:
        pass


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
