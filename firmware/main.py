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
    "rp2040_picow": "hal.rp2040",  # the Pico W: same HAL, its own pins (board_config)
    "sim": "boards.sim.devboard",  # the unix port: host_tools devsim
}


def nominal_config():
    """The image's nominal board_config (make uf2 freezes it), or None on a deployed build."""
    unit = sys.modules.pop("board_config")
    try:
        import board_config as nominal  # .frozen is first on sys.path (boot.py)
    except ImportError:
        nominal = None
    finally:
        sys.modules["board_config"] = unit
    return nominal if getattr(nominal, "NOMINAL", False) else None


def main():
    cfg = None  # the unit's board_config
    module = HALS.get(board_config.NAME)
    if module is None:
        # a flipped byte in NAME: on a frozen image, the nominal one's board, so that the
        # self-test (R10) stops the app on the unit's file
        cfg = nominal_config()
        module = HALS.get(cfg.NAME) if cfg is not None else None
    if module is None:
        # one line, then the REPL: output-enable stays low (boot.py) and nothing else runs.
        # Not SystemExit: it ends main.py without a word.
        print("main.py: no HAL for board_config.NAME %r (known: %s)"
              % (board_config.NAME, ", ".join(sorted(HALS))), file=sys.stderr)
        return
    hal = __import__(module, None, None, ("Board",))
    try:
        board = hal.Board() if cfg is None else hal.Board(cfg)  # output-enable low first
    except Exception:
        # a value a flipped byte made unusable: as for NAME; a deployed build has no nominal one
        cfg = nominal_config()
        if cfg is None:
            raise
        board = hal.Board(cfg)
    if getattr(board, "maintenance", None) is not None and board.maintenance():
        print("main.py: maintenance boot: output off, the app not started; reset to start it",
              file=sys.stderr)
        return
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
