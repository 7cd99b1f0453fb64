"""Firmware integrity (R10): the deployed files against a SHA-256 manifest written at deploy.

A frozen image (make uf2) holds all the code, main.py and boot.py included, and carries its
build identity (roller_build): the code is what was built from those sources. On the file
system only what the app trusts is checked: board_config (the unit's calibration), and main.py
or boot.py an older deploy left there. Each one present must be in the manifest with its hash;
a blank unit (none of them, no manifest) runs on the image's nominal board_config. Entries for
roller/ and hal/ (an older .mpy deploy) are not checked: the frozen packages come first on
sys.path, so those files never run. The `.frozen` line records the image a deploy was made on.
"""
import binascii
import hashlib

MANIFEST = "manifest.sha256"
FROZEN = ".frozen"  # the manifest path that stands for the frozen image's sources
# on the file system of a frozen image: what the app trusts (board_config) or a port could run
TRUSTED = ("board_config.mpy", "board_config.py", "main.py", "boot.py")
_FROZEN_TOPS = ("roller/", "hal/")  # frozen packages (boards/<name>/manifest.py)
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
        self._frozen = frozen_sha256() is not None
        self._listed = 0  # bit i: TRUSTED[i] is in the manifest

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
            if not self._frozen or self._unlisted() is not None:
                self.failed = MANIFEST + " missing"
            return False  # a frozen image on a blank unit: nothing on the file system to trust
        if not line:
            if self._frozen and self._unlisted() is not None:
                self.failed = self._unlisted() + " not in " + MANIFEST
            return False
        try:
            entry = line.decode().split()
        except UnicodeError:  # a corrupt manifest is a failed check, not a crash
            entry = ()
        if len(entry) != 2:
            self.failed = MANIFEST + " malformed"
            return False
        path = entry[1]
        if path in TRUSTED:
            self._listed |= 1 << TRUSTED.index(path)
        if path == FROZEN:
            ok = self._frozen  # the deploy's record of its image; without one it vouches for nothing
        elif self._frozen and path[:path.find("/") + 1] in _FROZEN_TOPS:
            ok = True  # a file of an older .mpy deploy, shadowed by the frozen package
        else:
            try:
                ok = file_digest(self.fs, path) == entry[0]
            except OSError:
                ok = False
        if not ok:
            self.failed = path
            return False
        return True

    def _unlisted(self):
        """The first TRUSTED file on the file system that the manifest does not list, or None."""
        for i in range(len(TRUSTED)):
            if not self._listed & (1 << i) and self.fs.exists(TRUSTED[i]):
                return TRUSTED[i]
        return None
