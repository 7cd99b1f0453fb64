"""ESP32 DevKitC (ESP32-WROOM-32): pin map and calibration. Deployed as board_config.py.

Wiring and the analog front end: docs/hardware.md. The calibration values are the design
nominals; measure each unit on the bench (docs/hardware.md, "Calibration") and replace them.
"""
from micropython import const

NAME = "esp32_devkitc"
BLE_NAME = "Roller"  # advertised name (roller.ble_uart); ESP32 MicroPython has `bluetooth` (NimBLE)

# --- pins (GPIO numbers); strapping pins 0/2/5/12/15 and the flash pins 6-11 are avoided ----
ENABLE_PIN = const(23)  # output-enable switch, 100 k pull-down: off from reset (R9)
LEG_A_PIN = const(26)  # H-bridge forward leg
LEG_B_PIN = const(27)  # H-bridge reverse leg
SETPOINT_PIN = const(25)  # DAC1: 8-bit current-source setpoint
ISENSE_PIN = const(36)  # ADC1_CH0 (SENSOR_VP): ADC1 only, ADC2 is taken by the radio
VSENSE_PIN = const(39)  # ADC1_CH3 (SENSOR_VN)
VBAT_PIN = const(34)  # ADC1_CH6, battery through a 1:2 divider
USB_PIN = const(35)  # VBUS through a 100 k / 150 k divider (3.0 V): high while USB is present
BUTTON_PIN = const(13)  # to GND, internal pull-up
LED_PINS = (19, 21, 22)  # R, G, B through 330 R, common cathode
CUE_PIN = const(32)  # vibration motor driver (N-MOSFET gate)
HEAD_PIN = const(33)  # ADC1_CH5: the head's ID contact, 10 k pull-up to 3.3 V, 100 nF to GND

# --- setpoint: DAC code 255 (3.3 V) into the V-to-I converter's 3.3 k gives 1000 uA ---------
SETPOINT_MAX_CODE = const(255)
SETPOINT_FULL_UA = const(1000)

# --- ADC (read_u16, 11 dB attenuation: 0..3.1 V nominal) ------------------------------------
# Sense signals are offset-binary around their zero code; *_PER_32768 is the value of half the
# ADC span. 1 mV/uA sense amplifier on a 1.30 V reference: 0.30-2.30 V for -1000..+1000 uA.
ISENSE_ZERO_U16 = const(27_480)
ISENSE_UA_PER_32768 = const(1550)
# electrode voltage through 1:15 onto the same 1.30 V reference
VSENSE_ZERO_U16 = const(27_480)
VSENSE_MV_PER_32768 = const(23_250)
# battery: 1:2 divider, 65536 = 6.2 V at the cell
VBAT_MV_PER_65536 = const(6200)

# head ID (docs/hardware.md "Heads"): 65536 = 3.1 V at 11 dB; the ID resistor against the 10 k
# pull-up reads 1650 mV (face, 10 k) or 1055 mV (eye, 4.7 k); bands +-10 %, in roller.heads'
# order (face, eye). An open contact saturates the ADC (3.1 V): at or above HEAD_OPEN_MV.
HEAD_MV_PER_65536 = const(3100)
HEAD_BANDS_MV = ((1500, 1800), (950, 1160))
HEAD_OPEN_MV = const(3000)

LED_PWM_HZ = const(1000)
