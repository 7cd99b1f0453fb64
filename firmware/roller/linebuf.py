"""Bounded line assembly for the serial console: a fixed buffer, over-long lines dropped whole."""

LONG = object()  # what `poll` returns for a line that did not fit


class LineBuffer:
    def __init__(self, size):
        self.buf = bytearray(size)
        self.n = 0
        self.overflow = False  # discarding up to the next newline
        self._chunk = None  # bytes read but not yet consumed
        self._pos = 0

    def poll(self, read):
        """The next complete line (bytes, without the newline), LONG, or None.

        Calls `read()` at most once, so one call does bounded work whatever arrives.
        """
        chunk = self._chunk
        if chunk is None:
            chunk = read()
            if not chunk:
                return None
            self._chunk = chunk
            self._pos = 0
        pos = self._pos
        end = chunk.find(b"\n", pos)
        stop = len(chunk) if end < 0 else end
        if not self.overflow:
            take = stop - pos
            if self.n + take > len(self.buf):
                self.overflow = True
            else:
                self.buf[self.n : self.n + take] = chunk[pos:stop]
                self.n += take
        if end < 0:
            self._chunk = None
            return None
        self._pos = end + 1
        if self._pos >= len(chunk):
            self._chunk = None
        n = self.n
        self.n = 0
        if self.overflow:
            self.overflow = False
            return LONG
        return bytes(self.buf[:n])
