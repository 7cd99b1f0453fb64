"""Interchangeable roller heads: identity from the ID-resistor voltage, and each head's limit.

A head carries an ID resistor from its ID contact to ground; the board pulls that contact up and
reads it on an ADC (docs/hardware.md "Heads"). The board's config gives each known head's band
in mV (`head_bands_mv`, in the order of HEADS) and the level at or above which the contact is
open (`head_open_mv`): no head. Anything else, a short included, is an unknown head, which
never stimulates. The tick checks the reading against the attached head's band every ms
(roller.app); the change to a new head is debounced over HEAD_SETTLE_MS in the slow tick.
"""
from micropython import const

from roller.limits import EYE_HEAD_AREA_MM2, FACE_HEAD_AREA_MM2, head_limit_ua

NONE = const(0)  # nothing on the ID contact (open)
FACE = const(1)
EYE = const(2)
UNKNOWN = const(3)  # a reading in no band: a foreign or dirty head, or a short
NAMES = (None, "face", "eye", "unknown")
# the known heads, in the order of the boards' head_bands_mv: (head, electrode area mm2)
HEADS = ((FACE, FACE_HEAD_AREA_MM2), (EYE, EYE_HEAD_AREA_MM2))
LIMITS_UA = (0, head_limit_ua(FACE_HEAD_AREA_MM2), head_limit_ua(EYE_HEAD_AREA_MM2), 0)


def classify(mv, bands_mv, open_mv):
    """The head a reading of `mv` says is attached."""
    if mv >= open_mv:
        return NONE
    for i in range(len(bands_mv)):
        if bands_mv[i][0] <= mv <= bands_mv[i][1]:
            return HEADS[i][0]
    return UNKNOWN


def known(head):
    return head in (FACE, EYE)


class Heads:
    """The head on (as accepted), and the reading waiting to settle into another."""

    def __init__(self, board):
        self.on = NONE
        self.seen = -1
        self.seen_ms = 0
        self.face_program = None  # the program the eye head replaced, back with the face head
        self.bands_mv = board.head_bands_mv
        self.open_mv = board.head_open_mv
