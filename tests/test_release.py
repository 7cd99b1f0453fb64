"""`make release` (host_tools/release.py): dist/ holds the Pico UF2, the ESP32 bundle with its mip
package.json, release notes from the version, and SHA256SUMS that sha256sum accepts."""
import json
import os
import shutil
import subprocess
import tarfile

import pytest

from host_tools import firmware_build, release, uf2_build

MISSING = uf2_build.missing()


@pytest.mark.skipif(MISSING is not None, reason="make uf2: %s" % MISSING)
@pytest.mark.skipif(shutil.which("sha256sum") is None, reason="sha256sum missing")
def test_release_writes_the_files_and_their_checksums(tmp_path):
    dist = tmp_path / "dist"
    assert release.main(["--out", str(dist)]) == 0
    version = firmware_build.firmware_version()
    esp32 = "roller-esp32_devkitc-%s" % version
    names = set(os.listdir(dist))
    assert names == {"roller-rp2040_pico-%s.uf2" % version, esp32, esp32 + ".tar.gz", "RELEASE-NOTES.md",
                     "SHA256SUMS"}, names
    check = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=dist, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.count(": OK") == len(open(dist / "SHA256SUMS").readlines()) >= 20
    package = json.loads((dist / esp32 / "package.json").read_text())
    assert package["version"] == version
    assert all((dist / esp32 / src).is_file() for _, src in package["urls"])
    assert {dev for dev, _ in package["urls"]} >= {"main.py", "boot.py", "roller/app.mpy", "hal/esp32.mpy",
                                                     "manifest.sha256"}
    with tarfile.open(dist / (esp32 + ".tar.gz")) as tar:
        assert sorted(tar.getnames()) == sorted("%s/%s" % (esp32, dev) for dev, _ in package["urls"]
                                                 + [("package.json", "")])
    notes = (dist / "RELEASE-NOTES.md").read_text()
    assert notes.startswith("# Roller firmware %s\n" % version)
    assert uf2_build.record(str(dist / ("roller-rp2040_pico-%s.uf2" % version))) is None  # no build record
    rec = uf2_build.build(log=lambda line: None)
    assert rec["cached"] and rec["source_sha256"] in notes
    assert "reboots into the app" in notes and "calibrated" in notes  # no deploy needed to run it
    # a corrupted file is caught
    with open(dist / esp32 / "main.py", "a") as f:
        f.write("#")
    check = subprocess.run(["sha256sum", "--quiet", "-c", "SHA256SUMS"], cwd=dist, capture_output=True,
                           text=True)
    assert check.returncode and esp32 + "/main.py: FAILED" in check.stdout
