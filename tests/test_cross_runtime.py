"""The same firmware on CPython and on the MicroPython unix port gives the same trace."""
import json
import os

import pytest

from host_tools import paths

SCENARIO_DIR = os.path.join(os.path.dirname(__file__), "scenarios")
COMPARED = ("state", "led", "out", "fault", "cue", "cue_pin", "reset", "hw", "serial", "button")


def _load(path):
    with open(path) as f:
        return json.load(f)


def _comparable(events):
    return [(e["kind"], e["t"], json.dumps({k: e[k] for k in sorted(e) if k not in ("kind", "t")}))
            for e in events if e["kind"] in COMPARED]


@pytest.mark.parametrize("doc", [
    _load(os.path.join(paths.SCENARIOS, "demo.json")),
    _load(os.path.join(SCENARIO_DIR, "programs_tour.json")),
    _load(os.path.join(SCENARIO_DIR, "faults_and_resets.json")),
], ids=lambda d: d["name"])
def test_same_events_on_both_runtimes(sim, doc):
    on_cpython = _comparable(sim(doc, "cpython"))
    on_micropython = _comparable(sim(doc, "micropython"))
    assert len(on_cpython) == len(on_micropython)
    assert on_cpython == on_micropython
    kinds = {kind for kind, _, _ in on_cpython}
    assert {"state", "led", "out"} <= kinds
    assert any(kind == "out" and abs(json.loads(body)["ua"]) >= 60 for kind, _, body in on_cpython)
