"""Bluetooth LE link (ESP32, Pico W): the C4 lines over the Nordic UART Service, with aioble.

The same Protocol object as USB answers; each answer goes back on the link that asked (BLE's own
line buffer, its own notifications). A read-only status characteristic (8 bytes, STATUS_FORMAT)
notifies changes. Rules (docs/security.md): only READ_ONLY requests from a link that is not
bonded and encrypted; USB_ONLY never over BLE; bonds are made only while the pairing window is
open (a double click in OFF opens it for PAIRING_WINDOW_MS, the LED blinks blue, fast; another
closes it). A hold of the button while it is open forgets every bond, as `ble` with "forget" over
USB does; the LED confirms once that is on flash. The bonds are a record of their own
(roller.ble_bonds), not aioble's file. A dropped link changes nothing: the App never learns of
it, and its session goes on under its own supervisor.

The loop (run): the control tick stays king. One asyncio task runs the paced loop; after each
tick and service it yields once (await sleep(0), no allocation) so aioble's tasks move bytes
in what is left of the ms. Requests are parsed and answered in service(), in this loop, never in
aioble's tasks; inside a tick only the radio's scheduled IRQ handlers can run. What runs between
ticks (answers, collections) can still make the next one late: measured in docs/companion.md,
"Tick jitter".
"""
import struct
import time

import aioble
import aioble.security
import asyncio
import bluetooth
from micropython import const

from roller import faults, programs, ui
from roller.ble_bonds import Bonds
from roller.jsonline import dumps
from roller.led import LED_BONDS_FORGOTTEN
from roller.limits import LINE_MAX_BYTES, PAIRING_WINDOW_MS, STREAM_PERIOD_MS
from roller.linebuf import LONG, LineBuffer
from roller.protocol import COMMANDS

NUS_UUID = bluetooth.UUID("6e400001-b5a3-f393-e0a9-e50e24dcca9e")
RX_UUID = bluetooth.UUID("6e400002-b5a3-f393-e0a9-e50e24dcca9e")  # the central writes requests
TX_UUID = bluetooth.UUID("6e400003-b5a3-f393-e0a9-e50e24dcca9e")  # we notify lines
STATUS_UUID = bluetooth.UUID("b9e40002-4d2c-4a8e-9f5f-2f4a3c6a7e10")  # read, notify
READ_ONLY = ("info", "status", "history")
USB_ONLY = ("bench", "ble")
# version, state, level, program, fault, flags (1 contact, 2 usb, 4 pairing), battery mV
STATUS_FORMAT = "<BBBBBBH"
STATUS_VERSION = const(1)
_ADV_INTERVAL_US = const(250_000)
_RX_BUFFER_BYTES = const(512)  # writes append here until service() takes them
_NOTIFY_BYTES = const(20)  # ATT's default MTU less 3: every central takes it
_NOTIFIES_PER_SERVICE = const(4)  # bounded work per ms; the rest waits for the next
_STATUS_EVERY_MS = const(100)
_YIELD_MIN_US = const(150)  # less left than this: no yield, the tick comes first
_IO_NO_INPUT_OUTPUT = const(3)  # no display, no keyboard: Just Works pairing in the window


class BleLink:
    def __init__(self, app, name):
        self.app = app
        self.protocol = app.protocol
        self.name = name
        self.lines = LineBuffer(LINE_MAX_BYTES)
        self.connection = None
        self.streaming = False
        self.pairing = False  # the window is open: the App's LED shows it
        self._pairing_ms = 0
        self._stream_ms = 0
        self._status_ms = 0
        self._status = b""
        self._written = False
        self._out = None  # memoryview of an answer still being notified
        self._confirm = False  # bonds forgotten: the LED says so once that is on flash
        self.bonds = Bonds(app.board.fs)
        self.bonds.load()
        self.bonds.install(aioble.security)  # before the stack starts: it asks for them
        service = aioble.Service(NUS_UUID)
        self.rx = aioble.BufferedCharacteristic(service, RX_UUID, write=True, write_no_response=True,
                                                max_len=_RX_BUFFER_BYTES, append=True)
        self.tx = aioble.Characteristic(service, TX_UUID, notify=True)
        self.status = aioble.Characteristic(service, STATUS_UUID, read=True, notify=True)
        aioble.register_services(service)
        aioble.config(bond=False, le_secure=True, mitm=False, io=_IO_NO_INPUT_OUTPUT)
        # one more command on the shared Protocol: `ble` (USB only)
        COMMANDS["ble"] = ("forget",)
        self.protocol._cmd_ble = self._cmd_ble
        app.ble = self

    # --- the rules ------------------------------------------------------------------------------
    def refuse(self, cmd):
        """Why `cmd` may not run on this link, or None."""
        if cmd in USB_ONLY:
            return cmd + " is not available over Bluetooth"
        if cmd in READ_ONLY:
            return None
        conn = self.connection
        if conn is None or not (conn.encrypted and conn.bonded):
            return "needs a bonded, encrypted link: pair in the device's pairing window"
        return None

    def open_pairing(self):
        """The button's double click in OFF: open the window; open already, close it."""
        if self.pairing:
            self.close_pairing()
            return
        self.pairing = True
        self._pairing_ms = self.app.uptime_ms()
        aioble.config(bond=True)

    def close_pairing(self):
        self.pairing = False
        aioble.config(bond=False)

    def forget_bonds(self):
        """Every bond gone: at once for the stack, on flash at the next service() (the LED
        confirms it then); a bonded link now is dropped; the window closes."""
        self.bonds.forget()
        self._confirm = True
        self.close_pairing()
        conn = self.connection
        if conn is not None and conn.bonded:
            aioble.core.ble.gap_disconnect(conn._conn_handle)

    def hold(self):
        """The button's hold in OFF: while the window is open, forget every bond."""
        if self.pairing:
            self.forget_bonds()

    def bond_count(self):
        return self.bonds.count()

    def _cmd_ble(self, request):
        forget = request.get("forget", False)
        if not isinstance(forget, bool):
            return {"ok": False, "error": "forget must be true or false"}
        if forget:
            self.forget_bonds()
        conn = self.connection
        return {"ok": True, "pairing": self.pairing, "bonds": self.bond_count(),
                "connected": conn is not None, "encrypted": bool(conn and conn.encrypted),
                "bonded": bool(conn and conn.bonded)}

    # --- in the paced loop, after App.service -----------------------------------------------------
    def service(self):
        """At most one request line and a few notifications; the window's end; the status; the
        bonds' record when they changed."""
        conn = self.connection
        out = self._out
        if out is not None:
            self._notify_some(conn, out)
        elif conn is not None:
            lines = self.lines
            if lines.chunk is None and self._written:
                self._written = False
                lines.feed(self.rx.read())  # what was appended since; the buffer starts over
            line = lines.line()
            if line is not None:
                self._answer(line)
            elif self.streaming:
                now = self.app.board.ticks_ms()
                if self.app.board.ticks_diff(now, self._stream_ms) >= STREAM_PERIOD_MS:
                    self._stream_ms = now
                    self._send(dumps(self.protocol._telemetry(), self.app.pace))
        now = self.app.uptime_ms()
        if self.pairing and now - self._pairing_ms >= PAIRING_WINDOW_MS:
            self.close_pairing()
        if now - self._status_ms >= _STATUS_EVERY_MS:
            self._status_ms = now
            self._update_status(conn)
        bonds = self.bonds
        if (bonds.changed or bonds.dirty) and self.app.may_write() and bonds.service(now) and self._confirm:
            self._confirm = False
            self.app.signal(LED_BONDS_FORGOTTEN)

    def _answer(self, line):
        protocol = self.protocol
        if line is LONG:
            response = {"ok": False, "error": "line too long (max %d bytes)" % LINE_MAX_BYTES}
        else:
            protocol.link = self
            try:
                response = protocol.handle(line, self)
            except MemoryError:
                response = {"ok": False, "error": "out of memory"}
            finally:
                protocol.link = None
        self._send(dumps(response, self.app.pace))

    def _send(self, text):
        self.app.answered_bytes += len(text)  # garbage to collect (App.service)
        self._notify_some(self.connection, memoryview(text.encode() + b"\n"))

    def _notify_some(self, conn, out):
        """Up to _NOTIFIES_PER_SERVICE pieces of `out`; what is left waits in self._out."""
        if conn is None:  # dropped: the answer goes nowhere, nothing else changes
            self._out = None
            return
        for _ in range(_NOTIFIES_PER_SERVICE):
            try:
                self.tx.notify(conn, out[:_NOTIFY_BYTES])
            except OSError:
                break  # the stack's buffers are full: again next ms
            out = out[_NOTIFY_BYTES:]
            if not out:
                self._out = None
                return
        self._out = out

    def status_bytes(self):
        app = self.app
        flags = ((1 if app.contact.confirmed else 0) | (2 if app.usb_present() else 0)
                 | (4 if self.pairing else 0))
        return struct.pack(STATUS_FORMAT, STATUS_VERSION, app.state, app.settings.level,
                           app.settings.program, app.fault, flags, app.battery.filtered_mv)

    def _update_status(self, conn):
        value = self.status_bytes()
        if value != self._status:
            self._status = value
            self.status.write(value, conn is not None)  # notify subscribers only on a change

    # --- aioble's tasks ---------------------------------------------------------------------------
    async def _connections(self):
        while True:
            conn = await aioble.advertise(_ADV_INTERVAL_US, name=self.name, services=[NUS_UUID])
            self.lines = LineBuffer(LINE_MAX_BYTES)  # a half line of the last central is not ours
            self.rx.read()
            self._written = False
            self.connection = conn
            await conn.disconnected(timeout_ms=None)
            self.connection = None
            self.streaming = False
            self._out = None

    async def _writes(self):
        while True:
            await self.rx.written()
            self._written = True

    async def _paced(self, pacer, service):
        link_service = self.service
        while True:
            pacer.pace()
            service()
            link_service()
            if pacer.wait_us() > _YIELD_MIN_US:
                await asyncio.sleep(0)  # aioble's tasks, in the rest of this ms (not sleep_ms(0): docs)
            wait_us = pacer.wait_us()
            if wait_us > 0:
                time.sleep_us(wait_us)

    def run(self, pacer, service):
        """The device's main loop with BLE: Board.run calls it instead of hal.common.run_paced."""
        async def main():
            asyncio.create_task(self._connections())
            asyncio.create_task(self._writes())
            await self._paced(pacer, service)

        asyncio.run(main())


def state_name(number):
    return ui.STATE_NAMES[number]


def status_dict(value):
    """The status characteristic's bytes as names (for hosts and tests)."""
    version, state, level, program, fault, flags, battery_mv = struct.unpack(STATUS_FORMAT, value)
    return {"version": version, "state": ui.STATE_NAMES[state], "level": level,
            "program": programs.NAMES[program], "fault": faults.NAMES[fault] or None,
            "contact": bool(flags & 1), "usb": bool(flags & 2), "pairing": bool(flags & 4),
            "battery_v": battery_mv / 1000}
