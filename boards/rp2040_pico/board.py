"""Raspberry Pi Pico (RP2040): pin map and calibration. Deployed as board_config.py.

Wiring and the analog front end: docs/hardware.md. The calibration values are the design
nominals; measure each unit on the bench (docs/hardware.md, "Calibration") and replace them.
"""
from micropython import const

NAME = "rp2040_pico"

# --- pins (GPIO numbers); PWM slices are chosen so no two users share a channel -------------
ENABLE_PIN = const(20)  # output-enable switch, 100 k pull-down: off from reset (R9)
LEG_A_PIN = const(18)  # H-bridge forward leg
LEG_B_PIN = const(19)  # H-bridge reverse leg
SETPOINT_PIN = const(16)  # PWM slice 0 A into a two-pole RC filter (fc about 1.6 kHz)
ISENSE_PIN = const(26)  # ADC0
VSENSE_PIN = const(27)  # ADC1
VBAT_PIN = const(28)  # ADC2 via the switch, battery through a 1:2 divider (not VSYS: no diode drop)
USB_PIN = const(24)  # the Pico's own VBUS sense
BUTTON_PIN = const(21)  # to GND, internal pull-up
LED_PINS = (10, 11, 12)  # R, G, B (slices 5A, 5B, 6A) through 330 R, common cathode
CUE_PIN = const(22)  # vibration motor driver (N-MOSFET gate)
# the Pico has three ADC inputs: the head ID shares ADC2 with the battery divider through an
# SPDT analog switch (74LVC1G3157); ADC_MUX_PIN low selects the head (read every tick)
HEAD_PIN = const(28)  # ADC2 (as VBAT_PIN): the head's ID contact, 10 k pull-up, 100 nF to GND
ADC_MUX_PIN = const(14)  # the switch's select: 0 head, 1 battery

# --- setpoint: PWM duty 65535 (3.3 V after the filter) into 3.3 k gives 1000 uA -------------
SETPOINT_PWM_HZ = const(100_000)  # ripple after the filter < 0.1 % of full scale
SETPOINT_MAX_CODE = const(65535)
SETPOINT_FULL_UA = const(1000)

# --- ADC (read_u16, 0..3.3 V) ----------------------------------------------------------------
# Sense signals are offset-binary around their zero code; *_PER_32768 is the value of half the
# ADC span. 1 mV/uA sense amplifier on a 1.65 V reference: +-1650 uA full span.
ISENSE_ZERO_U16 = const(32_768)
ISENSE_UA_PER_32768 = const(1650)
# electrode voltage through 1:10 onto the same 1.65 V reference
VSENSE_ZERO_U16 = const(32_768)
VSENSE_MV_PER_32768 = const(16_500)
# battery: 1:2 divider, 65536 = 6.6 V at the cell
VBAT_MV_PER_65536 = const(6600)

# head ID (docs/hardware.md "Heads"): 65536 = 3.3 V; the ID resistor against the 10 k pull-up
# reads 1650 mV (face, 10 k) or 1055 mV (eye, 4.7 k); bands +-10 %, in roller.heads' order
# (face, eye); an open contact reads the pull-up, 3.3 V
HEAD_MV_PER_65536 = const(3300)
HEAD_BANDS_MV = ((1500, 1800), (950, 1160))
HEAD_OPEN_MV = const(3100)

LED_PWM_HZ = const(1000)
