"""C1 scenario checks, one-line messages naming the event index and field.

Run on CPython only, once per run: the unix port gets the checked scenario as a timeline
(scenario.write_timeline), so both runtimes run exactly what one checker accepted.
"""
import json

from boards.sim.board import RX_BUFFER_BYTES
from boards.sim.model import FAULT_NAMES, HEAD_VALUES
from boards.sim.scenario import BUTTON_GESTURES, ScenarioError
from roller import programs
from roller.settings import RANGES as SETTING_RANGES  # C1: the names and ranges of `set` (C4)

MAX_DURATION_S = 7200
# any one string the simulator carries (name, serial writes): the unix port holds a few copies
# of one at once in its heap (cmd_sim.HEAPSIZE_KB), besides the device's receive buffer
MAX_TEXT_BYTES = RX_BUFFER_BYTES // 2
_ACTIONS = ("button", "skin", "battery_v", "usb", "fault", "serial", "serial_raw", "power", "head")


def _is_number(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _finite(x):
    return x == x and x not in (float("inf"), float("-inf"))


def _number(x, where, low=None, high=None):
    if not _is_number(x) or not _finite(x):
        raise ScenarioError("%s: expected a number, got %s" % (where, json.dumps(x)))
    if (low is not None and x < low) or (high is not None and x > high):
        raise ScenarioError("%s: %s is out of range %s..%s" % (where, json.dumps(x), low, high))
    return x


def _text(x, where):
    """x if it is a string of at most MAX_TEXT_BYTES in UTF-8, the encoding of the serial port
    and of the trace (a lone surrogate has none)."""
    if not isinstance(x, str):
        raise ScenarioError("%s: expected a string" % where)
    try:
        n_bytes = len(x.encode("utf-8"))
    except UnicodeError as exc:
        raise ScenarioError("%s: character %d is a lone surrogate (\\u%04x), not text"
                            % (where, exc.start, ord(x[exc.start]))) from None
    if n_bytes > MAX_TEXT_BYTES:
        raise ScenarioError("%s: %d bytes, over the limit of %d" % (where, n_bytes, MAX_TEXT_BYTES))
    return x


def check_settings(settings, where="settings"):
    """Validated copy of a settings object (the names and ranges of the C4 `set` command)."""
    if not isinstance(settings, dict):
        raise ScenarioError("%s: expected an object" % where)
    for key in settings:
        value = settings[key]
        field = "%s.%s" % (where, key)
        if key == "program":
            if value not in programs.NAMES:
                raise ScenarioError("%s: unknown program %s" % (field, json.dumps(value)))
        elif key in SETTING_RANGES:
            low, high = SETTING_RANGES[key]
            if not isinstance(value, int) or isinstance(value, bool):
                raise ScenarioError("%s: expected an integer, got %s" % (field, json.dumps(value)))
            _number(value, field, low, high)
        else:
            raise ScenarioError("%s: unknown setting" % field)
    return dict(settings)


def _check_event(index, event, duration_s, last_t):
    where = "events[%d]" % index
    if not isinstance(event, dict):
        raise ScenarioError("%s: expected an object" % where)
    if "t" not in event:
        raise ScenarioError("%s.t: missing" % where)
    t = _number(event["t"], where + ".t", 0, duration_s)
    if t < last_t:
        raise ScenarioError("%s.t: %s is before the previous event (%s)" % (where, t, last_t))
    actions = [k for k in event if k != "t"]
    for key in actions:
        if key not in _ACTIONS:
            raise ScenarioError("%s.%s: unknown event field" % (where, key))
    if len(actions) != 1:
        raise ScenarioError("%s: needs exactly one of %s" % (where, ", ".join(_ACTIONS)))
    key = actions[0]
    value = event[key]
    field = where + "." + key
    if key == "button":
        if value not in BUTTON_GESTURES:
            raise ScenarioError("%s: expected one of %s" % (field, "|".join(BUTTON_GESTURES)))
    elif key == "skin":
        if value is not None:
            if not isinstance(value, dict):
                raise ScenarioError("%s: expected an object or null" % field)
            for k in value:
                if k not in ("ohm", "nf"):
                    raise ScenarioError("%s.%s: unknown field" % (field, k))
            if "ohm" not in value:
                raise ScenarioError("%s.ohm: missing" % field)
            _number(value["ohm"], field + ".ohm", 1, 100_000_000)
            if "nf" in value:
                _number(value["nf"], field + ".nf", 0, 1_000_000)
    elif key == "battery_v":
        _number(value, field, 0, 5)
    elif key == "usb":
        if not isinstance(value, bool):
            raise ScenarioError("%s: expected true or false" % field)
    elif key == "fault":
        if value is not None and value not in FAULT_NAMES:
            raise ScenarioError("%s: unknown fault %s" % (field, json.dumps(value)))
    elif key == "head":
        if value not in HEAD_VALUES:
            raise ScenarioError("%s: expected one of face|eye|unknown|short|open|null, got %s"
                                % (field, json.dumps(value)))
    elif key == "serial":
        if "\n" in _text(value, field):
            raise ScenarioError("%s: expected one line (serial_raw sends several)" % field)
    elif key == "serial_raw":
        if not _text(value, field):
            raise ScenarioError("%s: expected at least one character" % field)
    elif key == "power" and value not in ("cut", "on", "cut_during_write"):
        raise ScenarioError("%s: expected cut|on|cut_during_write" % field)
    return t


def check(doc):
    """Raise ScenarioError for anything C1 does not allow; return the document."""
    if not isinstance(doc, dict):
        raise ScenarioError("scenario: expected a JSON object")
    for key in doc:
        if key not in ("name", "duration_s", "seed", "settings", "events", "description"):
            raise ScenarioError("%s: unknown field" % key)
    for key in ("name", "duration_s", "events"):
        if key not in doc:
            raise ScenarioError("%s: missing" % key)
    if not _text(doc["name"], "name"):
        raise ScenarioError("name: expected a non-empty string")
    duration_s = _number(doc["duration_s"], "duration_s", 0.001, MAX_DURATION_S)
    if "seed" in doc and (not isinstance(doc["seed"], int) or isinstance(doc["seed"], bool)):
        raise ScenarioError("seed: expected an integer")
    if "description" in doc and not isinstance(doc["description"], str):
        raise ScenarioError("description: expected a string")
    if "settings" in doc:
        check_settings(doc["settings"])
    events = doc["events"]
    if not isinstance(events, list):
        raise ScenarioError("events: expected a list")
    last_t = 0
    for index, event in enumerate(events):
        last_t = _check_event(index, event, duration_s, last_t)
    return doc
