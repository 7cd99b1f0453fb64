"""The shared slot array of the control tick (roller.hot): regions and cross-module indices.

Viper cannot fold another module's constants, so a module that reads another's slot repeats
its index; these tests keep the copies honest.
"""
from roller import app, contact, envelope, hot, limits, supervisor, waveform

MODULES = (app, supervisor, contact, envelope, waveform)


def _regions(module):
    return getattr(module, "REGIONS", None) or (module.REGION,)


def test_regions_tile_the_array_without_overlap():
    regions = sorted(r for m in MODULES for r in _regions(m))
    assert regions[0][0] == 0 and regions[-1][1] == hot.SLOTS
    for (_, end), (start, _) in zip(regions, regions[1:], strict=False):
        assert end == start


def test_every_slot_constant_lies_in_its_module_region():
    for module in MODULES:
        names = [n for n in dir(module) if n.startswith(("_S_", "_L_", "_A_", "S_"))]
        assert names, module.__name__
        for name in names:
            index = getattr(module, name)
            assert any(first <= index < end for first, end in _regions(module)), (module.__name__, name)


def test_indices_read_across_modules_agree():
    assert contact._SUP_READING_OK == supervisor.S_READING_OK
    assert contact._SUP_LAST_MAG == supervisor.S_LAST_MAG
    assert app._WAVE_PERIOD_DONE == waveform.S_PERIOD_DONE
    assert app._CONTACT_POOR == contact._S_POOR
    assert contact._LIFTOFF_READINGS == limits.LIFTOFF_READINGS
    assert contact._OPEN_CIRCUIT_UA == limits.OPEN_CIRCUIT_UA
    assert contact._SENSE_STEP_UA == limits.SENSE_STEP_UA
    assert supervisor._WRONG_POLARITY_TICKS == limits.WRONG_POLARITY_TICKS
    assert app._WAVE_INDEX == waveform._S_INDEX
    assert app._WAVE_WAIT_PERIOD_END == waveform.S_WAIT_PERIOD_END
    assert supervisor._OPEN_CIRCUIT_UA == limits.OPEN_CIRCUIT_UA
