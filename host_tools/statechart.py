"""docs/states.md from roller.ui.TRANSITIONS: `python -m host_tools.statechart [--check]`."""
import os
import sys

from host_tools import paths

DOC = os.path.join(paths.ROOT, "docs", "states.md")
# roller.ui's events by number, as the chart names them (not on the device: it never shows them)
EVENT_NAMES = (
    "",
    "click",
    "double",
    "hold",
    "start",
    "stop",
    "selftest passed",
    "battery low",
    "contact",
    "lift-off",
    "session end",
    "idle 120 s",
    "5 s",
    "USB in",
    "USB out",
    "fault",
    "ramped down",
    "check passed",
)


def render():
    paths.use_firmware_on_cpython()
    from roller import ui

    name = ui.STATE_NAMES
    lines = [
        "# UI states",
        "",
        "Generated from `roller.ui.TRANSITIONS` by `python -m host_tools.statechart`; a test keeps",
        "it in step with the code. ACTIVE is the superstate of STANDBY, RUN and PAUSED: its rows",
        "apply in each of them unless the substate has its own row for the event. A ramp-down",
        "(`hold`, `stop`, low battery, session end) keeps the state until the current reaches",
        "zero and the period closes, then takes the transition (`ramped down`); nothing cancels",
        "it. `contact` and `ramped down` fire at the end of a period (docs/safety.md).",
        "",
        "```mermaid",
        "stateDiagram-v2",
        "    [*] --> OFF",
        "    state ACTIVE {",
    ]
    for state in (ui.STANDBY, ui.RUN, ui.PAUSED):
        lines.append("        %s" % name[state])
    lines.append("    }")
    for source, event, target, action in ui.TRANSITIONS:
        label = EVENT_NAMES[event] + (" / " + action.replace("_", " ") if action else "")
        if target is None:
            if action == "finish_ramp_down":
                for end in ("OFF", "DONE"):
                    lines.append("    %s --> %s : ramped down" % (name[source], end))
            continue
        lines.append("    %s --> %s : %s" % (name[source], name[target], label))
    lines += ["```", "", "| state | event | next state | action |", "|---|---|---|---|"]
    for source, event, target, action in ui.TRANSITIONS:
        lines.append("| %s | %s | %s | %s |" % (
            name[source], EVENT_NAMES[event], name[target] if target is not None else "(stays)",
            (action or "").replace("_", " ")))
    return "\n".join(lines) + "\n"


def main(argv):
    text = render()
    if "--check" in argv:
        with open(DOC) as f:
            if f.read() != text:
                sys.stderr.write("statechart: docs/states.md is out of date; "
                                 "run python -m host_tools.statechart\n")
                return 1
        return 0
    with open(DOC, "w") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
