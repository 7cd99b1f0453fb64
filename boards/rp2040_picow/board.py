"""Raspberry Pi Pico W (RP2040 + CYW43439 radio): pin map and calibration. Deployed as
board_config.py; the HAL is hal.rp2040's, as on the Pico.

The same front end and pins as boards/rp2040_pico (docs/hardware.md), except what the radio
takes: GP23 (WL_ON), GP24 (WL data), GP25 (WL CS) and GP29 (WL clock, shared with ADC3) are
wired to the CYW43439, so VBUS sense is the radio's WL_GPIO2 (read over its SPI link, a few us
slower than a GPIO) and the on-board LED is WL_GPIO0 (unused here). ADC0-2 (GP26-28) are free
as on the Pico. Bluetooth LE (roller.ble_uart) advertises as BLE_NAME.
"""
from micropython import const

NAME = "rp2040_picow"
BLE_NAME = "Roller"  # advertised name (roller.ble_uart); the firmware needs `bluetooth` (RPI_PICO_W)

# --- pins (GPIO numbers); PWM slices are chosen so no two users share a channel -------------
ENABLE_PIN = const(20)  # output-enable switch, 100 k pull-down: off from reset (R9)
LEG_A_PIN = const(18)  # H-bridge forward leg
LEG_B_PIN = const(19)  # H-bridge reverse leg
SETPOINT_PIN = const(16)  # PWM slice 0 A into a two-pole RC filter (fc about 1.6 kHz)
ISENSE_PIN = const(26)  # ADC0
VSENSE_PIN = const(27)  # ADC1
VBAT_PIN = const(28)  # ADC2 via the switch, battery through a 1:2 divider (not VSYS: no diode drop)
USB_PIN = "WL_GPIO2"  # VBUS sense: on the Pico W a pin of the radio, not GP24
BUTTON_PIN = const(21)  # to GND, internal pull-up
LED_PINS = (10, 11, 12)  # R, G, B (slices 5A, 5B, 6A) through 330 R, common cathode
CUE_PIN = const(22)  # vibration motor driver (N-MOSFET gate)
# the head ID shares ADC2 with the battery divider through an SPDT analog switch (74LVC1G3157),
# as on the Pico; ADC_MUX_PIN low selects the head (read every tick)
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

# head ID (docs/hardware.md "Heads"): as on the Pico
HEAD_MV_PER_65536 = const(3300)
HEAD_BANDS_MV = ((1500, 1800), (950, 1160))
HEAD_OPEN_MV = const(3100)

LED_PWM_HZ = const(1000)
