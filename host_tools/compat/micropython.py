"""CPython stand-in for the `micropython` module, so firmware/roller runs unmodified.

Put this folder on sys.path (host_tools.paths does) only when running on CPython.
"""


def const(value):
    return value


def native(func):
    return func


viper = native


def heap_lock():
    return 0


def heap_unlock():
    return 0
