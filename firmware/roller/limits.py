"""Every safety limit and timing constant, in one place (SPEC R1-R12).

Units live in the names. The control tick is 1 ms, so *_MS values are also tick counts.
"""
from micropython import const

# R1: current caps
HARD_MAX_UA = const(500)  # nothing above this ever reaches the DAC
CAP_MARGIN_PERCENT = const(10)  # delivered may exceed the level cap by 10 % ...
CAP_MARGIN_UA = const(10)  # ... plus 10 uA (sense noise, DAC rounding)

# R2: over-current trip on |I| > cap, or |I| > setpoint * 1.25 + 20 uA
OVERCURRENT_SETPOINT_PERCENT = const(125)
OVERCURRENT_SETPOINT_UA = const(20)

# R3: charge balance
IMBALANCE_MAX_PERMILLE = const(50)
WRONG_POLARITY_TICKS = const(3)  # consecutive ticks of reversed current before DC_IMBALANCE
POLARITY_CHECK_MIN_UA = const(10)  # below this the sign of the sense reading is noise (+-2 uA)

# R4: contact
PROBE_UA = const(15)  # probe level while contact is not confirmed (<= 20 uA)
CONTACT_CONFIRM_OHM = const(150_000)
CONTACT_CONFIRM_MS = const(150)
LIFTOFF_OHM = const(250_000)
LIFTOFF_READINGS = const(2)  # consecutive readings above LIFTOFF_OHM: lift-off within 2 ms
IMPEDANCE_MIN_UA = const(10)  # smaller commanded currents give too coarse an impedance
OPEN_CIRCUIT_UA = const(2)  # sense below this while driving = open circuit
SENSE_STEP_UA = const(2)  # current-sense noise and step: a reading this close to the command is it
COMPLIANCE_MV = const(15_000)
POOR_CONTACT_MV = const(13_500)  # electrode voltage near compliance = current-limited

# R5: ramps
RAMP_UP_MS = const(1200)  # zero to target (>= 1000 ms, no rise over 10 % per 100 ms)
RAMP_DOWN_MS = const(500)

# R6 / R7: power
BATTERY_START_MIN_MV = const(3450)
BATTERY_RUN_MIN_MV = const(3300)
BATTERY_FILTER_MS = const(1000)

# R8: sense plausibility
SENSE_CHECK_MIN_UA = const(10)  # probe level is judged too
IMPLAUSIBLE_MS = const(10)
MIN_LOAD_OHM = const(500)  # below the 1 kOhm dummy load: a short or a stuck voltage sense

# R9 / R10
WATCHDOG_TIMEOUT_MS = const(250)
SELFTEST_ZERO_UA = const(5)
SELFTEST_ZERO_MV = const(300)
ENABLE_CHECK_PERIOD_MS = const(50)  # a running waveform has a zero tick (an enable test) this often
# OFF and DONE test the enable switch this often: the test current flows only if skin is there,
# so a longer period can fall, test after test, in the gaps of skin touched on and off
ENABLE_IDLE_CHECK_MS = const(10)

# R11 / R12: sessions and idle
SESSION_DEFAULT_S = const(600)
SESSION_MIN_S = const(60)
SESSION_MAX_S = const(900)
CUE_DEFAULT_S = const(15)
CUE_MIN_S = const(10)
CUE_MAX_S = const(15)
IDLE_OFF_MS = const(120_000)
DONE_TO_OFF_MS = const(5000)

# R13: serial protocol
LINE_MAX_BYTES = const(256)  # longer request lines are discarded and answered with one error
STREAM_PERIOD_MS = const(100)  # telemetry at 10 Hz

# Bluetooth LE (roller.ble_uart, docs/security.md)
PAIRING_WINDOW_MS = const(60_000)  # a double click in OFF opens it: new bonds only meanwhile
BONDS_MAX = const(4)  # bonded centrals kept (roller.ble_bonds): one more drops the oldest

# R14: persistence
STORE_WRITE_MIN_MS = const(1000)  # flash wear: at most one write per second, faults excepted
FAULT_LOG_ENTRIES = const(32)

# Intensity levels
LEVEL_MIN = const(1)
LEVEL_MAX = const(5)


def level_cap_ua(level, program_cap_ua):
    """Peak current of `level` (1-5) for a program whose level 5 is `program_cap_ua`."""
    if level < LEVEL_MIN:
        level = LEVEL_MIN
    elif level > LEVEL_MAX:
        level = LEVEL_MAX
    cap = program_cap_ua * level // LEVEL_MAX
    return cap if cap < HARD_MAX_UA else HARD_MAX_UA


def allowed_peak_ua(cap_ua):
    """R1: what the sense may show for a cap before it counts as too much. The setpoint is
    clamped to HARD_MAX_UA; the sense may read CAP_MARGIN_UA above it (noise, rounding)."""
    allowed = cap_ua + cap_ua * CAP_MARGIN_PERCENT // 100 + CAP_MARGIN_UA
    return allowed if allowed < HARD_MAX_UA + CAP_MARGIN_UA else HARD_MAX_UA + CAP_MARGIN_UA


# Heads (docs/hardware.md "Heads"): each head's limit is its electrode contact area times the
# current density allowed. IEC 60601-2-10 asks for a warning above 2 mA r.m.s./cm2; we allow a
# quarter of that as a peak (r.m.s. <= peak for every shape), 0.5 mA/cm2.
HEAD_UA_PER_CM2 = const(500)
FACE_HEAD_AREA_MM2 = const(100)  # two 8 mm rollers, about 6 mm of skin in contact over 8 mm each
EYE_HEAD_AREA_MM2 = const(40)  # two 5 mm rollers, 4 mm x 5 mm each
HEAD_SETTLE_MS = const(200)  # a new head reading must hold this long before it counts
# (a reading leaving the attached head's band stops the output in the same tick)


def head_limit_ua(area_mm2):
    """Peak current allowed through electrodes of `area_mm2` (HEAD_UA_PER_CM2, hard cap)."""
    ua = area_mm2 * HEAD_UA_PER_CM2 // 100
    return ua if ua < HARD_MAX_UA else HARD_MAX_UA


# Session history and routine
HISTORY_ENTRIES = const(16)  # ring of the last sessions in the store
HISTORY_CHECKPOINT_MS = const(60_000)  # an open session is saved this often (power-cut recovery)
WEEK_TARGET_DEFAULT = const(2)  # the routine: 2-3 sessions a week
WEEK_TARGET_MIN = const(1)
WEEK_TARGET_MAX = const(7)
