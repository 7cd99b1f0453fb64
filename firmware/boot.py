# Output-enable low before anything else runs (R9/R10); the pin comes from the board's map.
import machine
from board_config import ENABLE_PIN

machine.Pin(ENABLE_PIN, machine.Pin.OUT, value=0)
