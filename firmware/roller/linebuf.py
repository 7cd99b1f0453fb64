"""Bounded line assembly for the serial console: a fixed buffer, over-long lines dropped whole."""

LONG = object()  # what `line` returns for a line that did not fit


class LineBuffer:
    def __init__(self, size):
        self.buf = bytearray(size)
        self.n = 0
        self.overflow = False  # discarding up to the next newline
        # bytes received but not yet consumed; None when used up: time to feed the next (an
        # attribute, not a method: the idle service tests it every ms)
        self.chunk = None
        self._pos = 0

    def feed(self, chunk):
        self.chunk = chunk
        self._pos = 0

    def line(self):
        """The next complete line (bytes, without the newline), LONG, or None.

        Looks at most at the rest of one chunk, so one call does bounded work.
        """
        chunk = self.chunk
        if chunk is None:
            return None
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
            self.chunk = None
            return None
        self._pos = end + 1
        if self._pos >= len(chunk):
            self.chunk = None
        n = self.n
        self.n = 0
        if self.overflow:
            self.overflow = False
            return LONG
        return bytes(self.buf[:n])
