"""Bluetooth bonds kept in a power-loss-safe record (roller.ble_bonds), boot after boot.

Each boot is one MicroPython process (tests/mpy/ble_boot_run.py: roller.ble_uart, the real aioble,
the stand-in radio pairing and resuming as NimBLE does) on a flash folder kept between boots; a
process ending is a power cut. The record's format and checks are tested on CPython below.
"""
import json
import os
import subprocess

import pytest

from boards.sim.flash import Flash
from host_tools import mplib, paths
from roller.ble_bonds import LEGACY_FILE, OWN_IRK, SLOTS, Bonds, _valid
from roller.limits import BONDS_MAX
from roller.store import decode, encode

ADDR = bytes((0,)) + bytes((0xA1,)) * 6  # central a1's address, as the stand-in gives it


def boot(flash, *steps):
    """One boot doing `steps`; {check: report} (a step done twice: its last report)."""
    script = os.path.join(paths.ROOT, "tests", "mpy", "ble_boot_run.py")
    proc = subprocess.run([paths.micropython_exe(), "-X", "heapsize=4m", script, paths.ROOT,
                           mplib.aioble_dir(), str(flash), *steps],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr
    found = {}
    for line in proc.stdout.splitlines():
        doc = json.loads(line)
        found[doc.pop("check")] = doc
    return found


def stored(flash):
    bonds = Bonds(Flash(str(flash)))
    bonds.load()
    return bonds


def test_a_bond_made_in_the_window_survives_a_power_cut_and_is_honoured(tmp_path):
    first = boot(tmp_path, "window", "pair:a1")
    assert first["boot"]["bonds"] == 0 and first["window"]["pairing"]
    paired = first["pair:a1"]
    assert paired["bonded"] and paired["set_ok"] and paired["bonds"] == 1
    assert paired["writes_in_irq"] == 0  # the stack's keys reach flash in service(), not in its IRQ
    assert first["boot"]["files"] == ["bonds.a", "bonds.b"]  # no file of aioble's own
    again = boot(tmp_path, "try:a1", "try:b2")  # after the cut: the window is closed
    assert again["boot"] == {"bonds": 1, "pairing": False, "skipped": 0, "files": ["bonds.a", "bonds.b"]}
    assert again["try:a1"]["bonded"] and again["try:a1"]["set_ok"]  # its kept key: it drives
    stranger = again["try:b2"]
    assert not stranger["bonded"] and not stranger["set_ok"] and stranger["bonds"] == 1


@pytest.mark.parametrize(("torn", "b2_kept"), [(1, False), (2, True)], ids=["first-slot", "second-slot"])
def test_a_cut_in_the_middle_of_a_bond_write(tmp_path, torn, b2_kept):
    """The record goes to both slots in turn: cut in the first write, the bonds before it stay;
    in the second, the new one is whole. Never a crash, never a bond lost that was on flash."""
    first = boot(tmp_path, "window", "pair:a1", "tear:%d" % torn, "pair:b2")
    assert first["pair:a1"]["bonds"] == 1 and first["cut"] == {}
    again = boot(tmp_path, "try:a1", "try:b2")
    assert again["boot"]["bonds"] == (2 if b2_kept else 1) and again["boot"]["skipped"] == 1
    assert again["try:a1"]["bonded"] and again["try:a1"]["set_ok"]
    assert again["try:b2"]["set_ok"] is b2_kept and again["try:b2"]["bonded"] is b2_kept


@pytest.mark.parametrize("how", ["hold", "forget"])
def test_removed_bonds_are_gone_and_the_central_is_read_only_again(tmp_path, how):
    first = boot(tmp_path, "window", "pair:a1", "pair:b2", "window", "hold")
    assert first["hold"] == {"bonds": 2, "pairing": False, "usb": None, "confirmed": False, "writes": 0}
    steps = ("window", how) if how == "hold" else (how,)
    second = boot(tmp_path, *steps, "try:a1")
    removed = second[how]
    assert removed["bonds"] == 0 and removed["confirmed"] and removed["writes"] == 1  # the LED: on flash
    assert not removed["pairing"]  # the window closes with it
    assert how == "hold" or removed["usb"]["bonds"] == 0
    assert not second["try:a1"]["bonded"] and not second["try:a1"]["set_ok"]
    bonds = stored(tmp_path)
    assert bonds.count() == 0 and [k for k, _ in bonds.secrets] == [OWN_IRK]  # the device's own key stays
    for slot in SLOTS:  # no copy of a forgotten bond left in either slot
        doc = decode((tmp_path / slot).read_bytes(), _valid)
        assert [entry[0] for entry in doc["secrets"]] == [OWN_IRK], slot
    third = boot(tmp_path, "try:a1")
    assert third["boot"]["bonds"] == 0 and not third["try:a1"]["set_ok"]


def _flip_byte(path):
    with open(path, "r+b") as f:
        f.seek(-5, 2)
        byte = f.read(1)
        f.seek(-5, 2)
        f.write(bytes((byte[0] ^ 0x01,)))


def _foreign(path):
    """A CRC-clean record of this scheme that invents a bond: a key that is no hex."""
    doc = decode(open(path, "rb").read(), _valid)
    doc["secrets"].append([2, "not hex", "00" * 8])
    with open(path, "wb") as f:
        f.write(encode(doc))


def _garbage(path):
    with open(path, "wb") as f:
        f.write(b"RS1 00000000 3\n[1]")


@pytest.mark.parametrize("corrupt", [_flip_byte, _foreign, _garbage], ids=["bit-flip", "foreign", "garbage"])
def test_a_corrupt_record_loads_as_no_bonds(tmp_path, corrupt):
    boot(tmp_path, "window", "pair:a1")
    corrupt(str(tmp_path / SLOTS[0]))
    one_left = boot(tmp_path, "try:a1")  # the other slot holds the same record
    assert one_left["boot"]["bonds"] == 1 and one_left["boot"]["skipped"] == 1
    assert one_left["try:a1"]["set_ok"]
    corrupt(str(tmp_path / SLOTS[1]))  # both now
    none = boot(tmp_path, "try:a1")
    assert none["boot"]["bonds"] == 0 and none["boot"]["skipped"] == 2
    assert not none["try:a1"]["bonded"] and not none["try:a1"]["set_ok"]


def test_the_oldest_bond_is_dropped_beyond_the_max(tmp_path):
    peers = ["a%d" % i for i in range(1, BONDS_MAX + 2)]
    first = boot(tmp_path, "window", *["pair:" + p for p in peers])
    assert [first["pair:" + p]["bonds"] for p in peers] == list(range(1, BONDS_MAX + 1)) + [BONDS_MAX]
    again = boot(tmp_path, *["try:" + p for p in peers])
    assert [again["try:" + p]["set_ok"] for p in peers] == [False] + [True] * BONDS_MAX


# --- the record, on CPython ------------------------------------------------------------------
def _doc(**changes):
    doc = {"seq": 3, "secrets": [[OWN_IRK, "697262", "00" * 16], [1, ADDR.hex(), "11" * 80],
                                 [2, ADDR.hex(), "22" * 80]]}
    doc.update(changes)
    return doc


def test_record_round_trip_and_torn_prefixes():
    record = encode(_doc())
    assert decode(record, _valid) == _doc()
    for n in range(len(record)):
        assert decode(record[:n], _valid) is None, n


@pytest.mark.parametrize("doc", [
    _doc(seq=-1), _doc(seq=True), _doc(secrets={}), _doc(secrets=[[1, "0a"]]),
    _doc(secrets=[[1, "0a", "0g"]]), _doc(secrets=[[1, "0a0", "00"]]), _doc(secrets=[[1, "", "00"]]),
    _doc(secrets=[[True, "0a", "00"]]), _doc(secrets=[[256, "0a", "00"]]),
    _doc(secrets=[[1, "0a", "00"], [1, "0a", "01"]]),  # the same secret twice
    _doc(secrets=[[1, "0a", "00" * 129]]),  # longer than any stack's value
    _doc(secrets=[[1, "%02x" % i, "00"] for i in range(BONDS_MAX + 1)]),  # more bonds than kept
])
def test_records_of_another_layout_are_skipped(doc):
    assert decode(encode(doc), _valid) is None


class _Security:
    """What Bonds.install touches of aioble.security."""
    _secrets = None
    load_secrets = _save_secrets = None


def test_the_stacks_changes_reach_flash_in_service_only(tmp_path):
    fs = Flash(str(tmp_path / "fs"))
    bonds = Bonds(fs)
    bonds.load()
    security = _Security()
    bonds.install(security)
    assert security._secrets is bonds.secrets
    security._secrets[1, ADDR] = b"\x11" * 80  # the stack's IRQ, then the save it schedules
    security._save_secrets(None)
    assert fs.writes == 0 and bonds.changed
    assert bonds.service(0) and fs.writes == 2 and bonds.count() == 1
    assert not bonds.service(1) and fs.writes == 2  # nothing new: no write
    security.load_secrets()  # aioble, starting the stack again, gets the same dict
    assert security._secrets is bonds.secrets


def test_the_first_ble_firmwares_keys_file_is_removed_not_kept(tmp_path):
    """Keys that no record accounts for (the JSON file aioble wrote for the first BLE firmware)
    must not stay on flash: forgetting bonds could not reach them."""
    fs = Flash(str(tmp_path / "fs"))
    with fs.open(LEGACY_FILE, "w") as f:
        f.write('[[1, "a1a1a1a1a1a1a1", "1111"]]')
    bonds = Bonds(fs)
    bonds.load()
    assert not fs.exists(LEGACY_FILE) and bonds.count() == 0
