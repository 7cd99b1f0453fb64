"""`make release`: dist/ with what a user flashes, checksummed, and release notes from the version.

- roller-rp2040_pico-<version>.uf2: the production image (make uf2), drag-and-drop in BOOTSEL mode;
  it runs the app on its own
- roller-esp32_devkitc-<version>/: the ESP32 file system as `deploy` writes it (.mpy, main.py,
  boot.py, the self-test manifest) with a mip package.json beside it (urls relative to it),
  and the same as roller-esp32_devkitc-<version>.tar.gz
- RELEASE-NOTES.md, and SHA256SUMS over every file (`sha256sum -c SHA256SUMS`)
docs/flashing.md, "Flash the release".
"""
import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile

from host_tools import firmware_build, paths, uf2_build

ESP32 = "esp32_devkitc"
_MPY_LABEL = "MicroPython v1.28.0"


def _sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def _commit():
    """The short commit, "+ uncommitted changes" when the tracked files differ from it."""
    def git(*args):
        return subprocess.run(["git", *args], capture_output=True, text=True, cwd=paths.ROOT).stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return commit + (" + uncommitted changes" if git("status", "--porcelain", "--untracked-files=no") else "")


def esp32_bundle(dist, version):
    """The deploy tree for the ESP32 under dist/, its package.json and a tarball; returns names."""
    name = "roller-%s-%s" % (ESP32, version)
    tree = os.path.join(dist, name)
    build = firmware_build.build(firmware_build.board(ESP32), tree)
    urls = [[f, f] for f in build.files]
    with open(os.path.join(tree, "package.json"), "w") as f:
        json.dump({"urls": urls, "version": version}, f, indent=1)
        f.write("\n")
    tarball = name + ".tar.gz"
    with tarfile.open(os.path.join(dist, tarball), "w:gz") as tar:
        for path in sorted(build.files) + ["package.json"]:
            info = tar.gettarinfo(os.path.join(tree, path), os.path.join(name, path))
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            with open(os.path.join(tree, path), "rb") as f:
                tar.addfile(info, f)
    return build, tarball


def notes(version, rec, esp32, tarball):
    fs_kb = (uf2_build.FLASH_BYTES - rec["image_limit_bytes"]) // 1024
    return "\n".join([
        "# Roller firmware %s" % version,
        "",
        "Built from commit %s on %s." % (_commit(), _MPY_LABEL),
        "",
        "## Raspberry Pi Pico (RP2040)",
        "`%s`: MicroPython with the firmware frozen in (roller/, hal/, main.py, boot.py and the "
        "board's nominal board_config), frozen source hash "
        "`%s`. Image %s of %s bytes of flash (%s KB stay for the file system)." % (
            os.path.basename(rec["uf2"]), rec["source_sha256"], format(rec["image_bytes"], ","),
            format(rec["image_limit_bytes"], ","), format(fs_kb, ",")),
        "Hold BOOTSEL while plugging the Pico in and copy the UF2 onto the RPI-RP2 drive: the "
        "Pico reboots into the app. A blank unit runs on the board's nominal calibration and "
        "says `\"calibrated\": false` in `info` and `status`; calibrate it, then "
        "`python -m host_tools deploy --board rp2040_pico --port PORT` puts its board_config "
        "and the self-test manifest on it. An update is the new UF2 alone: the unit keeps its "
        "calibration, settings and history (docs/flashing.md).",
        "",
        "## ESP32 DevKitC",
        "`%s/` (and `%s`): the file system as `deploy` writes it, %d files, %s bytes of .mpy "
        "(xtensawin), with a mip `package.json`. Needs %s for ESP32 on the board; "
        "`python -m host_tools deploy --board esp32_devkitc --port PORT` installs it." % (
            os.path.basename(esp32.out_dir), tarball, len(esp32.files), format(esp32.mpy_bytes, ","),
            _MPY_LABEL),
        "",
        "Check the files: `sha256sum -c SHA256SUMS`.",
        "",
    ])


def release(dist):
    """Write dist/ (emptied first); returns the file names. Raises uf2_build.BuildError."""
    version = firmware_build.firmware_version()
    rec = uf2_build.build(log=lambda line: print(line, flush=True))
    shutil.rmtree(dist, ignore_errors=True)
    os.makedirs(dist)
    uf2 = os.path.basename(rec["uf2"])
    shutil.copyfile(os.path.join(paths.ROOT, rec["uf2"]), os.path.join(dist, uf2))
    esp32, tarball = esp32_bundle(dist, version)
    with open(os.path.join(dist, "RELEASE-NOTES.md"), "w") as f:
        f.write(notes(version, rec, esp32, tarball))
    files = sorted(os.path.relpath(os.path.join(d, n), dist) for d, _, names in os.walk(dist) for n in names)
    with open(os.path.join(dist, "SHA256SUMS"), "w") as f:
        f.writelines("%s  %s\n" % (_sha256(os.path.join(dist, n)), n) for n in files)
    return files + ["SHA256SUMS"]


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m host_tools.release", description=__doc__.splitlines()[0])
    p.add_argument("--out", default=os.path.join(paths.ROOT, "dist"), help="folder (default dist/)")
    args = p.parse_args(argv)
    try:
        files = release(args.out)
    except uf2_build.BuildError as exc:
        sys.stderr.write("release: error: %s\n" % exc)
        return 1
    except subprocess.CalledProcessError as exc:
        sys.stderr.write("release: error: mpy-cross: %s\n" % (exc.stderr or "").strip())
        return 1
    print("release %s: %d files in %s" % (firmware_build.firmware_version(), len(files),
                                          os.path.relpath(args.out)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
