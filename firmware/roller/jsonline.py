"""Strict JSON for request lines, and response text that is the same on every runtime.

A request is one flat object: string keys, scalar values. Nested values are refused before
they are read, so there is no recursion and deep nesting costs nothing. MicroPython's
json.loads is lenient (it takes `{"a" 1}`, trailing commas, `01`) and CPython's takes NaN:
this parser gives the same answer on both. Integers have at most 10 digits: a unix time (`clock`)
needs them; every other field is range-checked far below.
"""
import json

from micropython import const

_MAX_INT_DIGITS = const(10)
_MAX_NUMBER = 1e9
_BAD = "bad JSON"
_ESCAPES = {
    0x22: '"', 0x5C: "\\", 0x2F: "/", 0x62: "\b", 0x66: "\f", 0x6E: "\n", 0x72: "\r", 0x74: "\t"
}
_WORDS = ((b"true", True), (b"false", False), (b"null", None))
_HEX = b"0123456789abcdefABCDEF"


def parse(line, pace=None):
    """(object, None) for a request line (bytes), or (None, error text). `pace` as for dumps."""
    if line and max(line) >= 0x80:  # one pass in C: a loop here costs ms on a board
        return None, "not ASCII"
    if pace is not None:
        pace()
    try:
        return _object(line, pace), None
    except ValueError as exc:
        return None, exc.args[0]


def _skip(s, i):
    n = len(s)
    while i < n and s[i] in b" \t\r":
        i += 1
    return i


def _object(s, pace):
    n = len(s)
    i = _skip(s, 0)
    if i >= n or s[i] != 0x7B:
        raise ValueError("not a JSON object")
    obj = {}
    i = _skip(s, i + 1)
    if i < n and s[i] == 0x7D:
        i += 1
    else:
        while True:
            if pace is not None:
                pace()
            key, i = _string(s, i)
            if key in obj:
                raise ValueError("duplicate key")
            i = _skip(s, i)
            if i >= n or s[i] != 0x3A:
                raise ValueError(_BAD)
            obj[key], i = _value(s, _skip(s, i + 1))
            i = _skip(s, i)
            if i < n and s[i] == 0x2C:
                i = _skip(s, i + 1)
            elif i < n and s[i] == 0x7D:
                i += 1
                break
            else:
                raise ValueError(_BAD)
    if _skip(s, i) != n:
        raise ValueError(_BAD)
    return obj


def _value(s, i):
    if i >= len(s):
        raise ValueError(_BAD)
    c = s[i]
    if c == 0x22:
        return _string(s, i)
    if c == 0x7B or c == 0x5B:
        raise ValueError("nested values not allowed")
    for word, value in _WORDS:
        if s[i : i + len(word)] == word:
            return value, i + len(word)
    return _number(s, i)


def _digits(s, i):
    n = len(s)
    while i < n and 0x30 <= s[i] <= 0x39:
        i += 1
    return i


def _number(s, i):
    start = i
    n = len(s)
    if i < n and s[i] == 0x2D:
        i += 1
    end = _digits(s, i)
    if end == i or (end - i > 1 and s[i] == 0x30):
        raise ValueError(_BAD)
    whole = end - i
    i = end
    is_float = False
    if i < n and s[i] == 0x2E:
        end = _digits(s, i + 1)
        if end == i + 1:
            raise ValueError(_BAD)
        i = end
        is_float = True
    if i < n and (s[i] == 0x65 or s[i] == 0x45):
        i += 1
        if i < n and (s[i] == 0x2B or s[i] == 0x2D):
            i += 1
        end = _digits(s, i)
        if end == i:
            raise ValueError(_BAD)
        i = end
        is_float = True
    if whole > _MAX_INT_DIGITS:
        raise ValueError("number too large")
    text = s[start:i].decode()
    if not is_float:
        return int(text), i
    x = float(text)
    if not -_MAX_NUMBER <= x <= _MAX_NUMBER:  # also catches an exponent overflowing to inf
        raise ValueError("number too large")
    return x, i


def _string(s, i):
    n = len(s)
    if i >= n or s[i] != 0x22:
        raise ValueError(_BAD)
    i += 1
    end = s.find(b'"', i)
    if end < 0:
        raise ValueError(_BAD)
    if s.find(b"\\", i, end) < 0:  # no escape (nearly every string): found in C
        text = s[i:end]
        if text and min(text) < 0x20:
            raise ValueError(_BAD)  # control characters must be escaped
        return text.decode(), end + 1
    start = i
    parts = []
    while True:
        if i >= n:
            raise ValueError(_BAD)
        c = s[i]
        if c == 0x22:
            break
        if c < 0x20:
            raise ValueError(_BAD)  # control characters must be escaped
        if c != 0x5C:
            i += 1
            continue
        parts.append(s[start:i].decode())
        e = s[i + 1] if i + 1 < n else 0
        if e == 0x75:
            digits = s[i + 2 : i + 6]
            if len(digits) != 4 or any(d not in _HEX for d in digits):
                raise ValueError(_BAD)
            parts.append(chr(int(digits.decode(), 16)))
            i += 6
        elif e in _ESCAPES:
            parts.append(_ESCAPES[e])
            i += 2
        else:
            raise ValueError(_BAD)
        start = i
    parts.append(s[start:i].decode())
    return "".join(parts), i + 1


class Milli:
    """An integer in thousandths, written as a number with at most three decimals: exact on
    every port (the boards' 32-bit floats cannot hold the uptime's thousandths for long)."""

    def __init__(self, thousandths):
        self.thousandths = thousandths


def dumps(value, pace=None):
    """JSON text: "ok" first, then keys sorted, so both runtimes write the same bytes.

    Only ASCII strings are ever written; the firmware's own decimals come as Milli, a request's
    floats with three decimals at most. `pace`, if any, is
    called before each key and item: the board's control tick runs there when due
    (hal.common.Pacer).
    """
    parts = []
    _write(parts, value, pace)
    return "".join(parts)


def _write(parts, value, pace):
    kind = type(value)
    if kind is str:
        parts.append(json.dumps(value))
    elif value is True:
        parts.append("true")
    elif value is False:
        parts.append("false")
    elif value is None:
        parts.append("null")
    elif kind is int:
        parts.append(str(value))
    elif kind is dict:
        keys = sorted(value)
        if "ok" in value:
            keys.remove("ok")
            keys.insert(0, "ok")
        opening = "{"
        for key in keys:
            if pace is not None:
                pace()
            parts.append('%s"%s": ' % (opening, key))  # keys are ASCII names: nothing to escape
            opening = ", "
            _write(parts, value[key], pace)
        parts.append("}" if keys else "{}")
    elif kind is list or kind is tuple:
        opening = "["
        for item in value:
            if pace is not None:
                pace()
            parts.append(opening)
            opening = ", "
            _write(parts, item, pace)
        parts.append("]" if value else "[]")
    elif kind is Milli:
        n = value.thousandths
        sign = ""
        if n < 0:
            sign = "-"
            n = -n
        text = ("%s%d.%03d" % (sign, n // 1000, n % 1000)).rstrip("0")
        parts.append(text + "0" if text[-1] == "." else text)
    elif kind is float:  # a request's own number, echoed: three decimals at most
        # MicroPython's repr may give 17 digits (0.9340000000000001) where CPython gives 0.934
        text = ("%.3f" % value).rstrip("0")
        parts.append(text + "0" if text[-1] == "." else text)
    else:
        parts.append(json.dumps(value))
