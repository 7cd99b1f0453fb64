"""web/ as files: no build step and no network (every script and style is in web/), the vendored
chart library matches the version and hashes VENDOR.txt records, its licence is beside it."""
import hashlib
import os
import re

from host_tools.paths import ROOT

WEB = os.path.join(ROOT, "web")


def read(name):
    with open(os.path.join(WEB, name), encoding="utf-8") as f:
        return f.read()


def test_the_page_loads_only_its_own_files():
    html = read("index.html")
    refs = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert refs, "no scripts or styles found"
    for ref in refs:
        assert "://" not in ref and not ref.startswith("//"), ref  # no CDN: works offline
        assert os.path.isfile(os.path.join(WEB, ref)), ref


def test_vendored_uplot_is_the_recorded_release():
    vendor = read("vendor/VENDOR.txt")
    assert "uPlot 1.6.32 (MIT" in vendor
    for digest, name in re.findall(r"sha256 ([0-9a-f]{64})  (\S+) \(dist/\)", vendor):
        with open(os.path.join(WEB, "vendor", name), "rb") as f:
            assert hashlib.sha256(f.read()).hexdigest() == digest, name
    assert len(re.findall(r"\(dist/\)", vendor)) == 2
    assert "uPlot.iife.min.js" in read("index.html")
    assert "MIT License" in read("vendor/uPlot.LICENSE")
    assert read("vendor/uPlot.iife.min.js").startswith("/*! https://github.com/leeoniya/uPlot (v1.6.32) */")
