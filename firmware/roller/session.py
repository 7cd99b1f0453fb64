"""Guided session (R11): contact time, zone cues, session end (contact_ms >= limit_ms)."""
from roller import programs


class Session:
    cue_pulse_ms = 200  # vibration/buzzer length of a zone cue

    def __init__(self):
        self.contact_ms = 0
        self.limit_ms = 0
        self.cue_ms = 0
        self.zones = programs.FACE_ZONES
        self.zone_index = -1
        self.next_cue_ms = 0
        self.cue_left_ms = 0  # cue output still on for this long
        self.cue_on = False  # what cue_tick() last returned

    def start(self, session_s, cue_s, zones):
        self.contact_ms = 0
        self.limit_ms = session_s * 1000
        self.cue_ms = cue_s * 1000
        self.zones = zones
        self.zone_index = -1
        self.next_cue_ms = 0
        self.cue_left_ms = 0

    def next_zone(self):
        """Contact time has reached next_cue_ms: the zone to cue now (None past the session's
        end). The App counts contact_ms itself and calls this only then: once per cue."""
        if self.contact_ms >= self.limit_ms:
            return None
        self.zone_index = (self.zone_index + 1) % len(self.zones)
        self.next_cue_ms += self.cue_ms
        self.cue_left_ms = self.cue_pulse_ms
        return self.zones[self.zone_index]

    def cue_tick(self, elapsed_ms):
        """True while the cue output should be on. Once it is off (cue_on False) and no cue is
        due (cue_left_ms 0), further calls change nothing: the App skips them."""
        self.cue_on = self.cue_left_ms > 0
        if self.cue_on:
            self.cue_left_ms -= elapsed_ms
        return self.cue_on
