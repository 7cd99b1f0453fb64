"""The virtual board: electrical model, fault injection, scenario runner (MicroPython-compatible)."""
