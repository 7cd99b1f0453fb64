"""C1 scenario files: parsing and checking (scenario_check), expansion into a timeline, and
the timeline file that carries a checked scenario to the unix port.

The timeline file (roller-timeline/1) is JSON lines in UTF-8: a head object (format, name,
duration_s, and seed and settings when given), then one [t_ms, key, value] per timeline item in
time order. The unix port reads it a few items at a time (read_items) as the run goes, so a
scenario of any length runs in the same heap. Parsing and checking run on CPython only.
"""
import json

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


TIMELINE_FORMAT = "roller-timeline/1"
_HEAD_KEYS = ("name", "duration_s", "seed", "settings")


def parse(text):
    """Scenario text to a checked document (CPython)."""
    from boards.sim import scenario_check  # here: the unix port never loads it

    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise ScenarioError("not valid JSON (%s)" % (exc.args[0] if exc.args else "syntax")) from None
    except RecursionError:
        raise ScenarioError("nested deeper than the JSON reader follows (C1 needs 4 levels)") from None
    return scenario_check.check(doc)


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


def write_timeline(doc, f):
    """A checked document as a timeline file (CPython). Non-ASCII text goes as UTF-8, not as
    \\u escapes: the unix port's json decodes an escaped surrogate pair into invalid UTF-8."""
    head = {key: doc[key] for key in _HEAD_KEYS if key in doc}
    head["format"] = TIMELINE_FORMAT
    f.write(json.dumps(head, ensure_ascii=False) + "\n")
    for item in timeline(doc):
        f.write(json.dumps(item, ensure_ascii=False) + "\n")


def read_head(f):
    """The head of a timeline file as a document without events, or None if it is none."""
    try:
        head = json.loads(f.readline())
    except ValueError:
        return None
    if not isinstance(head, dict) or head.get("format") != TIMELINE_FORMAT:
        return None
    head["events"] = []
    return head


def read_items(f, n_bytes):
    """The next timeline items ([t_ms, key, value]) from about n_bytes of the file (one item at
    least, whatever its size); [] at the end."""
    items = []
    while n_bytes > 0:
        line = f.readline()
        if not line:
            break
        n_bytes -= len(line)
        items.append(json.loads(line))
    return items
