"""Skin-contact detection from the sense readings (R4): impedance with hysteresis.

Per tick: `update_contact`, a viper function over the shared slot array (roller.hot); the
Contact object holds the array for the cold paths.
"""
import micropython
from micropython import const

from roller.limits import (
    CONTACT_CONFIRM_MS,
    CONTACT_CONFIRM_OHM,
    IMPEDANCE_MIN_UA,
    LIFTOFF_OHM,
    POOR_CONTACT_MV,
)
from roller import hot

OPEN_OHM = const(1_000_000_000)  # what an open circuit reads as
# roller.limits' values (tests/test_hot.py checks): viper folds only a module's own constants
_LIFTOFF_READINGS = const(2)
_OPEN_CIRCUIT_UA = const(2)
_SENSE_STEP_UA = const(2)
_VOLTAGE_MOVE_MV = const(40)  # a voltage moved by more than the sense noise (+-16 mV a reading)
# what update_contact() returns, besides 0 (no contact): 1-3 mean confirmed
CONFIRMED = const(1)
LIMITED = const(2)  # confirmed, but the compliance voltage limits the current: a poor contact
KEPT = const(3)  # confirmed before; no verdict this tick (readings in doubt, or a lagging voltage)
LOST = const(4)  # contact was confirmed and is gone, this tick

# the supervisor's slots read here: roller.supervisor's S_READING_OK and S_LAST_MAG (viper
# cannot fold another module's constants; tests/test_hot.py checks they agree)
_SUP_READING_OK = const(14)
_SUP_LAST_MAG = const(9)

# slots 38-51 of roller.hot
REGION = (38, 52)
_S_LAST_MV = const(38)  # 2 x |electrode voltage| of the last reading, + 1 if negative
_S_LAST_COMMANDED_UA = const(39)  # the current the last reading was judged against
_S_CONFIRMED = const(40)
_S_OHM = const(41)
_S_POOR = const(42)  # current-limited by the compliance voltage
_S_GOOD_MS = const(43)
_S_HIGH_READINGS = const(44)
_L_CONFIRM_MS = const(45)
_L_CONFIRM_OHM = const(46)
_L_LIFTOFF_OHM = const(47)
_S_TRUSTED_OHM = const(48)  # the last impedance read while the voltage did not lag
_L_IMPEDANCE_MIN_UA = const(49)
_S_PEAK_MV = const(50)  # peak |electrode voltage| since its sign last changed
_L_POOR_CONTACT_MV = const(51)


class Contact:
    """Confirmed after CONTACT_CONFIRM_MS of readings <= 150 kOhm; lost when open, or two > 250 kOhm."""

    def __init__(self, slots=None):
        slots = slots if slots is not None else hot.new()
        slots[_S_OHM] = OPEN_OHM
        slots[_L_CONFIRM_MS] = CONTACT_CONFIRM_MS
        slots[_L_CONFIRM_OHM] = CONTACT_CONFIRM_OHM
        slots[_L_LIFTOFF_OHM] = LIFTOFF_OHM
        slots[_L_IMPEDANCE_MIN_UA] = IMPEDANCE_MIN_UA
        slots[_L_POOR_CONTACT_MV] = POOR_CONTACT_MV
        self.slots = slots

    @property
    def confirmed(self):
        return bool(self.slots[_S_CONFIRMED])

    @property
    def ohm(self):
        return self.slots[_S_OHM]

    @property
    def poor(self):
        return bool(self.slots[_S_POOR])

    def reset(self):
        slots = self.slots
        slots[_S_CONFIRMED] = slots[_S_GOOD_MS] = slots[_S_HIGH_READINGS] = 0


@micropython.viper
def update_contact(slots, current_ua: int, electrode_mv: int) -> int:
    """One tick: CONFIRMED, LIMITED, KEPT, LOST or 0. Judges the current the supervisor
    commanded last tick against the readings, when the supervisor found them plausible; when
    not, the contact stays as it was (KEPT or 0) and the supervisor's checks go on at the level
    they judged."""
    s = ptr32(slots)
    if not s[_SUP_READING_OK]:
        return KEPT if s[_S_CONFIRMED] else 0
    commanded_ua = int(s[_SUP_LAST_MAG])
    # skin with capacitance: while its voltage lags the current (of the other sign, fallen from
    # its peak, or not clearly rising while the current holds or falls), v/i may overstate the
    # impedance; while the voltage rises with the current it reads R or less, as on a resistive
    # load. Such a reading counts for no more than the last trusted one: a lift-off makes the
    # voltage jump, so it still reads high at once.
    lagging = (electrode_mv < 0 and current_ua > 0) or (electrode_mv > 0 and current_ua < 0)
    if current_ua < 0:
        current_ua = 0 - current_ua
    sign_v = 0
    if electrode_mv < 0:
        electrode_mv = 0 - electrode_mv
        sign_v = 1
    at_compliance = electrode_mv >= int(s[_L_POOR_CONTACT_MV])
    last_mv = int(s[_S_LAST_MV]) >> 1
    if sign_v != int(s[_S_LAST_MV]) & 1 or electrode_mv > int(s[_S_PEAK_MV]):
        s[_S_PEAK_MV] = electrode_mv
    elif electrode_mv + _VOLTAGE_MOVE_MV < int(s[_S_PEAK_MV]):
        lagging = True  # fallen from its peak
    if electrode_mv <= last_mv + _VOLTAGE_MOVE_MV and commanded_ua <= int(s[_S_LAST_COMMANDED_UA]):
        lagging = True  # the current holds or falls, the voltage does not follow it at once
    s[_S_LAST_MV] = (electrode_mv << 1) | sign_v
    s[_S_LAST_COMMANDED_UA] = commanded_ua
    # lifted, whatever the setpoint: a current was commanded and next to none flows at compliance
    # (not at a zero tick: skin capacitance holds its voltage while no current is commanded)
    open_circuit = at_compliance and current_ua < _OPEN_CIRCUIT_UA and current_ua * 2 < commanded_ua
    if not open_circuit and (commanded_ua < int(s[_L_IMPEDANCE_MIN_UA]) or current_ua < _OPEN_CIRCUIT_UA):
        # no reading this tick (zero crossing, burst gap): a good streak keeps counting time
        if s[_S_GOOD_MS]:
            s[_S_GOOD_MS] += 1
            if int(s[_S_GOOD_MS]) >= int(s[_L_CONFIRM_MS]):
                s[_S_CONFIRMED] = 1
        return CONFIRMED if s[_S_CONFIRMED] else 0
    # a current source delivers what it was told unless the compliance voltage limits it: a
    # reading within the sense's step of that is the command (at 10-15 uA one step is 7-10 % of v/i)
    divisor_ua = current_ua
    if commanded_ua <= current_ua + _SENSE_STEP_UA and current_ua <= commanded_ua + _SENSE_STEP_UA:
        divisor_ua = commanded_ua
    ohm = OPEN_OHM if open_circuit else electrode_mv * 1000 // divisor_ua
    if ohm == OPEN_OHM or not lagging:
        s[_S_TRUSTED_OHM] = ohm
    elif ohm > int(s[_S_TRUSTED_OHM]):
        ohm = int(s[_S_TRUSTED_OHM])
    s[_S_OHM] = ohm
    # current-limited: less than commanded at the compliance voltage (the app holds the envelope
    # at what flows); shown as poor while the readings stay at compliance (the LED)
    limited = at_compliance and current_ua * 10 < commanded_ua * 9
    s[_S_POOR] = 1 if limited or (at_compliance and s[_S_POOR]) else 0
    if ohm > int(s[_L_LIFTOFF_OHM]):
        s[_S_GOOD_MS] = 0
        s[_S_HIGH_READINGS] += 1
        # an open circuit is unambiguous; a high reading needs a second to rule out noise
        if s[_S_CONFIRMED] and (
            ohm == OPEN_OHM or int(s[_S_HIGH_READINGS]) >= _LIFTOFF_READINGS
        ):
            s[_S_CONFIRMED] = 0
            return LOST
        return CONFIRMED if s[_S_CONFIRMED] else 0
    s[_S_HIGH_READINGS] = 0
    if ohm <= int(s[_L_CONFIRM_OHM]):
        s[_S_GOOD_MS] += 1
        if int(s[_S_GOOD_MS]) >= int(s[_L_CONFIRM_MS]):
            s[_S_CONFIRMED] = 1
    else:
        s[_S_GOOD_MS] = 0
    if not s[_S_CONFIRMED]:
        return 0
    return LIMITED if limited else CONFIRMED
