"""`python -m host_tools`: the command list, and heavy libraries loaded only by the command
that needs them."""
import json
import os
import subprocess
import sys

import pytest

from host_tools.__main__ import COMMANDS, main
from host_tools.paths import ROOT
from tests.conftest import run_cli

HEAVY = ("numpy", "matplotlib", "vcd", "serial", "prompt_toolkit", "websockets", "selenium")


def _listing(text):
    """{command: its line} from the commands section of the top-level help."""
    rows = text.split("\ncommands:\n", 1)[1].splitlines()
    return {row.split()[0]: row for row in rows if row.startswith("    ")}


def _commands_help_ok(text):
    listing = _listing(text)
    assert list(listing) == list(COMMANDS)
    assert all(len(row.split(None, 1)) == 2 for row in listing.values())  # name + one line


@pytest.mark.parametrize("columns", ["200", "30"])
def test_help_lists_every_command_on_one_line(columns):
    proc = subprocess.run([sys.executable, "-m", "host_tools", "-h"], capture_output=True, text=True,
                          cwd=ROOT, env=dict(os.environ, COLUMNS=columns))
    assert (proc.returncode, proc.stderr) == (0, "")
    _commands_help_ok(proc.stdout)


def test_no_command_lists_the_commands_and_exits_2():
    code, out, err = run_cli()
    assert (code, out) == (2, "")
    _commands_help_ok(err)


@pytest.mark.parametrize("name", COMMANDS)
def test_each_command_has_its_own_help(capsys, name):
    with pytest.raises(SystemExit) as exit_:
        main([name, "--help"])
    out, err = capsys.readouterr()
    assert (exit_.value.code, err) == (0, "")
    assert out.startswith("usage: python -m host_tools %s [-h]" % name)


_LOADED = """
import contextlib, io, json, sys
from host_tools.__main__ import build_parser, main
parser = build_parser()
for argv in [[]] + [[name] for name in %r]:
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            parser.parse_args(argv + ["--help"])
        except SystemExit:
            pass
heavy = %r
seen = {"help": sorted({m.split(".")[0] for m in sys.modules} & set(heavy))}
if len(sys.argv) > 1:  # then run a command: the check sees what it loads
    with contextlib.redirect_stdout(io.StringIO()):
        main(sys.argv[1:])
    seen["run"] = sorted({m.split(".")[0] for m in sys.modules} & set(heavy))
print(json.dumps(seen))
""" % (COMMANDS, HEAVY)


def _loaded(*argv):
    proc = subprocess.run([sys.executable, "-c", _LOADED, *argv], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_help_loads_no_heavy_library(tmp_path):
    assert _loaded() == {"help": []}
    # the same check sees numpy once `bench` reads a capture
    capture = tmp_path / "cap.csv"
    capture.write_text("".join("%g,%g\n" % (k * 1e-3, (-1) ** (k // 5)) for k in range(100)))
    assert _loaded("bench", str(capture), "--load-ohm", "1e4") == {"help": [], "run": ["numpy"]}


def test_a_reader_that_closes_early_gets_no_traceback():
    """`deploy --dry-run | head -1`: the reader has gone when the tool writes (exit 1, stderr
    quiet). The pipe's read end is closed before the tool starts, so every write fails."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run([sys.executable, "-m", "host_tools", "deploy", "--board", "sim", "--dry-run"],
                              stdout=write_end, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    finally:
        os.close(write_end)
    assert (proc.returncode, proc.stderr) == (1, "")
