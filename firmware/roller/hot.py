"""The control tick's state: one int array shared by the modules of the hot path.

Viper code reads an element through `ptr32` with one machine load, where an attribute costs a
map lookup (docs/performance.md); one array means one reference for the whole tick. Each
module owns a region and names its slots with local constants (viper cannot fold another
module's); tests/test_hot.py checks that the regions do not overlap and that the few indices
read across modules agree. Viper's array loads are unsigned on every port, so no slot holds a
negative value, except the two signed readings at 0 and 1, which are read as Python ints.

    0-4     inputs: board.sample() fills them (docs/board.md)
    5-7     roller.app
    8-37    roller.supervisor
    38-51   roller.contact
    52-55   roller.envelope
    56-67   roller.waveform
    68-72   roller.app: the head, time in RUN
    73-75   roller.supervisor: the head's limit, the session meter

A module with two regions names them REGIONS.
"""
from array import array

from micropython import const

SLOTS = const(76)


def new():
    return array("i", bytes(4 * SLOTS))
