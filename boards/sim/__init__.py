"""The virtual board: electrical model, fault injection, scenario runner (MicroPython-compatible)."""

# the bench's dummy load across the electrodes (docs/bench.md): devsim's load and what `hil`
# expects to read back; tests/test_docs.py holds the docs to it
DUMMY_LOAD_OHM = 10_000
