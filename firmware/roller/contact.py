"""Skin-contact detection from the sense readings (R4): impedance with hysteresis."""
import micropython

from roller.limits import (
    CONTACT_CONFIRM_MS,
    CONTACT_CONFIRM_OHM,
    IMPEDANCE_MIN_UA,
    LIFTOFF_OHM,
    LIFTOFF_READINGS,
    OPEN_CIRCUIT_UA,
    POOR_CONTACT_MV,
)

OPEN_OHM = 1_000_000_000  # what an open circuit reads as


class Contact:
    """Confirmed after CONTACT_CONFIRM_MS of readings <= 150 kOhm; lost when open, or two > 250 kOhm."""

    def __init__(self):
        self.confirmed = False
        self.ohm = OPEN_OHM
        self.poor = False  # current-limited by the compliance voltage
        self.good_ms = 0
        self.high_readings = 0
        self.lost = False  # set on the tick contact is lost; the caller clears it

    def reset(self):
        self.confirmed = False
        self.good_ms = 0
        self.high_readings = 0

    @micropython.native
    def update(self, commanded_ua, current_ua, electrode_mv):
        """One tick: `commanded_ua` was written last tick, the readings show what it did."""
        if commanded_ua < 0:
            commanded_ua = -commanded_ua
        if current_ua < 0:
            current_ua = -current_ua
        if electrode_mv < 0:
            electrode_mv = -electrode_mv
        at_compliance = electrode_mv >= POOR_CONTACT_MV
        if commanded_ua < IMPEDANCE_MIN_UA or (current_ua < OPEN_CIRCUIT_UA and not at_compliance):
            # no reading this tick (zero crossing, burst gap): a good streak keeps counting time
            if self.good_ms:
                self.good_ms += 1
                if self.good_ms >= CONTACT_CONFIRM_MS:
                    self.confirmed = True
            return
        if current_ua < OPEN_CIRCUIT_UA:
            ohm = OPEN_OHM
        else:
            ohm = electrode_mv * 1000 // current_ua
        self.ohm = ohm
        self.poor = at_compliance and current_ua * 10 < commanded_ua * 9
        if ohm > LIFTOFF_OHM:
            self.good_ms = 0
            self.high_readings += 1
            # an open circuit is unambiguous; a high reading needs a second to rule out noise
            if self.confirmed and (ohm == OPEN_OHM or self.high_readings >= LIFTOFF_READINGS):
                self.confirmed = False
                self.lost = True
            return
        self.high_readings = 0
        if ohm <= CONTACT_CONFIRM_OHM:  # counted in line: a call per tick costs more
            self.good_ms += 1
            if self.good_ms >= CONTACT_CONFIRM_MS:
                self.confirmed = True
        else:
            self.good_ms = 0
