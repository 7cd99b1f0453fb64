"""The Bluetooth LE link (roller.ble_uart) with the real aioble (micropython-lib v1.28.0, pinned)
on the unix port, against a stand-in for the `bluetooth` module (tests/mpy/ble_standin): the GATT
service, the pairing rules, answers on the asking link, a dropped link that changes nothing, the
pairing window and the bonds; and its type check against the ESP32 and Pico W port stubs.

What the stand-in cannot show (the radio, the stack's pairing, real MTUs) is listed in
docs/companion.md ("Bluetooth: what is verified").
"""
import json
import os
import shutil
import subprocess

import pytest

from host_tools import mplib, paths, typecheck

NEEDS_BOND = "needs a bonded, encrypted link: pair in the device's pairing window"


@pytest.fixture(scope="module")
def checks(tmp_path_factory):
    flash = tmp_path_factory.mktemp("flash")
    script = os.path.join(paths.ROOT, "tests", "mpy", "ble_link_run.py")
    proc = subprocess.run([paths.micropython_exe(), "-X", "heapsize=4m", script, paths.ROOT,
                           mplib.aioble_dir(), str(flash)], capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr
    found = {}
    for line in proc.stdout.splitlines():
        doc = json.loads(line)
        found.setdefault(doc.pop("check"), []).append(doc)
    return found


def one(checks, name):
    assert len(checks[name]) == 1, checks.get(name)
    return checks[name][0]


def test_advertises_the_nordic_uart_service_and_answers_info(checks):
    assert one(checks, "advertising")["interval_us"] == 250_000
    assert one(checks, "advertising")["bond"] is False  # no bonding outside the window
    assert one(checks, "connected")["connected"]
    info = one(checks, "info")["answers"]
    assert len(info) == 1 and info[0]["ok"] and info[0]["board"] == "sim"
    assert "ble" in info[0]["commands"]


def test_a_line_in_pieces_and_a_long_line(checks):
    status = one(checks, "split_status")["answers"]
    assert len(status) == 1 and status[0]["ok"] and status[0]["state"] == "OFF"
    assert one(checks, "long")["answers"] == [{"ok": False, "error": "line too long (max 256 bytes)"}]


def test_unbonded_link_gets_only_the_read_only_commands(checks):
    seen = {json.loads(c["request"])["cmd"]: c for c in checks["unbonded"]}
    for cmd in ("start", "set", "stream", "selftest", "stop", "log"):
        assert seen[cmd]["answers"] == [{"ok": False, "error": NEEDS_BOND}], cmd
        assert seen[cmd]["state"] == "OFF"  # nothing happened
    for cmd in ("bench", "ble"):
        assert seen[cmd]["answers"] == [{"ok": False, "error": cmd + " is not available over Bluetooth"}]
    encrypted = one(checks, "encrypted_unbonded")
    assert encrypted["answers"] == [{"ok": False, "error": NEEDS_BOND}] and encrypted["level"] == 3


def test_bonded_link_drives_but_never_bench(checks):
    bonded = one(checks, "bonded_set")
    assert bonded["answers"][0]["ok"] and bonded["level"] == 2
    assert not bonded["usb_saw"]  # the answer went back over BLE only
    assert one(checks, "bonded_bench")["answers"][0]["error"] == "bench is not available over Bluetooth"
    assert one(checks, "bonded_ble")["answers"][0]["error"] == "ble is not available over Bluetooth"
    assert one(checks, "bonded_start")["answers"] == [{"ok": True, "state": "SELFTEST"}]


def test_answers_and_telemetry_stay_on_their_link(checks):
    usb = one(checks, "usb_answer_stays_on_usb")
    assert usb["usb"]["ok"] and usb["ble_lines"] == 0
    assert one(checks, "bonded_stream")["answers"] == [{"ok": True, "stream": True}]
    telemetry = one(checks, "telemetry")
    assert telemetry["ble_lines"] == 3 and telemetry["usb_streaming"] is False  # 10 Hz for 350 ms


def test_status_characteristic(checks):
    status = one(checks, "status_characteristic")
    assert status["value"]["state"] == "RUN" and status["value"]["level"] == 2
    assert status["value"]["contact"] and status["value"]["program"] == "lift"
    assert status["notified"] >= 3  # OFF, SELFTEST, STANDBY, RUN: a notification per change


def test_a_dropped_link_changes_nothing(checks):
    run = one(checks, "run")
    dropped = one(checks, "dropped")
    assert run["state"] == "RUN" and run["peak_ua"] == 160  # lift, level 2
    assert dropped["state"] == "RUN" and dropped["peak_ua"] == run["peak_ua"]
    assert dropped["connection"] and dropped["streaming"] is False
    assert dropped["advertising"] == 250_000  # open to the next central
    assert one(checks, "off")["state"] == "OFF"  # the button or USB ends it, as always


def test_pairing_window_opens_on_the_gesture_and_closes_after_60_s(checks):
    opened = one(checks, "window_open")
    assert opened["pairing"] and opened["bond"] is True and opened["led"] and opened["state"] == "OFF"
    assert opened["usb"]["pairing"] is True
    stored = one(checks, "bonded_stored")
    assert stored["exists"] and stored["stored"] == 1 and stored["usb"]["bonds"] == 1
    assert one(checks, "window_59s")["pairing"] is True
    closed = one(checks, "window_closed")
    assert closed["pairing"] is False and closed["bond"] is False and closed["led"]


def test_bonds_are_removable_from_the_device(checks):
    forgotten = one(checks, "forgotten")
    assert forgotten["usb"]["ok"] and forgotten["usb"]["bonds"] == 0
    assert forgotten["stored"] == 0 and forgotten["dropped"] == [8]  # the bonded central is dropped
    again = one(checks, "double_again")
    assert again == {"pairing": False, "bonds": 1, "stored": 1}  # a double click only closes it


@pytest.mark.parametrize("port", ["esp32", "rp2w"])
def test_ble_link_type_checks_against_the_port_stubs(port, tmp_path):
    code, output = typecheck.check(port)
    assert code == 0, output
    firmware = tmp_path / "firmware"
    shutil.copytree(paths.FIRMWARE, firmware)
    link = firmware / "roller" / "ble_uart.py"
    text = link.read_text()
    wrong = 'bluetooth.UUID("6e400001-b5a3-f393-e0a9-e50e24dcca9e")'
    assert wrong in text
    link.write_text(text.replace(wrong, "bluetooth.UUID(1, 2, 3)"))  # no such signature
    code, output = typecheck.check(port, str(firmware), str(tmp_path / "work"))
    assert code == 1 and "ble_uart.py" in output, output


def test_double_click_and_hold_in_off_without_bluetooth_change_nothing(sim):
    """The sim board has no radio: the pairing and forgetting gestures are no-ops there, as on a
    USB-only Pico."""
    trace = sim({"name": "off-double", "duration_s": 3.5,
                 "events": [{"t": 0.5, "button": "double"}, {"t": 1.5, "button": "hold"}]})
    assert [r["state"] for r in trace if r["kind"] == "state"] == ["OFF"]
    assert all(r["rgb"] == [0, 0, 0] for r in trace if r["kind"] == "led")


def test_the_pico_w_is_the_pico_but_for_the_radio_pins():
    """boards/rp2040_picow keeps every setting of boards/rp2040_pico (pins, calibration, heads)
    but its name, the VBUS sense on the radio's WL_GPIO2 and the BLE name: a setting added to
    the Pico and not to the Pico W fails here."""
    from tests.test_hal import load_config

    pico, picow = vars(load_config("rp2040_pico")), vars(load_config("rp2040_picow"))
    differ = {"NAME", "USB_PIN", "BLE_NAME"}
    settings = {k for k in pico if k.isupper()} | {k for k in picow if k.isupper()}
    assert {k: (pico.get(k), picow.get(k)) for k in settings - differ if pico.get(k) != picow.get(k)} == {}
    assert picow["NAME"] == "rp2040_picow" and picow["USB_PIN"] == "WL_GPIO2" and picow["BLE_NAME"]
    radio_gpios = {23, 24, 25, 29}  # WL_ON, WL data, WL CS, WL clock (and ADC3)
    used = {v for k, v in picow.items() if k.endswith("_PIN") and isinstance(v, int)} | set(picow["LED_PINS"])
    assert not used & radio_gpios
