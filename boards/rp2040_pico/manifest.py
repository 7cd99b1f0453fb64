# Frozen firmware image for the Raspberry Pi Pico (micropython-lib manifest conventions).
# In a MicroPython checkout:
#   make -C ports/rp2 BOARD=RPI_PICO FROZEN_MANIFEST=$PWD/boards/rp2040_pico/manifest.py
# roller/, hal/, main.py and boot.py become bytecode in the image: the port runs a frozen
# main.py and boot.py before any on the file system, so the UF2 alone runs the app. Only
# board_config.py (per-unit calibration) goes on the file system, with the self-test manifest
# (`deploy`). make uf2 also freezes this board's board.py as board_config (the nominal values,
# for a unit that has none) and the build identity roller_build (docs/flashing.md).
# ruff: noqa: F821 (include/package/module/options are defined by the manifest tool)
# options.boot_dir: make uf2's emulator variant (uf2_build --probe) freezes a boot.py that also
# imports the trace probe (emu_probe.py); the release image freezes firmware/boot.py
options.defaults(boot_dir="../../firmware")
include("$(PORT_DIR)/boards/manifest.py")
module("main.py", base_path="../../firmware")
module("boot.py", base_path=options.boot_dir)
package("roller", base_path="../../firmware")
package("hal", files=("__init__.py", "common.py", "rp2040.py"), base_path="../../firmware")
