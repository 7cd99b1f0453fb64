"""requirements-dev.txt pins every third-party package that host_tools, boards or tests import."""
import ast
import glob
import importlib.metadata
import os
import re
import sys

from host_tools.paths import ROOT

TREES = ("host_tools", "boards", "tests")
# where the project's own top-level modules live: the repo, the firmware, the test helpers,
# the CPython stand-in for `micropython`, and each board folder (a board's `board` module)
LOCAL_DIRS = ["", "firmware", "tests", "tests/mpy", "host_tools/compat", "tests/mpy/ble_standin"] + [
    os.path.relpath(d, ROOT) for d in glob.glob(os.path.join(ROOT, "boards", "*", ""))]


# built into the boards' MicroPython: imported by device-only files under boards/ (emu_probe.py)
PORT_MODULES = ("machine",)
# micropython-lib packages, pinned by the tarball beside the repository (host_tools/mplib.py)
MICROPYTHON_LIB = {"aioble"}


def _imports():
    """{top-level module: first file importing it} over every absolute import in TREES."""
    found = {}
    for tree in TREES:
        for path in sorted(glob.glob(os.path.join(ROOT, tree, "**", "*.py"), recursive=True)):
            with open(path, encoding="utf-8") as f:
                module = ast.parse(f.read(), path)
            for node in ast.walk(module):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    found.setdefault(name.split(".")[0], os.path.relpath(path, ROOT))
    return found


def _local(name):
    return any(os.path.exists(os.path.join(ROOT, d, name + ".py")) or
               os.path.isdir(os.path.join(ROOT, d, name)) for d in LOCAL_DIRS)


def _normal(name):  # PEP 503
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(text):
    """{normalised distribution name: line} for every `name==version` line."""
    out = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            out[_normal(re.match(r"[A-Za-z0-9_.-]+", line).group())] = line
    return out


def unpinned(text):
    """Third-party modules imported in TREES whose distribution has no `==` pin in `text`,
    as {module: why}."""
    pinned = pins(text)
    dists = importlib.metadata.packages_distributions()
    problems = {}
    for name, where in sorted(_imports().items()):
        if name in sys.stdlib_module_names or name in PORT_MODULES or _local(name) or name in MICROPYTHON_LIB:
            continue
        owners = [_normal(d) for d in dists.get(name, [])]
        if not owners:
            problems[name] = "imported in %s, installed by no distribution" % where
        elif not any("==" in pinned.get(d, "") for d in owners):
            problems[name] = "imported in %s: pin %s in requirements-dev.txt" % (where, " or ".join(owners))
    return problems


def _requirements():
    with open(os.path.join(ROOT, "requirements-dev.txt")) as f:
        return f.read()


def test_every_third_party_import_is_pinned():
    assert unpinned(_requirements()) == {}


def test_every_requirement_is_an_exact_pin():
    assert [line for line in pins(_requirements()).values() if "==" not in line] == []


def test_a_dropped_pin_is_found():
    text = _requirements()
    for dist, module in (("pyvcd", "vcd"), ("numpy", "numpy"), ("pyserial", "serial")):
        without = "\n".join(line for line in text.splitlines() if not line.startswith(dist + "=="))
        assert list(unpinned(without)) == [module]
