# Output-enable low before anything else runs (R9/R10); the pin comes from the board's map.
# Frozen into the Pico image (make uf2): the port runs a frozen boot.py instead of one on the
# file system, and its board_config (nominal values) stands in for a unit that has none.
import sys

import machine

try:
    import board_config  # the unit's own, on the file system (deploy writes it)
except Exception:  # none (a blank unit) or unreadable (the self-test fails it, R10)
    sys.path.insert(0, ".frozen")  # the board's nominal one in the image; else this raises again
    import board_config
# frozen code first: .mpy files an older deploy left on the file system never shadow it
if ".frozen" in sys.path:
    sys.path.remove(".frozen")
    sys.path.insert(0, ".frozen")

machine.Pin(board_config.ENABLE_PIN, machine.Pin.OUT, value=0)
