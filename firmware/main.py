"""Device entry point: pick the HAL by the board's name (board_config.NAME), run the app forever.

Frozen into the Pico image (make uf2), where the port runs it instead of a main.py on the file
system; boot.py has imported board_config (the unit's, else the image's nominal one)."""
import sys

import board_config

# board_config.NAME (boards/<name>/) -> the module whose Board drives that board; one HAL may
# serve several boards, each with its own board_config (pins, calibration)
HALS = {
    "esp32_devkitc": "hal.esp32",
    "rp2040_pico": "hal.rp2040",
    "sim": "boards.sim.devboard",  # the unix port: host_tools devsim
}


def main():
    module = HALS.get(board_config.NAME)
    if module is None:
        # one line, then the REPL: output-enable stays low (boot.py) and nothing else runs.
        # Not SystemExit: it ends main.py without a word.
        print("main.py: no HAL for board_config.NAME %r (known: %s)"
              % (board_config.NAME, ", ".join(sorted(HALS))), file=sys.stderr)
        return
    board = __import__(module, None, None, ("Board",)).Board()  # output-enable low first
    from roller.app import App

    board.run(App(board))


main()
