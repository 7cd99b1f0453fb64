# Output-enable low before anything else runs (R9/R10); the pin comes from the board's map.
# Frozen into the Pico image (make uf2): the port runs a frozen boot.py instead of one on the
# file system, and the image's board_config (nominal values) stands in for a unit without one.
import sys

import machine

try:
    import board_config  # the unit's own: the file system is ahead of .frozen on sys.path here
    unit = board_config
except Exception:  # none (a blank unit) or unreadable (the self-test fails it, R10)
    unit = None
# frozen code first: .mpy files an older deploy left on the file system never shadow it
if ".frozen" in sys.path:
    sys.path.remove(".frozen")
    sys.path.insert(0, ".frozen")
sys.modules.pop("board_config", None)
import board_config  # noqa: E402 -- the image's nominal one; on a deployed build the unit's again

# the unit's, unless a flipped byte lost one of its names (the self-test fails the file then)
if unit is not None and getattr(board_config, "NOMINAL", False) and all(
        hasattr(unit, n) for n in dir(board_config) if n.isupper() and n != "NOMINAL"):
    sys.modules["board_config"] = board_config = unit

machine.Pin(board_config.ENABLE_PIN, machine.Pin.OUT, value=0)
