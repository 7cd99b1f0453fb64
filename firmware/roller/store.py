"""Power-loss-safe persistence (R14): settings, usage counters, a bounded fault log and the
session history (roller.history).

Two slot files hold whole records `RS1 <crc32 hex> <length>\\n<JSON>`, the JSON carrying a
sequence number. A write goes to the slot not holding the newest record, in one write call;
a power cut tears at most that slot, whose CRC then fails, and the other keeps the previous
state. Writes happen only in service() (never in the control tick), coalesced and at most one
per STORE_WRITE_MIN_MS, except that a fault, a session's start and its end are written at once.
There is no RTC: a log entry is stamped with the boot number and the ms since that boot.

The history is a ring of HISTORY_ENTRIES finished sessions, oldest first, in the same record:
a torn write leaves the previous record, with the older entries and the settings. The session
running is kept as `open` (written when it reaches RUN and every HISTORY_CHECKPOINT_MS of
contact); a boot that finds one open closes it with the end `power_cut`.
"""
import binascii
import json

from micropython import const

from roller.limits import FAULT_LOG_ENTRIES, HISTORY_ENTRIES, STORE_WRITE_MIN_MS

SLOTS = ("store.a", "store.b")
MAGIC = "RS1"
_MAX_BYTES = const(6144)  # about 3 kB with a full log and history; more is not ours
# a history entry: [start unix s (-1: clock not set), boot, uptime s, contact ms, zones, head,
# program, level, peak uA, mean uA, charge nC, end] (roller.history names the fields)
_ENTRY_TYPES = (int, int, int, int, int, str, str, int, int, int, int, str)
POWER_CUT = "power_cut"


def _is_int(x):
    return isinstance(x, int) and not isinstance(x, bool)


def _valid(doc):
    """A CRC-clean record of this format (an older or newer layout is skipped)."""
    if not isinstance(doc, dict):
        return False
    for key in ("seq", "boot", "sessions", "stim_s"):
        if not _is_int(doc.get(key)) or doc[key] < 0:
            return False
    if not isinstance(doc.get("settings"), dict) or not isinstance(doc.get("last_fault"), str):
        return False
    log = doc.get("log")
    if not isinstance(log, list) or len(log) > FAULT_LOG_ENTRIES:
        return False
    for entry in log:
        if not isinstance(entry, list) or len(entry) != 3:
            return False
        if not _is_int(entry[0]) or not _is_int(entry[1]) or not isinstance(entry[2], str):
            return False
    # the history came later: a record without one is an older layout's, still ours
    history = doc.get("hist", [])
    if not isinstance(history, list) or len(history) > HISTORY_ENTRIES:
        return False
    for entry in history:
        if not _valid_entry(entry):
            return False
    return doc.get("open") is None or _valid_entry(doc["open"])


def _valid_entry(entry):
    if not isinstance(entry, list) or len(entry) != len(_ENTRY_TYPES):
        return False
    for i in range(len(_ENTRY_TYPES)):
        kind = _ENTRY_TYPES[i]
        if not isinstance(entry[i], kind) or (kind is int and isinstance(entry[i], bool)):
            return False
    return True


def _header(body):
    return ("%s %08x %d\n" % (MAGIC, binascii.crc32(body) & 0xFFFFFFFF, len(body))).encode()


def encode(doc):
    """The bytes of one record."""
    body = json.dumps(doc).encode()
    return _header(body) + body


def decode(data, valid=None):
    """The record document in `data`, or None when torn, corrupt or not ours. `valid`: the
    layout check of another record of this scheme (roller.ble_bonds); the store's by default."""
    nl = data.find(b"\n")
    if nl < 0:
        return None
    body = data[nl + 1 :]
    if data[: nl + 1] != _header(body):  # length and CRC of what is there, byte for byte
        return None
    try:
        doc = json.loads(body)
    except ValueError:
        return None
    return doc if (valid or _valid)(doc) else None


def newest(fs, slots, max_bytes, check=None):
    """(the newest valid record of `slots`, its slot, how many were torn or corrupt): a record
    scheme's load, shared by the store and roller.ble_bonds. None valid: (None, the last slot,
    n), so the first write goes to the first slot."""
    best, slot, skipped = None, len(slots) - 1, 0
    for i in range(len(slots)):
        try:
            with fs.open(slots[i], "rb") as f:
                data = f.read(max_bytes + 1)
        except OSError:
            continue  # never written
        doc = decode(data, check)
        if doc is None:
            skipped += 1
        elif best is None or doc["seq"] > best["seq"]:
            best, slot = doc, i
    return best, slot, skipped


class Store:
    def __init__(self, fs):
        self.fs = fs
        self.seq = 0
        self.slot = 1  # slot of the newest record: the first write goes to A
        self.boot = 1  # this boot's number: one more than the last boot that wrote
        self.settings = {}  # as restored at boot
        self.sessions = 0
        self.stim_s = 0
        self.last_fault = ""
        self.log = []  # [boot, ms since boot, code], oldest first
        self.history = []  # finished sessions, oldest first (entries as _ENTRY_TYPES)
        self.open = None  # the session running, as last saved
        # 1 when the last RUN's periods began with the negative half (None: no RUN yet). A power
        # cut leaves charge of that sign; the next boot begins with the other (docs/safety.md)
        self.run_negative_first = None
        self.skipped = 0  # records found torn or corrupt at boot
        self.writes = 0
        self.dirty = False
        self._urgent = False
        self._last_write_ms = -STORE_WRITE_MIN_MS

    def load(self):
        """Take the newest valid record; torn or corrupt ones are counted and skipped."""
        best, self.slot, self.skipped = newest(self.fs, SLOTS, _MAX_BYTES)
        if best is not None:
            self.seq = best["seq"]
            self.boot = best["boot"] + 1
            self.settings = best["settings"]
            self.sessions = best["sessions"]
            self.stim_s = best["stim_s"]
            self.last_fault = best["last_fault"]
            self.log = best["log"]
            self.history = best.get("hist", [])
            if best.get("open") is not None:  # the power went while a session ran
                entry = best["open"]
                entry[-1] = POWER_CUT
                self._append(entry)
                self.dirty = True
            negative_first = best.get("neg_first")
            if _is_int(negative_first) and negative_first in (0, 1):
                self.run_negative_first = negative_first

    # --- changes (cheap: they may come from the control tick) ----------------------------------
    def add_session(self, stim_ms):
        if stim_ms > 0:
            self.sessions += 1
            self.stim_s += (stim_ms + 500) // 1000
            self.dirty = True

    def open_session(self, entry):
        """The session running, as it is now (the App calls this from service): kept as open,
        so a power cut leaves it in the history."""
        self.open = entry
        self.dirty = True

    def close_session(self, entry):
        """A session has ended: into the history, written at once (one write per session)."""
        self.open = None
        self._append(entry)
        self.dirty = self._urgent = True

    def save_now(self):
        """Write at the next service(), not after STORE_WRITE_MIN_MS."""
        self.dirty = self._urgent = True

    def _append(self, entry):
        self.history.append(entry)
        if len(self.history) > HISTORY_ENTRIES:
            self.history.pop(0)

    def note_run_polarity(self, negative_first):
        """A RUN begins; stored when its first half's sign differs from the last one's."""
        if negative_first != self.run_negative_first:
            self.run_negative_first = negative_first
            # at once, as a fault is: a power cut before the write would undo it
            self.dirty = self._urgent = True

    def add_fault(self, code, ms):
        self.log.append([self.boot, ms, code])
        if len(self.log) > FAULT_LOG_ENTRIES:
            self.log.pop(0)
        self.last_fault = code
        self.dirty = self._urgent = True

    # --- writing (service only) -----------------------------------------------------------------
    def service(self, now_ms, settings):
        """Write pending changes when due; `settings` is the live Settings object. Called every
        ms while dirty: a small frame (bytecode frames over 11 slots come from the heap)."""
        if self.dirty and (self._urgent or now_ms - self._last_write_ms >= STORE_WRITE_MIN_MS):
            self._write(now_ms, settings)

    def _write(self, now_ms, settings):
        self._last_write_ms = now_ms
        self._urgent = False
        self.seq += 1
        record = encode(self.snapshot(settings.as_dict()))
        target = 1 - self.slot
        try:
            with self.fs.open(SLOTS[target], "wb") as f:
                f.write(record)
        except OSError:
            return  # flash full or failing: still dirty, retried after the interval
        self.slot = target
        self.dirty = False
        self.writes += 1

    def snapshot(self, settings):
        """The document a write stores now."""
        doc = {
            "seq": self.seq,
            "boot": self.boot,
            "settings": settings,
            "sessions": self.sessions,
            "stim_s": self.stim_s,
            "last_fault": self.last_fault,
            "log": self.log,
        }
        if self.run_negative_first is not None:
            doc["neg_first"] = self.run_negative_first
        if self.history:
            doc["hist"] = self.history
        if self.open is not None:
            doc["open"] = self.open
        return doc
