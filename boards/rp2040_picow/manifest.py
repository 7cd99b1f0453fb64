# Frozen firmware image for the Raspberry Pi Pico W (micropython-lib manifest conventions).
# In a MicroPython checkout:
#   make -C ports/rp2 BOARD=RPI_PICO_W FROZEN_MANIFEST=$PWD/boards/rp2040_picow/manifest.py
# roller/ and hal/ become bytecode in the image. main.py, boot.py and board_config.py (per-unit
# calibration) stay on the file system, where `deploy` puts them with the self-test manifest.
# ruff: noqa: F821 (include/package are defined by the manifest tool)
include("$(PORT_DIR)/boards/manifest.py")
package("roller", base_path="../../firmware")
package("hal", files=("__init__.py", "common.py", "rp2040.py"), base_path="../../firmware")
# Bluetooth LE: micropython-lib's aioble at the commit MicroPython v1.28.0 pins
# (../shared/micropython/micropython-lib-v1.28.0.tar.xz, host_tools/mplib.py)
require("aioble-peripheral")
require("aioble-server")
require("aioble-security")
