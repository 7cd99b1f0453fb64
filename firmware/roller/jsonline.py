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


def parse(line):
    """(object, None) for a request line (bytes), or (None, error text)."""
    for c in line:
        if c >= 0x80:
            return None, "not ASCII"
    try:
        return _object(line), None
    except ValueError as exc:
        return None, exc.args[0]


def _skip(s, i):
    n = len(s)
    while i < n and s[i] in b" \t\r":
        i += 1
    return i


def _object(s):
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


def dumps(value):
    """JSON text: "ok" first, then keys sorted, so both runtimes write the same bytes.

    Only ASCII strings and floats with at most three decimals are ever written.
    """
    if isinstance(value, dict):
        keys = sorted(value)
        if "ok" in value:
            keys.remove("ok")
            keys.insert(0, "ok")
        return "{" + ", ".join(json.dumps(k) + ": " + dumps(value[k]) for k in keys) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(dumps(v) for v in value) + "]"
    if isinstance(value, float):
        # MicroPython's repr may give 17 digits (0.9340000000000001) where CPython gives 0.934
        text = ("%.3f" % value).rstrip("0")
        return text + "0" if text[-1] == "." else text
    return json.dumps(value)
