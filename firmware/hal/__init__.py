"""Board support: the only firmware code that imports machine (esp32.py, rp2040.py)."""
