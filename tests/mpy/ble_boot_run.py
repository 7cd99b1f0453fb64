"""One boot of a Bluetooth device (roller.ble_uart, the real aioble, the stand-in radio) on the sim
board, its flash a host folder kept from boot to boot: the end of this process is a power cut.

micropython tests/mpy/ble_boot_run.py REPO_ROOT AIOBLE_DIR FLASH_DIR STEP...
STEP: window (a double click in OFF), pair:PP (central PP connects and pairs, then asks a `set`),
try:PP (central PP comes back with the key it kept, asks a `set`), hold (the button held),
forget (`ble` "forget" over USB), tear:N (the Nth flash write from now is cut mid-write).
Prints one JSON object per line, {"check": name, ...}, for tests/test_ble_bonds.py; a write cut
prints {"check": "cut"} and ends the boot.
"""
import json
import os
import sys

import ble_env  # next to this script, on its path

root, aioble_dir, flash_dir = ble_env.setup()

import asyncio  # noqa: E402

import aioble.core  # noqa: E402
from boards.sim.flash import PowerLost  # noqa: E402
from boards.sim.perf_rig import Rig  # noqa: E402
from roller import led, ui  # noqa: E402
from roller.ble_uart import BleLink  # noqa: E402

ble = aioble.core.ble
rig = Rig(flash_dir, root + "/firmware")
app = rig.app
fs = app.board.fs
fs.on_cut = lambda: None  # the cut: PowerLost ends this boot
link = BleLink(app, "Roller")
RX = link.rx._value_handle
TX = link.tx._value_handle
seen = set()  # LED patterns shown


def report(name, **values):
    values["check"] = name
    print(json.dumps(values))


async def run_ms(n):
    """n ms of the device (tick, App.service, the link's service), aioble's turn every 10 ms."""
    for i in range(n):
        rig.ticks(1)
        app.service()
        link.service()
        seen.add(app.led.pattern)
        if i % 10 == 9:
            await asyncio.sleep(0)
    for _ in range(3):  # a flag set by an IRQ wakes its task one round later
        await asyncio.sleep(0)


def usb(text):
    app.board.shown = None
    app.protocol.service(text.encode() + b"\n")
    return json.loads(app.board.shown)


async def ask(conn, text):
    since = len(ble.notified)
    ble.central_write(conn, RX, (text + "\n").encode())
    await run_ms(30)
    text = b"".join(data for c, h, data in ble.notified[since:] if h == TX)
    return [json.loads(line) for line in text.decode().split("\n") if line]


def tear_at(n):
    """The nth write of the bonds' record from now keeps half its bytes, then the power goes."""
    count = [0]
    real_open = fs.open

    def open_(name, mode="r"):
        if "w" in mode and name.startswith("bonds."):
            count[0] += 1
            if count[0] == n:
                fs.tear_next_write = True
        return real_open(name, mode)

    fs.open = open_


async def visit(conn, peer, resume):
    """Central `peer` connects (pairs, or comes back with its key), asks for level 2, leaves."""
    addr = bytes((0,)) + bytes((int(peer, 16),)) * 6
    ble.central_connect(conn)
    await run_ms(5)
    writes = fs.writes
    if resume:
        ble.resume(conn, addr)
    else:
        ble.pair(conn, addr)
    writes_in_irq = fs.writes - writes  # the stack stored its keys: no flash write there
    await run_ms(5)
    connection = link.connection
    bonded = connection is not None and connection.bonded
    answers = await ask(conn, '{"cmd": "set", "level": 2}')
    ble.central_disconnect(conn)
    await run_ms(5)
    return {"peer": peer, "bonded": bonded, "set_ok": len(answers) == 1 and answers[0]["ok"],
            "answers": answers, "writes_in_irq": writes_in_irq, "bonds": usb('{"cmd": "status"}')["bonds"]}


async def main():
    asyncio.create_task(link._connections())
    asyncio.create_task(link._writes())
    await run_ms(20)
    status = usb('{"cmd": "status"}')
    report("boot", bonds=status["bonds"], pairing=status["pairing"], skipped=link.bonds.skipped,
           files=sorted(f for f in os.listdir() if "bond" in f or "secret" in f))
    conn = 10
    for step in sys.argv[4:]:
        conn += 1
        name, _, arg = step.partition(":")
        if name == "window":
            app.dispatch(ui.DOUBLE)
            await run_ms(20)
            report(step, pairing=link.pairing)
        elif name in ("pair", "try"):
            report(step, **(await visit(conn, arg, name == "try")))
        elif name in ("hold", "forget"):
            seen.clear()
            writes = link.bonds.writes
            if name == "hold":
                app.dispatch(ui.HOLD)
                answer = None
            else:
                answer = usb('{"cmd": "ble", "forget": true}')
            await run_ms(2500)
            status = usb('{"cmd": "status"}')
            report(step, bonds=status["bonds"], pairing=status["pairing"], usb=answer,
                   confirmed=led.LED_BONDS_FORGOTTEN in seen, writes=link.bonds.writes - writes)
        elif name == "tear":
            tear_at(int(arg))
        else:
            raise SystemExit("unknown step " + step)


try:
    asyncio.run(main())
except PowerLost:
    report("cut")
