"""The unix-port simulator runs precompiled code (host_tools.sim_code): built once, rebuilt
when a source changes, the same traces as from source, one-line errors without mpy-cross."""
import json
import os
import subprocess

from host_tools import cmd_sim, paths, sim_code


def _demo_trace(tmp_path, name, *code_dir):
    from boards.sim import scenario

    doc, _ = cmd_sim.check_scenario(os.path.join(paths.SCENARIOS, "demo.json"))
    timeline = tmp_path / (name + ".timeline")
    with open(timeline, "w", encoding="utf-8") as f:
        scenario.write_timeline(doc, f)
    trace = tmp_path / (name + ".jsonl")
    subprocess.run([paths.micropython_exe(), "-X", "heapsize=%dk" % cmd_sim.HEAPSIZE_KB, paths.SIM_RUN,
                    str(timeline), str(trace), str(tmp_path / name), *code_dir],
                   check=True, capture_output=True)
    return [json.loads(line) for line in trace.read_text().splitlines()]


def test_the_cache_is_built_once_per_source_state(tmp_path, monkeypatch):
    monkeypatch.setattr(sim_code, "CACHE", str(tmp_path / "cache"))
    first = sim_code.code_dir()
    app = os.path.join(first, "roller", "app.mpy")
    stamp = os.stat(app).st_mtime_ns
    assert sim_code.code_dir() == first and os.stat(app).st_mtime_ns == stamp
    assert os.path.isfile(os.path.join(first, "boards", "sim", "runner.mpy"))
    real = sim_code._sources
    monkeypatch.setattr(sim_code, "_sources", lambda: real()[1:])  # a source removed
    second = sim_code.code_dir()
    assert second != first and os.listdir(tmp_path / "cache") == [os.path.basename(second)]


def test_precompiled_code_gives_the_same_trace_as_source(tmp_path):
    compiled = _demo_trace(tmp_path, "mpy", sim_code.code_dir())
    source = _demo_trace(tmp_path, "src")
    assert compiled[-1]["kind"] == "end"
    assert compiled[:-1] == source[:-1]


def test_missing_mpy_cross_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(sim_code, "CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(paths, "tool_exe", lambda name: str(tmp_path / "no-such-mpy-cross"))
    code, error = cmd_sim.run_scenario(os.path.join(paths.SCENARIOS, "demo.json"),
                                       str(tmp_path / "t.jsonl"), "micropython")
    assert code == 1 and "\n" not in error
    assert error.startswith("mpy-cross cannot run") and "make setup" in error


def test_failing_mpy_cross_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(sim_code, "CACHE", str(tmp_path / "cache"))
    broken = tmp_path / "mpy-cross"
    broken.write_text("#!/bin/sh\necho 'mpy-cross: broken' >&2\necho 'second line' >&2\nexit 3\n")
    broken.chmod(0o755)
    monkeypatch.setattr(paths, "tool_exe", lambda name: str(broken))
    try:
        sim_code.code_dir()
    except sim_code.SimCodeError as exc:
        assert str(exc) == "mpy-cross: second line"
    else:
        raise AssertionError("no SimCodeError")
