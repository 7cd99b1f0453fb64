"""Device entry point: pick the HAL by the board's name (board_config.NAME), run the app forever."""
import sys

import board_config

# board_config.NAME (boards/<name>/) -> the module whose Board drives that board; one HAL may
# serve several boards, each with its own board_config (pins, calibration)
HALS = {
    "esp32_devkitc": "hal.esp32",
    "rp2040_pico": "hal.rp2040",
    "rp2040_picow": "hal.rp2040",  # the Pico W: same HAL, its own pins (board_config)
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

    app = App(board)
    name = getattr(board_config, "BLE_NAME", None)
    if name:  # Bluetooth boards: the same protocol over BLE too (docs/companion.md)
        try:
            from roller.ble_uart import BleLink
        except ImportError as exc:  # a firmware without `bluetooth` or aioble: USB only
            print("main.py: no Bluetooth (%s); USB only" % exc, file=sys.stderr)
        else:
            BleLink(app, name)
    board.run(app)


main()
