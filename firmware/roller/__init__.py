"""Pure device logic: never imports machine; time and inputs come from the board object."""
VERSION = "0.4.0"
