"""Firmware integrity (R10): the deployed files against a SHA-256 manifest written at deploy."""
import binascii
import hashlib

MANIFEST = "manifest.sha256"
_CHUNK = 512


def manifest_line(path, hexdigest):
    return "%s  %s\n" % (hexdigest, path)


def file_digest(fs, path):
    h = hashlib.sha256()
    with fs.open(path, "rb") as f:
        while True:
            chunk = f.read(_CHUNK)
            if not chunk:
                break
            h.update(chunk)
    return binascii.hexlify(h.digest()).decode()


class Checker:
    """Checks one file per step so a long manifest never starves the watchdog."""

    def __init__(self, fs):
        self.fs = fs
        self.entries = None
        self.index = 0
        self.failed = None  # the first file that did not match, or why

    def step(self):
        """Check the next file; returns True while there is more to do."""
        if self.entries is None:
            try:
                with self.fs.open(MANIFEST, "r") as f:
                    self.entries = [line.split() for line in f.read().split("\n") if line]
            except OSError:
                self.failed = MANIFEST + " missing"
                return False
            return True
        if self.index >= len(self.entries):
            return False
        entry = self.entries[self.index]
        self.index += 1
        if len(entry) != 2:
            self.failed = MANIFEST + " malformed"
            return False
        try:
            ok = file_digest(self.fs, entry[1]) == entry[0]
        except OSError:
            ok = False
        if not ok:
            self.failed = entry[1]
            return False
        return True
