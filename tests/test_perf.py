"""`perf`: the alloc-free proof holds in every state and can fail; the report's shape.

No timing assertions: figures vary by machine, the report and bench/ history track them.
"""
import json

import pytest

from host_tools import perf_probe
from host_tools.cmd_perf import format_report
from tests.conftest import run_cli

STATES = ["OFF", "CHARGING", "STANDBY", "RUN_lift", "RUN_tone", "RUN_eye", "RUN_sculpt",
          "PAUSED", "DONE", "FAULT"]
KEYS = ["tick_us", "tick_instructions", "tick_vs_empty_loop", "alloc_free",
        "sim_realtime_factor", "heap_after_boot_bytes", "min_heapsize_kb", "mpy_bytes"]


def test_steady_tick_is_alloc_free_in_every_state():
    errors = perf_probe.alloc_free(10_000)
    assert list(errors) == STATES
    assert errors == {state: None for state in STATES}


def test_allocating_tick_is_reported():
    errors = perf_probe.alloc_free(100, allocating=True)
    assert list(errors) == STATES
    assert all(error and "MemoryError" in error for error in errors.values()), errors


@pytest.fixture(scope="module")
def quick_report():
    code, out, err = run_cli("perf", "--json", "--quick")
    assert code == 0, err
    return json.loads(out)


def test_report_has_the_keys_and_sane_values(quick_report):
    r = quick_report
    assert set(KEYS) <= set(r)
    assert list(r["tick_us"]) == STATES
    # one state's tick less its idle service can come out <= 0 on a loaded machine (time, not
    # instructions): the states together cannot
    assert all(isinstance(us, float) for us in r["tick_us"].values()) and sum(r["tick_us"].values()) > 0
    assert r["tick_instructions"] is None  # --quick: no valgrind
    ratios = r["tick_vs_empty_loop"]
    assert ratios["empty_loop_us"] > 0 and list(ratios["by_us"]) == STATES
    assert r["alloc_free"]["all"] is True and r["alloc_free"]["ticks_per_state"] > 0
    assert set(r["sim_realtime_factor"]) == {"micropython", "cpython"}
    assert all(x > 1 for x in r["sim_realtime_factor"].values())
    assert 10_000 < r["heap_after_boot_bytes"] < 1_000_000
    assert 8 <= r["min_heapsize_kb"] <= 256
    assert set(r["mpy_bytes"]) == {"esp32", "rp2040"}
    assert all(5_000 < n < 200_000 for n in r["mpy_bytes"].values())
    assert set(r["targets"].values()) <= {True, False}


def test_human_report_names_every_state(quick_report):
    text = format_report(quick_report)
    assert all(state in text for state in STATES)


def test_callgrind_blocks_give_per_tick_costs(tmp_path, monkeypatch):
    """n vs 2n removes fixed costs; the idle loop's cost is taken off the tick's."""
    blocks = ["empty/1", "empty/2", "RUN_lift/tick/1", "RUN_lift/tick/2", "RUN_lift/idle/1",
              "RUN_lift/idle/2"]
    # per block: fixed cost 5000 + iterations x per-iteration cost; gc_alloc calls alike
    per_iteration = {"empty": 250, "RUN_lift/tick": 10_300, "RUN_lift/idle": 300}
    allocs = {"empty": 0, "RUN_lift/tick": 3, "RUN_lift/idle": 1}
    dump = 1
    for label in blocks:
        name, times = label.rsplit("/", 1)
        cost = 5000 + int(times) * 100 * per_iteration[name]
        calls = 7 + int(times) * 100 * allocs[name]
        for text in ("totals: 123456\n",  # the gap before the block, then the block
                     "fn=fun_bc_call\ncfn=gc_alloc\ncalls=%d 866\n* 99\ncfn=gc_free\n"
                     "calls=5 12\ntotals: %d\n" % (calls, cost)):
            (tmp_path / ("cg.out.%d" % dump)).write_text("events: Ir\n" + text)
            dump += 1

    def fake_run(args, prefix=()):
        return {"n": 100, "blocks": blocks}

    monkeypatch.setattr(perf_probe, "_run", fake_run)
    monkeypatch.setattr(perf_probe.tempfile, "mkdtemp", lambda prefix: str(tmp_path))
    monkeypatch.setattr(perf_probe.shutil, "rmtree", lambda *a, **k: None)
    assert perf_probe.tick_instructions(100) == ({"empty": 250, "RUN_lift": 10_000},
                                                 {"RUN_lift": 2})
