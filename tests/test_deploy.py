"""Cross-compilation, size budget, hash manifest and the HAL type check (no device needed)."""
import argparse
import hashlib
import os
import re
import shutil
import subprocess

import pytest

from host_tools import cmd_deploy, firmware_build, paths, typecheck
from tests.conftest import run_cli

REAL_BOARDS = ("esp32_devkitc", "rp2040_pico", "rp2040_picow")
# the native-arch number in byte 2 of a .mpy with native code (sys.implementation._mpy >> 10)
ARCH_NUMBER = {"xtensawin": 10, "armv6m": 4}


# deploy's size line: bytes against the board's limit, share used, margin
SIZE_LINE = re.compile(r"(?P<board>\w+) +(?P<files>\d+) files +(?P<bytes>[\d,]+) "
                       r"of (?P<limit>[\d,]+) bytes \.mpy +"
                       r"(?P<percent>[\d.]+) % used +(?P<margin>[\d,]+) bytes (?P<side>left|over)$")


def _bytes(text):
    return int(text.replace(",", ""))


def _check_size_line(size, limit_bytes):
    used = _bytes(size["bytes"])
    assert _bytes(size["limit"]) == limit_bytes
    assert float(size["percent"]) == pytest.approx(100 * used / limit_bytes, abs=0.05)
    assert _bytes(size["margin"]) == abs(limit_bytes - used)
    assert size["side"] == ("left" if used <= limit_bytes else "over")


def test_make_build_prints_one_size_line_per_board(tmp_path):
    # -o setup: the venv is there already (make test made it); BUILD keeps the repo clean
    proc = subprocess.run(["make", "--no-print-directory", "-o", "setup", "build", "BUILD=%s" % tmp_path],
                          capture_output=True, text=True, cwd=paths.ROOT, timeout=600)
    assert (proc.returncode, proc.stderr) == (0, "")
    lines = proc.stdout.splitlines()
    assert [SIZE_LINE.match(line)["board"] for line in lines] == [
        "esp32_devkitc", "rp2040_pico", "rp2040_picow", "sim"]
    for line in lines:
        size = SIZE_LINE.match(line)
        _check_size_line(size, firmware_build.mpy_limit_bytes(firmware_build.board(size["board"])))
        assert os.path.isfile(os.path.join(tmp_path, "deploy", size["board"], firmware_build.MANIFEST))


@pytest.mark.parametrize("board", REAL_BOARDS)
def test_build_cross_compiles_everything_and_prints_its_size(board, tmp_path):
    built = str(tmp_path / "out")
    code, out, err = run_cli("deploy", "--board", board, "--dry-run", "--out", built)
    assert code == 0, err
    size = SIZE_LINE.match(out.splitlines()[0])
    assert size and size["board"] == board and size["limit"] == "65,536", out
    assert 10_000 < _bytes(size["bytes"]) <= firmware_build.MPY_LIMIT_BYTES
    for src, dev in firmware_build.sources(firmware_build.board(board)):
        if dev not in ("main.py", "boot.py"):
            assert os.path.getsize(os.path.join(built, dev[:-3] + ".mpy")) > 0, src
    assert "mpremote connect PORT resume" in out


@pytest.mark.parametrize("arch", sorted(ARCH_NUMBER))
def test_native_emitter_code_compiles_for_each_board_arch(arch, tmp_path):
    src = tmp_path / "hot.py"
    src.write_text("import micropython\n\n@micropython.native\ndef f(x):\n    return x + 1\n\n"
                   "@micropython.viper\ndef g(x: int) -> int:\n    return x * 2\n")
    dst = tmp_path / "hot.mpy"
    firmware_build.compile_mpy(str(src), str(dst), "hot.py", arch)
    header = dst.read_bytes()[:4]
    assert header[:2] == b"M\x06" and header[2] >> 2 == ARCH_NUMBER[arch]


@pytest.fixture(scope="module")
def sim_build(tmp_path_factory):
    return firmware_build.build(firmware_build.board("sim"), str(tmp_path_factory.mktemp("sim")))


def test_build_over_the_size_limit_fails(monkeypatch, capsys, tmp_path, sim_build):
    monkeypatch.setattr(firmware_build, "build", lambda board, out_dir: sim_build)
    monkeypatch.setattr(firmware_build, "MPY_LIMIT_BYTES", 1000)
    args = argparse.Namespace(board="sim", port=None, dry_run=True, size_only=False, out=str(tmp_path))
    assert cmd_deploy.run(args) == 1
    out, err = capsys.readouterr()
    assert "exceed the 1500 byte limit" in err  # the sim board's: 1.5 x
    _check_size_line(SIZE_LINE.match(out.splitlines()[0]), 1500)


def test_deploy_needs_a_port_unless_dry_run():
    code, _, err = run_cli("deploy", "--board", "rp2040", "--out", "/nonexistent")
    assert code == 2 and "--port" in err


def test_manifest_hashes_the_files_as_deployed_and_is_copied_last(sim_build):
    from roller.integrity import manifest_line

    build = sim_build
    assert build.files[-1] == firmware_build.MANIFEST
    with open(build.local(firmware_build.MANIFEST)) as f:
        lines = f.read().splitlines(keepends=True)
    assert len(lines) == len(build.files) - 1
    for line, name in zip(lines, build.files, strict=False):
        with open(build.local(name), "rb") as f:
            assert line == manifest_line(name, hashlib.sha256(f.read()).hexdigest())
    copy, verify, restart = cmd_deploy.plan(build)
    assert copy[-1] == ":" + firmware_build.MANIFEST
    assert "'manifest.sha256'" in copy[2]  # removed before anything is copied
    assert restart == ["resume"] + firmware_build.board("sim").restart


def test_check_hashes_names_the_file_that_differs(sim_build):
    build = sim_build
    with open(build.local(firmware_build.MANIFEST)) as f:
        device_output = f.read()
    assert cmd_deploy.check_hashes(build, device_output) == []
    device_output = device_output.replace(device_output[:64], "0" * 64, 1)
    assert cmd_deploy.check_hashes(build, device_output) == [build.files[0]]


@pytest.mark.parametrize("port", sorted(typecheck.PORTS))
def test_hal_type_checks_against_the_port_stubs(port):
    code, output = typecheck.check(port)
    assert code == 0, output


@pytest.mark.parametrize("port,wrong", [
    ("esp32", ("self._dac.write(code)", "self._dac.write_u16(code)")),
    ("rp2", ("Timer(-1, period=", "Timer(-1, periodic=")),
    ("esp32", ("self._enable.value(0)  #", "self._enable.on(0)  #")),  # in hal/common.py
])
def test_a_wrong_machine_call_fails_the_type_check(port, wrong, tmp_path):
    firmware = tmp_path / "firmware"
    shutil.copytree(paths.FIRMWARE, firmware, ignore=shutil.ignore_patterns("__pycache__"))
    hal_file = firmware / "hal" / ("common.py" if "_enable" in wrong[0] else typecheck.PORTS[port][1])
    text = hal_file.read_text()
    assert wrong[0] in text
    hal_file.write_text(text.replace(wrong[0], wrong[1]))
    code, output = typecheck.check(port, str(firmware), str(tmp_path / "work"))
    assert code == 1 and "error:" in output, output


@pytest.mark.parametrize("board", REAL_BOARDS)
def test_frozen_manifest_and_mip_package_cover_the_deployed_modules(board):
    b = firmware_build.board(board)
    with open(os.path.join(paths.ROOT, "boards", board, "package.json")) as f:
        assert f.read() == firmware_build.package_json(b), \
            "out of date: run python -m host_tools.firmware_build"
    for src, _ in firmware_build.sources(b):
        assert os.path.isfile(os.path.join(paths.ROOT, src)), src
    with open(os.path.join(paths.ROOT, "boards", board, "manifest.py")) as f:
        manifest = f.read()
    assert 'package("roller"' in manifest and "hal" in manifest
