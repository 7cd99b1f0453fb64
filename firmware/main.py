"""Device entry point: pick the board for this port, then run the app forever."""
import sys


def _board():
    if sys.platform == "esp32":
        from hal.esp32 import Board
    elif sys.platform == "rp2":
        from hal.rp2040 import Board
    elif sys.platform == "linux":  # the unix port: host_tools devsim
        from boards.sim.devboard import Board
    else:
        raise SystemExit("no board support for " + sys.platform)
    return Board()


def main():
    board = _board()  # its constructor drives output-enable low first
    from roller.app import App

    board.run(App(board))


main()
