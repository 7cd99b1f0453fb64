"""The Bluetooth bonds (roller.ble_uart): a power-loss-safe record of the stack's secrets.

aioble.security keeps the secrets in a dict that it loads from a JSON file before the stack
starts and rewrites in place after each change: a power cut mid-write loses every bond. Here the
dict is ours (install: aioble's load and save are replaced at run time, its files untouched) and
it is stored as roller.store's records are (CRC, length, sequence number; store.decode), in two
slot files. A write goes to the slot not holding the newest record, then to the other: during
either one slot holds a whole record (the old one, then the new), and once both are done no copy
of a removed bond is left to come back. Writes happen in service() only, never in the tick: the
stack's change only sets a flag (aioble schedules its save).

A bond is what the stack keeps for one central: the secrets under one key (NimBLE: the central's
address, for its keys and ours). NimBLE's own IRK is the device's, no bond: kept, not counted,
not forgotten. At most BONDS_MAX bonds; one more drops the oldest. A record that is torn,
corrupt or of another layout is skipped; none left: no bonds.
"""
import binascii

from micropython import const

from roller.limits import BONDS_MAX, STORE_WRITE_MIN_MS
from roller.store import encode, newest

SLOTS = ("bonds.a", "bonds.b")
LEGACY_FILE = "ble_bonds.json"  # where commit 45789b6 let aioble keep the keys (removed at load)
OWN_IRK = const(10)  # NimBLE's SECRET_TYPE_OUR_IRK (extmod/nimble/modbluetooth_nimble.c)
_KEY_MAX_BYTES = const(32)  # NimBLE's keys: 7 (an address), 3 ("irk")
_VALUE_MAX_BYTES = const(128)  # NimBLE's ble_store_value_sec: about 80
_SECRETS_A_BOND = const(4)  # NimBLE keeps 2 (its keys, ours): room for a stack that keeps more
_SECRETS_MAX = _SECRETS_A_BOND * BONDS_MAX + 4  # and the device's own (NimBLE: 1)
_MAX_BYTES = const(4096)


def _is_int(x):
    return isinstance(x, int) and not isinstance(x, bool)


def _bytes(text, max_bytes):
    """The bytes a record's hex string holds, or None."""
    if not isinstance(text, str) or not 0 < len(text) <= 2 * max_bytes:
        return None
    try:
        return binascii.unhexlify(text)
    except ValueError:  # odd length or not hex (binascii.Error on CPython is one)
        return None


def _hex(data):
    return binascii.hexlify(data).decode()


def _valid(doc):
    if not isinstance(doc, dict) or not _is_int(doc.get("seq")) or doc["seq"] < 0:
        return False
    entries = doc.get("secrets")
    if not isinstance(entries, list) or len(entries) > _SECRETS_MAX:
        return False
    seen = []
    bonds = []
    for entry in entries:
        if not isinstance(entry, list) or len(entry) != 3 or not _is_int(entry[0]):
            return False
        kind, key, value = entry
        if not 0 <= kind <= 255 or [kind, key] in seen:
            return False
        if _bytes(key, _KEY_MAX_BYTES) is None or _bytes(value, _VALUE_MAX_BYTES) is None:
            return False
        seen.append([kind, key])
        if kind != OWN_IRK and key not in bonds:
            bonds.append(key)
    return len(bonds) <= BONDS_MAX


class Bonds:
    def __init__(self, fs):
        self.fs = fs
        self.secrets = {}  # (type, key) -> value: aioble.security._secrets once installed
        self.order = []  # the bonds' keys, oldest first
        self.seq = 0
        self.slot = 1  # slot of the newest record: the first write goes to A
        self.skipped = 0  # records found torn, corrupt or of another layout
        self.changed = False  # the stack set or deleted a secret since service() last looked
        self.dirty = False
        self.writes = 0
        self._failed_ms = -STORE_WRITE_MIN_MS  # a failed write is retried this long after

    def load(self):
        """The newest valid record's secrets, in their order; none valid: no bonds. The keys file
        of the first BLE firmware (aioble's own JSON) is removed, not taken over: keys no record
        accounts for must not stay on flash (its centrals pair again)."""
        if self.fs.exists(LEGACY_FILE):
            self.fs.remove(LEGACY_FILE)
        best, self.slot, self.skipped = newest(self.fs, SLOTS, _MAX_BYTES, _valid)
        if best is None:
            return
        self.seq = best["seq"]
        for kind, key, value in best["secrets"]:
            key = binascii.unhexlify(key)
            self.secrets[kind, key] = binascii.unhexlify(value)
            if kind != OWN_IRK and key not in self.order:
                self.order.append(key)

    def install(self, security):
        """Make aioble.security keep its secrets here. Before the stack starts: it asks for them."""
        secrets = self.secrets

        def load_secrets(path=None):  # aioble calls it before it activates the stack
            security._secrets = secrets

        load_secrets()
        security.load_secrets = load_secrets
        security._save_secrets = self._saved  # scheduled by the stack's IRQ after each change

    def _saved(self, _):
        self.changed = True  # no flash here: this may run inside the tick

    def count(self):
        return len(self.order)

    def forget(self):
        """Every bond gone (the device's own key stays); on flash at the next service()."""
        secrets = self.secrets  # aioble holds this dict: emptied, not replaced
        for kind, key in list(secrets):
            if kind != OWN_IRK:
                del secrets[kind, key]
        self.order = []
        self.dirty = True

    # --- in service(), never in the tick --------------------------------------------------------
    def service(self, now_ms):
        """Take the stack's changes (dropping the oldest bonds beyond BONDS_MAX) and write them.
        True when a write completed."""
        if self.changed:
            self.changed = False
            self._take_changes()
        if self.dirty and now_ms - self._failed_ms >= STORE_WRITE_MIN_MS:
            if self._write():
                return True
            self._failed_ms = now_ms
        return False

    def _take_changes(self):
        keys = []
        for kind, key in self.secrets:
            if kind != OWN_IRK and key not in keys:
                keys.append(key)
        order = [k for k in self.order if k in keys] + [k for k in keys if k not in self.order]
        while len(order) > BONDS_MAX:
            oldest = order.pop(0)
            for kind, key in list(self.secrets):
                if key == oldest and kind != OWN_IRK:
                    del self.secrets[kind, key]
        self.order = order
        self.dirty = True

    def _write(self):
        self.seq += 1
        record = encode({"seq": self.seq, "secrets": self._entries()})
        target = 1 - self.slot
        try:
            for slot in (target, self.slot):  # the new record first: the old one holds meanwhile
                with self.fs.open(SLOTS[slot], "wb") as f:
                    f.write(record)
        except OSError:
            return False  # flash full or failing: still dirty
        self.slot = target
        self.dirty = False
        self.writes += 1
        return True

    def _entries(self):
        """[type, key hex, value hex]: the device's own first, then each bond's, oldest first."""
        secrets = self.secrets
        hexed = []
        for key in [None] + self.order:
            for kind, k in secrets:
                if (key is None and kind == OWN_IRK) or (k == key and kind != OWN_IRK):
                    hexed.append([kind, _hex(k), _hex(secrets[kind, k])])
        return hexed
