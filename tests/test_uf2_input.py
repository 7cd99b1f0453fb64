"""Bad input to `make uf2` and to `emu --uf2`: a missing or altered source kit, an altered image.
One line on stderr and a non-zero exit; nothing built. Needs neither the toolchain nor the kit."""
import os
import shutil

import pytest

from host_tools import uf2_build
from tests.conftest import run_cli

REAL_KIT = os.path.join(uf2_build.SHARED, uf2_build.KIT_NAME)


@pytest.fixture
def shared(tmp_path, monkeypatch):
    """An empty ../shared/micropython and build/uf2/ of its own."""
    monkeypatch.setattr(uf2_build, "SHARED", str(tmp_path / "shared"))
    monkeypatch.setattr(uf2_build, "OUT", str(tmp_path / "out"))
    (tmp_path / "shared").mkdir()
    return tmp_path / "shared"


def _main(capsys, *argv):
    code = uf2_build.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_missing_kit(shared, capsys):
    code, out, err = _main(capsys)
    assert code == 1 and out == ""
    assert err == "uf2: error: the rp2 source kit is missing: %s\n" % (shared / uf2_build.KIT_NAME), err
    code, out, err = _main(capsys, "--if-kit")  # make test on a machine without ../shared
    assert code == 0 and err == "" and out.startswith("uf2: no source kit in ") and out.count("\n") == 1


def test_altered_kit(shared, capsys):
    real = REAL_KIT
    kit = shared / uf2_build.KIT_NAME
    if os.path.isfile(real):  # the real kit with one byte flipped, else a stand-in
        shutil.copyfile(real, kit)
        data = bytearray(kit.read_bytes())
        data[len(data) // 2] ^= 1
        kit.write_bytes(bytes(data))
    else:
        kit.write_bytes(b"\xfd7zXZ\x00 not the kit")
    for argv in ((), ("--no-patch",), ("--if-kit",)):
        code, out, err = _main(capsys, *argv)
        assert code == 1 and out == "", (argv, out)
        assert err == "uf2: error: %s is not the pinned kit (SHA-256 differs)\n" % kit, err
    assert not os.path.exists(uf2_build.OUT)  # nothing extracted, nothing built


@pytest.mark.skipif(not uf2_build.verified(uf2_build.image_path()), reason="no image from make uf2")
def test_altered_image_is_refused_by_emu(tmp_path):
    uf2 = uf2_build.image_path()
    copy = tmp_path / os.path.basename(uf2)
    data = bytearray(open(uf2, "rb").read())
    data[100_000] ^= 1
    copy.write_bytes(bytes(data))
    shutil.copyfile(uf2_build.record_path(uf2), uf2_build.record_path(str(copy)))  # its record, now false
    code, out, err = run_cli("emu", "--uf2", str(copy), "--flash", str(tmp_path / "flash.bin"))
    assert code != 0 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert "is not the pinned build (SHA-256 differs)" in err, err
