"""Electrical model of the reference design (SPEC section 3), stepped once per simulated ms.

Integer units: uA, mV, ohm, nF. The model is what the pins and the load make of each other;
it knows nothing of the firmware.
"""
from array import array

import micropython
from micropython import const

DAC_MAX_CODE = const(4095)
DAC_FULL_UA = const(1000)  # current-source range 0..1000 uA
COMPLIANCE_MV = const(15_000)
COMPLIANCE_UV = const(COMPLIANCE_MV * 1000)
ADC_MAX_CODE = const(4095)
ADC_MID_CODE = const(2048)
ISENSE_FULL_UA = const(1250)  # signed current sense: +-1250 uA over the ADC span
VSENSE_FULL_MV = const(16_500)  # signed electrode-voltage sense
VBAT_REF_MV = const(3300)  # battery ADC: 1/2 divider into a 3.3 V reference
NOISE_LSB = const(2)
# Model.pins, as the board last wrote them: enable, forward leg, reverse leg (1 = on), DAC code
PIN_ENABLE = const(0)
PIN_LEG_A = const(1)
PIN_LEG_B = const(2)
PIN_DAC_CODE = const(3)

# the faults a scenario injects (C1), each with the firmware fault it must latch (roller.faults;
# README, tests/test_safety.py). The last two act outside the model: the runner stops the loop,
# the flash flips a byte of a deployed file.
INJECTED = (
    ("dac_stuck_high", "OVER_CURRENT"),
    ("polarity_stuck", "DC_IMBALANCE"),
    ("sense_stuck_low", "SENSE_FAULT"),
    ("sense_stuck_high", "SENSE_FAULT"),
    ("vsense_stuck", "SENSE_FAULT"),
    ("enable_stuck_on", "OUTPUT_STUCK"),
    ("loop_hang", "WATCHDOG"),
    ("flash_corrupt", "SELFTEST"),
)
FAULT_NAMES = tuple(row[0] for row in INJECTED)

# the head's ID circuit (docs/hardware.md "Heads"): the head's ID resistor to ground, pulled up
# to the ADC reference on the board. A scenario's `head` (C1): a head by name, "short" (the ID
# contact shorted to ground), "open" (a head whose ID contact does not touch: as no head) or
# None (no head)
HEAD_REF_MV = const(3300)
HEAD_PULLUP_OHM = const(10_000)
HEAD_ID_OHM = {"face": 10_000, "eye": 4_700, "unknown": 33_000, "short": 0}
HEAD_VALUES = ("face", "eye", "unknown", "short", "open", None)
# the sim board's config: the known heads' bands (roller.heads.HEADS order: face, eye), +-10 %
# of the nominal voltage; at or above HEAD_OPEN_MV the contact is open
HEAD_BANDS_MV = ((1500, 1800), (950, 1160))
HEAD_OPEN_MV = const(3100)


def head_mv(value):
    """What the ID contact reads for a scenario's `head` value."""
    ohm = HEAD_ID_OHM.get(value) if value is not None else None
    if ohm is None:
        return HEAD_REF_MV  # open: the pull-up alone
    return HEAD_REF_MV * ohm // (ohm + HEAD_PULLUP_OHM)


class Model:
    """Current source + H-bridge + enable switch into a skin R||C load, and the sense ADCs."""

    def __init__(self, seed=1, vbus_interlock=True):
        rng = (seed * 2654435761 + 12345) & 0xFFFFFFFF or 1
        # the xorshift32 state in 16-bit halves: whole, it passes 2^30, a big int (an allocation)
        # on a 31-bit port such as the RP2040's (the virtual board inside the emulated Pico)
        self._rng_hi = rng >> 16
        self._rng_lo = rng & 0xFFFF
        # pins, as the board last wrote them (an int array: the board writes them every ms)
        self.pins = array("i", bytes(4 * 4))
        # load and supply
        self.skin_ohm = 0  # 0 = no contact
        self.skin_nf = 0
        self._decay_q16 = 0  # exp(-1 ms / RC) in 1/65536
        self._rc_uv = 0  # the R||C load's voltage in uV: in mV a slow decay would stall short
        self.battery_mv = 3900
        self.usb = False
        # the reference design's VBUS load switch (docs/hardware.md); tests of the firmware's own
        # R6 reaction turn it off
        self.vbus_interlock = vbus_interlock
        self.faults = set()
        self._vsense_frozen = ADC_MID_CODE
        # results of the last step
        self.delivered_ua = 0
        self.electrode_mv = 0
        self.hw_violation = None  # name of a hardware-rule violation seen in the last step
        # the sense ADCs' conversions at the end of the last step, calibrated as a board reads
        # them: current (uA), electrode voltage (mV), USB present; and the button pin, pressed
        # = 1, which the board sets (docs/board.md, sample()); the head's ID voltage (mV), which
        # changes only with a `head` event: the face head is on from the start
        self.sensed = array("i", bytes(4 * 5))
        self.head = "face"
        self.sensed[4] = head_mv(self.head)

    # --- load and faults -------------------------------------------------------------
    def set_skin(self, ohm, nf=0):
        self.skin_ohm = int(ohm) if ohm else 0
        self.skin_nf = int(nf) if nf else 0
        if self.skin_ohm and self.skin_nf:
            import math

            tau_us = self.skin_ohm * self.skin_nf / 1000
            self._decay_q16 = int(math.exp(-1000 / tau_us) * 65536)
        if not self.skin_ohm:
            self.electrode_mv = 0
        self._rc_uv = self.electrode_mv * 1000

    def set_head(self, value):
        self.head = value
        self.sensed[4] = head_mv(value)

    def set_fault(self, name):
        if name == "vsense_stuck":  # frozen at what it reads now
            mv = self.electrode_mv
            self._vsense_frozen = self._adc(
                ADC_MID_CODE + (mv * ADC_MID_CODE + VSENSE_FULL_MV // 2) // VSENSE_FULL_MV)
        self.faults.add(name)

    def clear_faults(self):
        self.faults = set()

    def power_off(self):
        """All pins fall to their reset level (enable is pulled low)."""
        pins = self.pins
        pins[PIN_ENABLE] = pins[PIN_LEG_A] = pins[PIN_LEG_B] = pins[PIN_DAC_CODE] = 0
        self.settle()

    # --- the pins (no properties: a class with one makes every attribute read slower) -------
    def pin_writer(self):
        """The board's write_output (docs/board.md): enable switch, H-bridge legs, DAC."""
        return _pin_writer(self.pins)

    def settle(self):
        """Convert the sense ADCs for a load or fault that changed just now: a step in which no
        time passes (an R||C voltage holds)."""
        decay_q16 = self._decay_q16
        self._decay_q16 = 65536
        self.step()
        self._decay_q16 = decay_q16

    # --- one ms ----------------------------------------------------------------------
    @micropython.native
    def step(self):
        """Settle delivered current and electrode voltage for the pins of this ms, then sample
        the sense ADCs (what the firmware reads next tick, as from a sample-and-hold); returns
        the delivered current (the runner's per-ms question: one attribute read less)."""
        pins = self.pins
        leg_a = pins[PIN_LEG_A]
        leg_b = pins[PIN_LEG_B]
        self.hw_violation = "shoot_through" if (leg_a and leg_b) else None
        # the source current, from the pins and injected faults ("faults and": most ms have none)
        faults = self.faults
        drive_ua = 0
        # VBUS switches the current source's supply off (docs/hardware.md): R6 holds in
        # hardware even while the firmware is hung or the enable switch is stuck
        supply_cut = self.usb and self.vbus_interlock
        if not supply_cut and (pins[PIN_ENABLE] or (faults and "enable_stuck_on" in faults)):
            code = DAC_MAX_CODE if faults and "dac_stuck_high" in faults else pins[PIN_DAC_CODE]
            magnitude = (code * DAC_FULL_UA + DAC_MAX_CODE // 2) // DAC_MAX_CODE
            if leg_a:
                drive_ua = 0 if leg_b else magnitude  # shoot-through: nothing reaches the skin
            elif leg_b:
                drive_ua = magnitude if faults and "polarity_stuck" in faults else -magnitude
        ohm = self.skin_ohm
        if not ohm:
            # open circuit: a driven source runs up to its compliance voltage
            drive_ua, mv = 0, (COMPLIANCE_MV if drive_ua > 0 else (-COMPLIANCE_MV if drive_ua < 0 else 0))
        elif not self.skin_nf:
            limit_ua = COMPLIANCE_MV * 1000 // ohm
            if drive_ua > limit_ua:
                drive_ua = limit_ua
            elif drive_ua < -limit_ua:
                drive_ua = -limit_ua
            mv = drive_ua * ohm // 1000
        else:
            # R||C: the voltage moves exponentially towards I*R; the source holds I until
            # compliance. Truncated towards the target from either side, so a decay arrives
            # (a floor would hold a negative voltage short of it for ever)
            target_uv = drive_ua * ohm
            left_uv = self._rc_uv - target_uv
            if left_uv >= 0:
                uv = target_uv + left_uv * self._decay_q16 // 65536
            else:
                uv = target_uv - (0 - left_uv) * self._decay_q16 // 65536
            if drive_ua and (uv > COMPLIANCE_UV or uv < -COMPLIANCE_UV):
                uv = COMPLIANCE_UV if uv > 0 else -COMPLIANCE_UV
                drive_ua = uv // ohm
            self._rc_uv = uv
            mv = (uv + 500) // 1000 if uv >= 0 else 0 - (500 - uv) // 1000
        self.delivered_ua = drive_ua
        self.electrode_mv = mv
        # the sense ADCs; round to nearest, here and in the calibration: a floor would bias
        # every reading negative (a fake DC component)
        sensed = self.sensed
        if faults and "sense_stuck_high" in faults:
            code = ADC_MAX_CODE
        elif faults and "sense_stuck_low" in faults:
            code = ADC_MID_CODE  # reads zero current whatever flows
        else:
            code = self._adc(ADC_MID_CODE + (drive_ua * ADC_MID_CODE + ISENSE_FULL_UA // 2) // ISENSE_FULL_UA)
        sensed[0] = ((code - ADC_MID_CODE) * ISENSE_FULL_UA + ADC_MID_CODE // 2) // ADC_MID_CODE
        if faults and "vsense_stuck" in faults:
            code = self._vsense_frozen
        else:
            code = self._adc(ADC_MID_CODE + (mv * ADC_MID_CODE + VSENSE_FULL_MV // 2) // VSENSE_FULL_MV)
        sensed[1] = ((code - ADC_MID_CODE) * VSENSE_FULL_MV + ADC_MID_CODE // 2) // ADC_MID_CODE
        sensed[2] = 1 if self.usb else 0
        return drive_ua

    # --- what the ADCs read ------------------------------------------------------------
    @micropython.native
    def _adc(self, code):
        """An ADC reading of `code`: noise added (xorshift32, in 16-bit halves), clamped to the
        12-bit range."""
        hi = self._rng_hi
        lo = self._rng_lo
        hi ^= ((hi << 13) | (lo >> 3)) & 0xFFFF  # x ^= x << 13
        lo ^= (lo << 13) & 0xFFFF
        lo ^= hi >> 1  # x ^= x >> 17: hi >> 1 lands in lo; nothing in hi
        hi ^= ((hi << 5) | (lo >> 11)) & 0xFFFF  # x ^= x << 5
        lo ^= (lo << 5) & 0xFFFF
        self._rng_hi = hi
        self._rng_lo = lo
        span = 2 * NOISE_LSB + 1
        code += ((hi % span) * (65536 % span) + lo) % span - NOISE_LSB  # x % span
        return 0 if code < 0 else (ADC_MAX_CODE if code > ADC_MAX_CODE else code)

    def _noise(self):
        return self._adc(ADC_MID_CODE) - ADC_MID_CODE

    @micropython.native
    def vbat_code(self):
        return self._adc(self.battery_mv * ADC_MAX_CODE // (2 * VBAT_REF_MV))


def _pin_writer(pins):
    """A closure (one cell: a call allocates nothing) that sets the pins as write_output would."""

    @micropython.viper
    def write_output(enable, polarity: int, magnitude_ua: int):
        p = ptr32(pins)
        # break before make: the leg being released goes first
        p[PIN_LEG_A] = 1 if polarity > 0 else 0
        p[PIN_LEG_B] = 1 if polarity < 0 else 0
        code = (magnitude_ua * DAC_MAX_CODE + DAC_FULL_UA // 2) // DAC_FULL_UA
        p[PIN_DAC_CODE] = 0 if code < 0 else (DAC_MAX_CODE if code > DAC_MAX_CODE else code)
        p[PIN_ENABLE] = 1 if enable else 0

    return write_output

