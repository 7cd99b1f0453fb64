"""roller.ble_uart with the real aioble (micropython-lib, pinned) on the unix port, against the
stand-in `bluetooth` (tests/mpy/ble_standin), on the sim board in simulated time.

micropython tests/mpy/ble_link_run.py REPO_ROOT AIOBLE_DIR FLASH_DIR
Prints one JSON object per line, {"check": name, ...}, for tests/test_ble.py.
"""
import json
import os

import ble_env  # next to this script, on its path

root, aioble_dir, flash_dir = ble_env.setup()

import asyncio  # noqa: E402

import aioble.core  # noqa: E402
from boards.sim.perf_rig import Rig  # noqa: E402
from roller import led, ui  # noqa: E402
from roller.ble_bonds import SLOTS, Bonds  # noqa: E402
from roller.ble_uart import BleLink, status_dict  # noqa: E402

ble = aioble.core.ble
rig = Rig(flash_dir, root + "/firmware")
rig.model.set_skin(20_000)
app = rig.app
link = BleLink(app, "Roller")
RX = link.rx._value_handle
TX = link.tx._value_handle
STATUS = link.status._value_handle
CONN = 7


def report(name, **values):
    values["check"] = name
    print(json.dumps(values))


async def run_ms(n):
    """n ms of the device: tick, App.service, the link's service; aioble's turn every 50 ms (a
    yield costs the unix port about 1 ms of wall time while a ThreadSafeFlag waits: its poll of
    non-file objects sleeps; the stand-in's IRQs are synchronous, so nothing waits on it)."""
    for i in range(n):
        rig.ticks(1)
        app.service()
        link.service()
        if i % 50 == 49:
            await asyncio.sleep(0)
    for _ in range(3):  # a flag set by an IRQ wakes its task one round later
        await asyncio.sleep(0)


def stored_bonds():
    """The bonds a boot would find on flash."""
    bonds = Bonds(app.board.fs)
    bonds.load()
    return bonds.count()


def lines_on(handle, since=0):
    text = b"".join(data for conn, h, data in ble.notified[since:] if h == handle)
    return [json.loads(line) for line in text.decode().split("\n") if line]


async def ask(text, pieces=1):
    """Write `text` + newline to RX (in `pieces` writes), wait, return the answers it got."""
    since = len(ble.notified)
    data = (text + "\n").encode()
    step = (len(data) + pieces - 1) // pieces
    for i in range(0, len(data), step):
        ble.central_write(CONN, RX, data[i:i + step])
        await run_ms(2)
    await run_ms(30)
    return [doc for doc in lines_on(TX, since) if "ok" in doc]


def usb(text):
    """One request on the console (USB): the board keeps the last line written."""
    app.board.shown = None
    app.protocol.service(text.encode() + b"\n")
    return json.loads(app.board.shown)


async def main():
    asyncio.create_task(link._connections())
    asyncio.create_task(link._writes())
    await run_ms(20)
    report("advertising", interval_us=ble.advertising, bond=ble._config.get("bond"))

    ble.central_connect(CONN)
    await run_ms(5)
    report("connected", connected=link.connection is not None)

    info = await ask('{"cmd": "info"}')
    report("info", answers=info)
    report("split_status", answers=await ask('{"cmd": "status"}', pieces=4))
    for cmd in ('{"cmd": "start"}', '{"cmd": "set", "level": 2}', '{"cmd": "stream", "on": true}',
                '{"cmd": "bench", "shape": "square", "hz": 10, "ua": 100}', '{"cmd": "ble"}',
                '{"cmd": "selftest"}', '{"cmd": "stop"}', '{"cmd": "log"}'):
        report("unbonded", request=cmd, answers=await ask(cmd), state=ui.STATE_NAMES[app.state])
    report("long", answers=await ask('{"cmd": "info", "x": "' + "a" * 300 + '"}'))

    ble.encryption(CONN, True, False)  # encrypted, not bonded (Just Works outside the window)
    await run_ms(5)
    report("encrypted_unbonded", answers=await ask('{"cmd": "set", "level": 2}'), level=app.settings.level)

    ble.encryption(CONN, True, True)
    await run_ms(5)
    shown_before = app.board.shown
    report("bonded_set", answers=await ask('{"cmd": "set", "level": 2}'), level=app.settings.level,
           usb_saw=app.board.shown != shown_before)
    report("bonded_bench", answers=await ask('{"cmd": "bench", "shape": "square", "hz": 10, "ua": 100}'))
    report("bonded_ble", answers=await ask('{"cmd": "ble"}'))

    since = len(ble.notified)
    answer = usb('{"cmd": "status"}')
    report("usb_answer_stays_on_usb", usb=answer, ble_lines=len(ble.notified) - since)

    report("bonded_stream", answers=await ask('{"cmd": "stream", "on": true}'))
    since = len(ble.notified)
    await run_ms(350)
    telemetry = [doc for doc in lines_on(TX, since) if "ua" in doc]
    report("telemetry", ble_lines=len(telemetry), usb_streaming=app.protocol.streaming)

    report("bonded_start", answers=await ask('{"cmd": "start"}'))
    for _ in range(100):
        await run_ms(100)
        if app.state == ui.RUN:
            break
    await run_ms(3000)  # past the soft start
    peaks = []
    for _ in range(200):
        await run_ms(1)
        peaks.append(abs(rig.model.delivered_ua))
    report("run", state=ui.STATE_NAMES[app.state], peak_ua=max(peaks))
    status_reads = status_dict(ble.gatts_read(STATUS))
    report("status_characteristic", value=status_reads,
           notified=len([1 for c, h, d in ble.notified if h == STATUS]))

    ble.central_disconnect(CONN)  # the phone walks away mid-session
    peaks = []
    for _ in range(2000):
        await run_ms(1)
        peaks.append(abs(rig.model.delivered_ua))
    report("dropped", state=ui.STATE_NAMES[app.state], peak_ua=max(peaks[-200:]),
           connection=link.connection is None,
           streaming=link.streaming, advertising=ble.advertising)

    usb('{"cmd": "stop"}')
    for _ in range(30):
        await run_ms(100)
        if app.state == ui.OFF:
            break
    report("off", state=ui.STATE_NAMES[app.state])

    # the pairing window: a double click in OFF opens it, the LED shows it, 60 s close it
    app.dispatch(ui.DOUBLE)
    await run_ms(20)
    report("window_open", pairing=link.pairing, bond=ble.config("bond"),
           led=app.led.pattern == led.LED_PAIRING,
           state=ui.STATE_NAMES[app.state], usb=usb('{"cmd": "ble"}'))
    ble.store_secret(b"peer-key", b"long-term-key")  # a central bonds meanwhile
    await run_ms(20)
    report("bonded_stored", exists=SLOTS[0] in os.listdir(), stored=stored_bonds(), usb=usb('{"cmd": "ble"}'))
    await run_ms(59_000)
    report("window_59s", pairing=link.pairing)
    await run_ms(1_100)
    report("window_closed", pairing=link.pairing, bond=ble.config("bond"), led=app.led.pattern == led.LED_OFF)

    ble.central_connect(CONN + 1)
    await run_ms(5)
    ble.encryption(CONN + 1, True, True)
    await run_ms(5)
    answer = usb('{"cmd": "ble", "forget": true}')
    await run_ms(10)
    report("forgotten", usb=answer, stored=stored_bonds(), dropped=ble.disconnected)

    app.dispatch(ui.DOUBLE)
    ble.store_secret(b"peer-key", b"long-term-key")
    await run_ms(20)
    app.dispatch(ui.DOUBLE)  # a second double click while open: it closes, the bonds stay
    await run_ms(20)
    report("double_again", pairing=link.pairing, bonds=link.bond_count(), stored=stored_bonds())


asyncio.run(main())
