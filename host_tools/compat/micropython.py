"""CPython stand-in for the `micropython` module, so firmware/roller runs unmodified.

Put this folder on sys.path (host_tools.paths does) only when running on CPython.
"""
import builtins


def const(value):
    return value


def native(func):
    return func


viper = native


def heap_lock():
    return 0


def heap_unlock():
    return 0


def _pointer(buffer):
    """Viper's typed pointers index the buffer's items; on CPython the buffer does that itself."""
    return buffer


# viper code calls these as builtins (they are not importable on MicroPython)
for _name in ("ptr8", "ptr16", "ptr32"):
    setattr(builtins, _name, _pointer)
