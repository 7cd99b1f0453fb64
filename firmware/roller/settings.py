"""User settings behind one object: validated as a whole, clamped at the setter."""
from roller import programs
from roller.limits import (
    CUE_DEFAULT_S,
    CUE_MAX_S,
    CUE_MIN_S,
    LEVEL_MAX,
    LEVEL_MIN,
    SESSION_DEFAULT_S,
    SESSION_MAX_S,
    SESSION_MIN_S,
    WEEK_TARGET_DEFAULT,
    WEEK_TARGET_MAX,
    WEEK_TARGET_MIN,
)

RANGES = {
    "level": (LEVEL_MIN, LEVEL_MAX),
    "session_s": (SESSION_MIN_S, SESSION_MAX_S),
    "cue_s": (CUE_MIN_S, CUE_MAX_S),
    "week_target": (WEEK_TARGET_MIN, WEEK_TARGET_MAX),  # the routine: sessions a week
}


def _clamp(value, low, high):
    return low if value < low else (high if value > high else value)


class Settings:
    def __init__(self):
        self.level = 1
        self.program = 0  # index into programs.PROGRAMS
        self.session_s = SESSION_DEFAULT_S
        self.cue_s = CUE_DEFAULT_S
        self.week_target = WEEK_TARGET_DEFAULT

    def check(self, changes):
        """Error text for a bad change set, or None. Nothing is applied."""
        if not isinstance(changes, dict) or not changes:
            return "set needs at least one of level, program, session_s, cue_s, week_target"
        for key in changes:
            value = changes[key]
            if key == "program":
                if not isinstance(value, str) or programs.index_of(value) < 0:
                    return "program must be one of " + ", ".join(programs.NAMES)
            elif key in RANGES:
                low, high = RANGES[key]
                if not isinstance(value, int) or isinstance(value, bool):
                    return key + " must be an integer"
                if value < low or value > high:
                    return "%s must be %d..%d" % (key, low, high)
            else:
                return "unknown setting " + (key if len(key) <= 32 else key[:32] + "...")
        return None

    def update(self, changes):
        """Apply a change set after `check`; returns the error text or None."""
        error = self.check(changes)
        if error:
            return error
        for key in changes:
            if key == "program":
                self.program = programs.index_of(changes[key])
            elif key == "level":
                self.set_level(changes[key])
            elif key == "session_s":
                self.session_s = _clamp(changes[key], SESSION_MIN_S, SESSION_MAX_S)
            elif key == "week_target":
                self.week_target = _clamp(changes[key], WEEK_TARGET_MIN, WEEK_TARGET_MAX)
            else:
                self.cue_s = _clamp(changes[key], CUE_MIN_S, CUE_MAX_S)
        return None

    def set_level(self, level):
        self.level = _clamp(level, LEVEL_MIN, LEVEL_MAX)

    def program_name(self):
        return programs.NAMES[self.program]

    def as_dict(self):
        return {
            "level": self.level,
            "program": self.program_name(),
            "session_s": self.session_s,
            "cue_s": self.cue_s,
            "week_target": self.week_target,
        }
