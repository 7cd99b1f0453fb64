"""Reading C2 traces back, and the human summary printed after a run."""
import json


def load(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def summary(events):
    """A few lines a person reads after `sim`: states, faults, zones, current, time."""
    header = events[0] if events and events[0].get("kind") == "header" else {}
    end = events[-1] if events and events[-1].get("kind") == "end" else {}
    states = []
    for e in events:
        if e["kind"] == "state" and (not states or states[-1] != e["state"]):
            states.append(e["state"])
    faults = ["%s at %.3f s" % (e["code"], e["t"]) for e in events if e["kind"] == "fault"]
    zones = [e["zone"] for e in events if e["kind"] == "cue"]
    peak_ua = max((abs(e["ua"]) for e in events if e["kind"] == "out"), default=0)
    resets = [e["cause"] for e in events if e["kind"] == "reset"]
    sim_s = end.get("t", 0)
    wall_s = end.get("wall_s", 0)
    ratio = sim_s / wall_s if wall_s else 0
    # the simulator runs hundreds of times real time; the emulated Pico runs slower than it
    speed = (" (%.0fx real time)" if ratio >= 10 else " (%.2gx real time)") % ratio if wall_s else ""
    lines = [
        "scenario   %s on %s, firmware %s"
        % (header.get("scenario", "?"), header.get("runtime", "?"), header.get("firmware", "?")),
        "states     " + " > ".join(states),
        "faults     " + (", ".join(faults) if faults else "none"),
        "zones      " + (", ".join(zones) if zones else "none"),
        "session    %.1f s of stimulation, peak %d uA" % (_stimulation_s(events), peak_ua),
        "resets     " + ", ".join(resets),
        "time       %.3f s simulated in %.2f s wall%s" % (sim_s, wall_s, speed),
    ]
    return "\n".join(lines)


def _stimulation_s(events):
    """Time in RUN (contact time of the guided session)."""
    total = 0.0
    run_since = None
    for e in events:
        if e["kind"] == "state":
            if e["state"] == "RUN" and run_since is None:
                run_since = e["t"]
            elif e["state"] != "RUN" and run_since is not None:
                total += e["t"] - run_since
                run_since = None
        elif e["kind"] == "end" and run_since is not None:
            total += e["t"] - run_since
    return total
