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
    """Checks one file per step so a long manifest never starves the watchdog.

    The manifest is read one line per step (from a remembered offset), never held whole: its
    64-character digests would otherwise stay in RAM for as long as the result is kept.
    """

    def __init__(self, fs):
        self.fs = fs
        self._offset = -1  # where the next line starts; -1 before the manifest was opened
        self.failed = None  # the first file that did not match, or why

    def step(self):
        """Check the next file; returns True while there is more to do."""
        try:
            with self.fs.open(MANIFEST, "rb") as f:
                if self._offset < 0:  # the first step only finds the manifest
                    self._offset = 0
                    return True
                f.seek(self._offset)
                line = b"\n"
                while line == b"\n":  # blank lines are no entries
                    line = f.readline()
                self._offset = f.tell()
        except OSError:
            self.failed = MANIFEST + " missing"
            return False
        if not line:
            return False
        try:
            entry = line.decode().split()
        except UnicodeError:  # a corrupt manifest is a failed check, not a crash
            entry = ()
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
