"""Lays the firmware files into the sim flash with their hash manifest, as `deploy` does."""
import os

from roller.integrity import MANIFEST, file_digest, manifest_line

_CHUNK_BYTES = 512  # copy in chunks: app.py alone is 15 KB, more than a fragmented heap has in one piece


def _walk(root, prefix=""):
    for name in sorted(os.listdir(root + "/" + prefix if prefix else root)):
        rel = prefix + "/" + name if prefix else name
        full = root + "/" + rel
        if os.stat(full)[0] & 0x4000:  # directory
            if name != "__pycache__" and name != "hal":
                yield from _walk(root, rel)
        elif name.endswith(".py"):
            yield rel


def prepare(flash, firmware_dir):
    """Copy firmware_dir into the flash once; later boots check what is there."""
    if flash.exists(MANIFEST):
        return
    lines = []
    for rel in _walk(firmware_dir):
        parts = rel.split("/")
        for i in range(1, len(parts)):
            try:
                os.mkdir(flash.path("/".join(parts[:i])))
            except OSError:
                pass
        with open(firmware_dir + "/" + rel, "rb") as src, open(flash.path(rel), "wb") as dst:
            chunk = bytearray(_CHUNK_BYTES)
            while True:
                n = src.readinto(chunk)
                if not n:
                    break
                dst.write(chunk if n == _CHUNK_BYTES else chunk[:n])
        lines.append(manifest_line(rel, file_digest(flash, rel)))
    with open(flash.path(MANIFEST), "w") as f:
        f.write("".join(lines))
