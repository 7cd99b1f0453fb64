"""Firmware integrity (R10): the deployed files against a SHA-256 manifest written at deploy.

A frozen image (make uf2) carries its build identity, the module roller_build; a deploy onto it
writes the `.frozen` line, the identity's source hash, which must match. Without that line a
frozen roller/ (none on the file system) runs unchecked: that fails too.
"""
import binascii
import hashlib

MANIFEST = "manifest.sha256"
FROZEN = ".frozen"  # the manifest path that stands for the frozen image's sources
_CHUNK = 512


def frozen_sha256():
    """The frozen image's source hash (roller_build.SOURCE_SHA256), or None: nothing frozen."""
    try:
        from roller_build import SOURCE_SHA256
    except ImportError:
        return None
    return SOURCE_SHA256


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
        self._frozen_seen = False

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
            if not self._frozen_seen and frozen_sha256() and not self.fs.exists("roller"):
                self.failed = FROZEN + " not in " + MANIFEST  # frozen code no manifest vouches for
            return False
        try:
            entry = line.decode().split()
        except UnicodeError:  # a corrupt manifest is a failed check, not a crash
            entry = ()
        if len(entry) != 2:
            self.failed = MANIFEST + " malformed"
            return False
        if entry[1] == FROZEN:
            self._frozen_seen = True
            ok = frozen_sha256() == entry[0]
        else:
            try:
                ok = file_digest(self.fs, entry[1]) == entry[0]
            except OSError:
                ok = False
        if not ok:
            self.failed = entry[1]
            return False
        return True
