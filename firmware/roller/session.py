"""Guided session (R11): contact time, zone cues, session end."""
from roller import programs


class Session:
    cue_pulse_ms = 200  # vibration/buzzer length of a zone cue

    def __init__(self):
        self.contact_ms = 0
        self.limit_ms = 0
        self.cue_ms = 0
        self.zones = programs.FACE_ZONES
        self.zone_index = -1
        self._next_cue_ms = 0
        self.cue_left_ms = 0  # cue output still on for this long

    def start(self, session_s, cue_s, zones):
        self.contact_ms = 0
        self.limit_ms = session_s * 1000
        self.cue_ms = cue_s * 1000
        self.zones = zones
        self.zone_index = -1
        self._next_cue_ms = 0
        self.cue_left_ms = 0

    def add_contact(self, elapsed_ms):
        """Count contact time; returns the zone to cue now, or None."""
        zone = None
        if self.contact_ms >= self._next_cue_ms and self.contact_ms < self.limit_ms:
            self.zone_index = (self.zone_index + 1) % len(self.zones)
            zone = self.zones[self.zone_index]
            self._next_cue_ms += self.cue_ms
            self.cue_left_ms = self.cue_pulse_ms
        self.contact_ms += elapsed_ms
        return zone

    def finished(self):
        return self.contact_ms >= self.limit_ms

    def cue_tick(self, elapsed_ms):
        """True while the cue output should be on."""
        if self.cue_left_ms > 0:
            self.cue_left_ms -= elapsed_ms
            return True
        return False
