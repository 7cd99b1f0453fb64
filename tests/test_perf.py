"""`perf`: the alloc-free proof holds in every state and can fail; the tick's instruction count
keeps to its budget; the report's structure, and verdicts that follow its figures.

No wall-clock assertions: times vary with the machine and its load, so a time is only checked
to be a number. What is asserted is deterministic: allocations, callgrind instruction counts,
heap and .mpy bytes, the report's keys.
"""
import copy
import json
import math

import pytest

from host_tools import cmd_perf, perf_probe
from host_tools.cmd_perf import format_report
from tests.conftest import run_cli

STATES = ["OFF", "CHARGING", "STANDBY", "RUN_lift", "RUN_tone", "RUN_eye", "RUN_sculpt",
          "PAUSED", "DONE", "FAULT"]
KEYS = ["tick_us", "tick_instructions", "tick_vs_empty_loop", "alloc_free",
        "sim_realtime_factor", "heap_after_boot_bytes", "min_heapsize_kb", "mpy_bytes", "targets"]
QUICK_ALLOC_TICKS = 2000  # cmd_perf.measure(quick=True)


def test_steady_tick_is_alloc_free_in_every_state():
    errors = perf_probe.alloc_free(10_000)
    assert list(errors) == STATES
    assert errors == {state: None for state in STATES}


def test_allocating_tick_is_reported():
    errors = perf_probe.alloc_free(100, allocating=True)
    assert list(errors) == STATES
    assert all(error and "MemoryError" in error for error in errors.values()), errors


def test_tick_instructions_keep_to_the_budget():
    """Callgrind counts are the same on every run and every machine (docs/performance.md)."""
    if not perf_probe.valgrind_exe():
        pytest.fail("valgrind not found: `make test` installs it (apt-get install valgrind)")
    counts, gc_allocs = perf_probe.tick_instructions(100)
    empty, idle = counts.pop("empty"), counts.pop("service_idle")
    assert list(counts) == STATES and idle > 0
    # what heap_lock cannot see (frames over 11 slots come from gc_alloc and fall back to the C
    # stack when locked): no tick calls gc_alloc at all
    assert {state: gc_allocs[state] for state in STATES} == {state: 0 for state in STATES}
    run = {state: n for state, n in counts.items() if state.startswith("RUN")}
    # issue 9's budget, in instructions: the same figure on any machine, however loaded
    assert max(run.values()) <= cmd_perf.TARGETS["run_tick_empty_loops"] * empty, counts
    # structure: every tick reads, supervises and writes (many loop iterations' work), and RUN
    # adds the waveform and the sense checks to what OFF does
    assert min(counts.values()) > 10 * empty, counts
    assert min(run.values()) > counts["OFF"], counts


@pytest.fixture(scope="module")
def quick_report():
    code, out, err = run_cli("perf", "--json", "--quick")
    assert code == 0, err
    return json.loads(out)


def _is_time(x):
    return isinstance(x, float) and math.isfinite(x)


def report_problems(r):
    """What is wrong with a `perf --json --quick` report: [] for a sound one."""
    problems = ["missing " + key for key in KEYS if key not in r]
    if problems:
        return problems

    def check(ok, what):
        if not ok:
            problems.append(what)

    # times: one finite number per state; their size is the machine's business
    check(list(r["tick_us"]) == STATES, "tick_us states")
    check(all(map(_is_time, r["tick_us"].values())), "tick_us numbers")
    ratios = r["tick_vs_empty_loop"]
    check(_is_time(ratios["empty_loop_us"]), "empty_loop_us")
    check(list(ratios["by_us"]) == STATES and all(map(_is_time, ratios["by_us"].values())), "by_us")
    check(r["tick_instructions"] is None and ratios["by_instructions"] is None, "--quick: no valgrind")
    check(set(r["sim_realtime_factor"]) == {"micropython", "cpython"}
          and all(map(_is_time, r["sim_realtime_factor"].values())), "sim_realtime_factor")
    # deterministic figures
    alloc = r["alloc_free"]
    check(alloc["all"] is True and alloc["states"] == dict.fromkeys(STATES, True)
          and alloc["errors"] == {} and alloc["ticks_per_state"] == QUICK_ALLOC_TICKS, "alloc_free")
    check(10_000 < r["heap_after_boot_bytes"] < 1_000_000, "heap_after_boot_bytes")
    check(8 <= r["min_heapsize_kb"] <= 256, "min_heapsize_kb")
    check(set(r["mpy_bytes"]) == {"esp32", "rp2040"}
          and all(5_000 < n < 200_000 for n in r["mpy_bytes"].values()), "mpy_bytes")
    # the verdicts follow from the figures
    check(r["targets"] == cmd_perf.targets(r), "targets")
    return problems


def test_quick_report_is_sound(quick_report):
    assert report_problems(quick_report) == []


def _set(path, value):
    def mutate(r):
        *parents, key = path
        for name in parents:
            r = r[name]
        r[key] = value
    return mutate


MUTATIONS = {
    "a state missing": lambda r: r["tick_us"].pop("RUN_eye"),
    "a time as text": _set(("tick_us", "OFF"), "0.5"),
    "a time not a number": _set(("tick_vs_empty_loop", "empty_loop_us"), math.nan),
    "a tick that allocates": _set(("alloc_free", "states", "PAUSED"), False),
    "a runtime missing": lambda r: r["sim_realtime_factor"].pop("cpython"),
    "heap out of range": _set(("heap_after_boot_bytes", ), 0),
    "a board missing": lambda r: r["mpy_bytes"].pop("rp2040"),
    "a verdict against its figure": lambda r: r["targets"].update(mpy_kb=not r["targets"]["mpy_kb"]),
    "a figure against its verdict": lambda r: r["mpy_bytes"].update(  # to the other side of the target
        dict.fromkeys(r["mpy_bytes"], 150_000 if r["targets"]["mpy_kb"] else 6_000)),
    "a key missing": lambda r: r.pop("min_heapsize_kb"),
}


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_report_check_finds_each_mutation(quick_report, name):
    mutated = copy.deepcopy(quick_report)
    MUTATIONS[name](mutated)
    assert report_problems(mutated) != []


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
