"""C1 scenario files: parsing, checking (scenario_check) and expansion into a timeline."""
import json
import sys

BUTTON_GESTURES = ("down", "up", "click", "double", "hold")
# gesture -> (ms after the event, pressed) pin edges of a plausible human press
GESTURE_EDGES = {
    "down": ((0, True),),
    "up": ((0, False),),
    "click": ((0, True), (120, False)),
    "double": ((0, True), (100, False), (250, True), (350, False)),
    "hold": ((0, True), (1500, False)),
}


class ScenarioError(Exception):
    """A malformed scenario: the message is the one line shown to the user."""


def check(doc):
    """Raise ScenarioError for anything C1 does not allow; return the document.

    The checker is unloaded afterwards: the unix port runs the simulator in the small heap a
    device has, and the checks are needed once.
    """
    from boards.sim import scenario_check

    try:
        return scenario_check.check(doc)
    finally:
        del sys.modules["boards.sim.scenario_check"]
        delattr(sys.modules["boards.sim"], "scenario_check")


def parse(text):
    """Scenario text to a checked document."""
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise ScenarioError("not valid JSON (%s)" % (exc.args[0] if exc.args else "syntax")) from None
    return check(doc)


def to_ms(seconds):
    return int(seconds * 1000 + 0.5)


def timeline(doc):
    """[(t_ms, key, value)] in time order, button gestures expanded into pin edges."""
    items = []
    for event in doc["events"]:
        t_ms = to_ms(event["t"])
        for key in event:
            if key == "t":
                continue
            value = event[key]
            if key == "button":
                for offset_ms, pressed in GESTURE_EDGES[value]:
                    items.append((t_ms + offset_ms, "pin", pressed))
            else:
                items.append((t_ms, key, value))
    # stable: same-time events keep file order
    order = sorted(range(len(items)), key=lambda i: (items[i][0], i))
    return [items[i] for i in order]
