"""Stimulation programs: shape, frequency, level-5 peak current and the face zones they guide.

PROGRAMS is the one table: a program added there is known to the app, the serial protocol, the
scenario checker and the docs' tests (tests/test_docs.py).
"""
from collections import namedtuple

from micropython import const

SQUARE = const(0)
SINE = const(1)
TRIANGLE = const(2)
BURST = const(3)  # square carrier, gated on/off in whole carrier periods

SHAPE_NAMES = ("square", "sine", "triangle", "burst")

FACE_ZONES = ("forehead", "cheeks", "jawline", "neck")
EYE_ZONES = ("left eye", "right eye", "brow", "temples")

# fields by name, read outside the tick only (a namedtuple costs a tuple's RAM); peak_ua is the
# level-5 peak, roller.limits.level_cap_ua scales it per level
Program = namedtuple("Program", ("name", "shape", "hz", "peak_ua", "zones"))
PROGRAMS = (  # in the order a double click steps
    Program("lift", SQUARE, 10, 400, FACE_ZONES),
    Program("tone", BURST, 50, 400, FACE_ZONES),
    Program("eye", SINE, 30, 200, EYE_ZONES),
    Program("sculpt", TRIANGLE, 5, 400, FACE_ZONES),
)
NAMES = tuple(p.name for p in PROGRAMS)
EYE = const(2)  # the eye program's number: the only one the eye head runs (tests/test_heads.py)

BURST_ON_PERIODS = const(10)  # tone: 200 ms of carrier ...
BURST_OFF_PERIODS = const(10)  # ... then 200 ms at probe level, so contact stays watched

MIN_HZ = 0.5
MAX_HZ = 250
MAX_SMOOTH_HZ = 100  # sine/triangle need >= 10 samples per period at the 1 kHz tick


def index_of(name):
    """Program number for `name`, or -1."""
    for i in range(len(NAMES)):
        if NAMES[i] == name:
            return i
    return -1
