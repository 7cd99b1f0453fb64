"""The setting of the Bluetooth device scripts (ble_link_run.py, ble_boot_run.py): their three
arguments, the import path (the stand-in radio first, then the pinned aioble, the firmware, the
repository) and the flash folder as the working directory. Returns the arguments."""
import os
import sys


def setup():
    root, aioble_dir, flash_dir = sys.argv[1], sys.argv[2], sys.argv[3]
    for path in (root + "/tests/mpy/ble_standin", aioble_dir, root + "/firmware", root):
        sys.path.insert(0, path)
    os.chdir(flash_dir)  # the device's cwd is its flash: a file aioble wrote itself would be here
    return root, aioble_dir, flash_dir
