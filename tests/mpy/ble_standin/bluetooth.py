"""A stand-in for MicroPython's `bluetooth` module on the unix port: the GATT server calls aioble
makes, kept as values; the radio's IRQs raised by the test (central_*). MicroPython only."""
from micropython import const

_IRQ_CENTRAL_CONNECT = const(1)
_IRQ_CENTRAL_DISCONNECT = const(2)
_IRQ_GATTS_WRITE = const(3)
_IRQ_ENCRYPTION_UPDATE = const(28)
_IRQ_GET_SECRET = const(29)
_IRQ_SET_SECRET = const(30)
_OUR_SEC = const(1)  # NimBLE's secret types, as modbluetooth_nimble.c hands them to Python
_PEER_SEC = const(2)
_OUR_IRK = const(10)
FLAG_NOTIFY = const(0x0010)


def _hex_bytes(text):
    return bytes(int(text[i:i + 2], 16) for i in range(0, len(text), 2))


class _UUID(bytes):
    pass


def UUID(value):
    """Little-endian bytes, as the port's bluetooth.UUID gives them."""
    if isinstance(value, int):
        return _UUID(bytes((value & 0xFF, value >> 8)))
    return _UUID(bytes(reversed(_hex_bytes(value.replace("-", "")))))


class BLE:
    def __init__(self):
        self._active = False
        self._irq = None
        self._config = {"mac": (0, b"\x02\x00\x00\x00\x00\x01"), "gap_name": b"MPY"}
        self.values = {}  # value handle -> bytes
        self.append = {}  # value handle -> True for append buffers
        self.flags = {}  # value handle -> characteristic flags
        self.notified = []  # (conn, value handle, bytes) in order
        self.advertising = None  # interval while advertising
        self.connected = set()
        self.disconnected = []  # conn handles the device dropped
        self.full = False  # gatts_notify raises OSError (the stack's buffers full) while True
        self.started = 0  # activations: NimBLE's load_irk runs at each

    # --- the port's API, as aioble calls it ---------------------------------------------------
    def active(self, on=None):
        if on is None:
            return self._active
        if on and not self._active:
            self.started += 1
            self._load_irk()
        self._active = bool(on)
        return None

    def _load_irk(self):
        """NimBLE at start: its own IRK from the secret store, or a new one stored there."""
        irk = self._irq(_IRQ_GET_SECRET, (_OUR_IRK, 0, b"irk"))
        if irk is None or len(irk) != 16:
            self._irq(_IRQ_SET_SECRET, (_OUR_IRK, b"irk", bytes(range(16))))

    def irq(self, handler):
        self._irq = handler

    def config(self, *args, **kwargs):
        if args:
            return self._config[args[0]]
        self._config.update(kwargs)
        return None

    def gatts_register_services(self, services):
        handle = 1
        result = []
        for _, characteristics in services:
            handles = []
            handle += 1  # the service declaration
            for c in characteristics:
                handle += 1  # the characteristic declaration
                handles.append(handle)
                self.values[handle] = b""
                self.flags[handle] = c[1]
                handle += 2 if c[1] & FLAG_NOTIFY else 1  # its CCCD
            result.append(tuple(handles))
        return tuple(result)

    def gatts_set_buffer(self, handle, size, append=False):
        self.append[handle] = append

    def gatts_read(self, handle):
        value = self.values[handle]
        if self.append.get(handle):
            self.values[handle] = b""
        return value

    def gatts_write(self, handle, data, send_update=False):
        self.values[handle] = bytes(data)
        if send_update:
            for conn in sorted(self.connected):
                self.notified.append((conn, handle, bytes(data)))

    def gatts_notify(self, conn, handle, data=None):
        if self.full:
            raise OSError(12)
        self.notified.append((conn, handle, bytes(data if data is not None else self.values[handle])))

    def gap_advertise(self, interval_us, adv_data=None, resp_data=None, connectable=True):
        self.advertising = interval_us

    def gap_disconnect(self, conn):
        self.disconnected.append(conn)
        self.central_disconnect(conn)
        return True

    # --- the radio, driven by the test ------------------------------------------------------------
    def central_connect(self, conn):
        self.connected.add(conn)
        self.advertising = None
        self._irq(_IRQ_CENTRAL_CONNECT, (conn, 0, b"\x11\x22\x33\x44\x55\x66"))

    def central_disconnect(self, conn):
        if conn in self.connected:
            self.connected.discard(conn)
            self._irq(_IRQ_CENTRAL_DISCONNECT, (conn, 0, b"\x11\x22\x33\x44\x55\x66"))

    def central_write(self, conn, handle, data):
        if self.append.get(handle):
            self.values[handle] += data
        else:
            self.values[handle] = data
        self._irq(_IRQ_GATTS_WRITE, (conn, handle))

    def encryption(self, conn, encrypted, bonded):
        self._irq(_IRQ_ENCRYPTION_UPDATE, (conn, encrypted, False, bonded, 16))

    def store_secret(self, key, value):
        """What the stack does when a pairing makes a bond."""
        return self._irq(_IRQ_SET_SECRET, (1, key, value))

    def pair(self, conn, addr):
        """A central pairs (Just Works), as NimBLE goes about it: with bonding configured, the
        two keys of the bond stored under the central's address (7 bytes: type, address),
        then the link encrypted and bonded; without, encrypted only."""
        bonded = bool(self._config.get("bond"))
        if bonded:
            for kind in (_OUR_SEC, _PEER_SEC):
                if not self._irq(_IRQ_SET_SECRET, (kind, addr, _sec_value(kind, addr))):
                    bonded = False  # the store refused: NimBLE does not bond
        self.encryption(conn, True, bonded)

    def resume(self, conn, addr):
        """A central that kept a bond encrypts with its key: NimBLE asks the store for the
        central's; found, the link is encrypted and bonded; not found, the central pairs anew."""
        if self._irq(_IRQ_GET_SECRET, (_PEER_SEC, 0, addr)) == _sec_value(_PEER_SEC, addr):
            self.encryption(conn, True, True)
        else:
            self.pair(conn, addr)


def _sec_value(kind, addr):
    """A ble_store_value_sec's worth of bytes (80) for this central and type."""
    return bytes((kind,)) + addr + bytes(i * 7 & 0xFF for i in range(72))
