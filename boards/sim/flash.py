"""The sim board's flash: a host directory, with torn writes for `power: cut_during_write`."""
import os


class PowerLost(Exception):
    """Raised inside a firmware write when the simulated supply is cut mid-write."""


class _TornFile:
    """A file that keeps only the first half of what is written, then loses power."""

    def __init__(self, f, on_cut):
        self._f = f
        self._on_cut = on_cut

    def write(self, data):
        self._f.write(data[: len(data) // 2])
        self._f.close()
        self._on_cut()
        raise PowerLost()

    def __getattr__(self, name):
        return getattr(self._f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._f.close()


class Flash:
    """Flat file store rooted at `root`; names are plain file names."""

    def __init__(self, root):
        self.root = root
        self.tear_next_write = False
        self.on_cut = None  # set by the board: what a torn write does to the power
        self.writes = 0
        try:
            os.mkdir(root)
        except OSError:
            pass

    def path(self, name):
        return self.root + "/" + name

    def open(self, name, mode="r"):
        f = open(self.path(name), mode)
        if "w" in mode or "a" in mode:
            self.writes += 1
            if self.tear_next_write:
                self.tear_next_write = False
                return _TornFile(f, self.on_cut)
        return f

    def rename(self, old, new):
        os.rename(self.path(old), self.path(new))

    def remove(self, name):
        try:
            os.remove(self.path(name))
        except OSError:
            pass

    def listdir(self):
        return sorted(os.listdir(self.root))

    def exists(self, name):
        try:
            os.stat(self.path(name))
            return True
        except OSError:
            return False
