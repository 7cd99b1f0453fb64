"""`bench`: captures in every supported CSV layout, built from known waveforms, measured
through the CLI; malformed files exit 2 with one line on stderr."""
import json
import subprocess
import sys

import numpy as np
import pytest

from host_tools.__main__ import main
from host_tools.paths import ROOT
from host_tools.scope import measure

LOAD_OHM = 10_000.0
FREQ_TOL = 0.02


def wave_ua(shape, freq_hz, amp_ua, t_s):
    cycles = t_s * freq_hz
    phase = cycles % 1.0
    if shape == "sine":
        return amp_ua * np.sin(2 * np.pi * phase)
    if shape == "triangle":
        return amp_ua * (4 * np.abs(phase - 0.5) - 1)
    square = amp_ua * np.where(phase < 0.5, 1.0, -1.0)
    if shape == "burst":  # 5 carrier cycles on, 5 off
        return np.where(cycles % 10 < 5, square, 0.0)
    return square


def make_capture(shape, freq_hz, amp_ua, samples=8000, seed=1, pos_ua=None):
    """Seeded noisy capture across the load: negative start (pre-trigger), random phase."""
    rng = np.random.default_rng(seed)
    periods = 25 if shape == "burst" else 8
    span_s = periods / freq_hz
    dt_s = span_s / samples
    start_s = -span_s * rng.uniform(0.1, 0.5)
    t_s = start_s + dt_s * np.arange(samples)
    i_ua = wave_ua(shape, freq_hz, amp_ua, t_s + rng.uniform(0, 1) / freq_hz)
    if pos_ua is not None:  # unbalanced: a different positive phase
        i_ua = np.where(i_ua > 0, pos_ua, i_ua)
    volts = i_ua * 1e-6 * LOAD_OHM + rng.normal(0, 0.005 * amp_ua * 1e-6 * LOAD_OHM + 2e-3,
                                                samples)
    return start_s, dt_s, t_s, volts


# --- writers: the layouts as the instruments export them ----------------------------------

def rigol_ds(start_s, dt_s, t_s, channels):
    names = ",".join("CH%d" % n for n in channels)
    lines = ["X,%s,Start,Increment," % names,
             "Sequence,%s,%e,%e," % (",".join("Volt" for _ in channels), start_s, dt_s)]
    columns = list(channels.values())
    for k in range(t_s.size):
        lines.append("%d,%s," % (k, ",".join("%.4e" % c[k] for c in columns)))
    return lines


def rigol_mso(start_s, dt_s, t_s, channels):
    lines = ["Time(s),%s" % ",".join("CH%d(V)" % n for n in channels)]
    columns = list(channels.values())
    for k in range(t_s.size):
        lines.append("%e,%s" % (t_s[k], ",".join("%e" % c[k] for c in columns)))
    return lines


def siglent_old(start_s, dt_s, t_s, channels):
    (n, volts), = channels.items()
    lines = ["Record Length,%d" % t_s.size, "Sample Interval,%g" % dt_s,
             "Trigger Point,%d" % round(-start_s / dt_s), "Source,CH%d" % n,
             "Vertical Units,V", "Vertical Scale,0.5", "Vertical Offset,0",
             "Horizontal Units,s", "Horizontal Scale,%g" % (dt_s * t_s.size / 14),
             "Pt Fmt,Y", "Yzero,0", "Probe Atten,1", "Model Number,SDS1202X-E",
             "Serial Number,SDSMMEBC2R0123", "Firmware Version,1.3.27", "", "Second,Volt"]
    lines += ["%.8e,%.4e" % (t, v) for t, v in zip(t_s, volts, strict=True)]
    return lines


def siglent_x_e(start_s, dt_s, t_s, channels):
    (n, volts), = channels.items()
    lines = ["Record Length,Analog:%d," % t_s.size, "Sample Interval,Analog:%.2E," % dt_s,
             "Vertical Units,CH%d:V," % n, "Vertical Scale,CH%d:5.00E-01," % n,
             "Vertical Offset,CH%d:0.00E+00," % n, "Horizontal Units,S,",
             "Horizontal Scale,%.2E," % (dt_s * t_s.size / 14), "Model Number,SDS1104X-E,",
             "Serial Number,SDSMMFCX4R5678,", "Software Version,8.1.6.1.37R2,", "",
             "Second,Volt,"]
    lines += ["%.8E,%.2E," % (t, v) for t, v in zip(t_s, volts, strict=True)]
    return lines


def keysight(start_s, dt_s, t_s, channels):
    lines = ["x-axis,%s" % ",".join(str(n) for n in channels),
             "second,%s" % ",".join("Volt" for _ in channels)]
    columns = list(channels.values())
    for k in range(t_s.size):
        lines.append("%.7E,%s" % (t_s[k], ",".join("%.5E" % c[k] for c in columns)))
    return lines


TEK_HEADER = [("Record Length", "%.6e", "Points"), ("Sample Interval", "%.6e", "s"),
              ("Trigger Point", "%.12e", "Samples"), ("", "", ""), ("", "", ""), ("", "", ""),
              ("Source", "CH%d", ""), ("Vertical Units", "V", ""),
              ("Vertical Scale", "5.000000e-01", ""), ("Vertical Offset", "0.000000e+00", ""),
              ("Horizontal Units", "s", ""), ("Horizontal Scale", "%.6e", ""),
              ("Pt Fmt", "Y", ""), ("Yzero", "0.000000e+00", ""),
              ("Probe Atten", "1.000000e+00", ""), ("Model Number", "TBS1052B", ""),
              ("Serial Number", "C010101", ""), ("Firmware Version", "FV:v4.00", "")]


def tektronix(start_s, dt_s, t_s, channels):
    (n, volts), = channels.items()
    values = [t_s.size, dt_s, -start_s / dt_s, None, None, None, n, None, None, None, None,
              dt_s * t_s.size / 10]
    lines = []
    for k in range(t_s.size):
        label = value = unit = ""
        if k < len(TEK_HEADER):
            label, fmt, unit = TEK_HEADER[k]
            arg = values[k] if k < len(values) else None
            value = fmt % arg if arg is not None else fmt
        lines.append("%s,%s,%s,%.12f,%.5f," % (label, value, unit, t_s[k], volts[k]))
    return lines


def picoscope(time_unit, volt_unit):
    t_scale = {"(s)": 1.0, "(ms)": 1e3, "(us)": 1e6, "(µs)": 1e6}[time_unit]
    v_scale = {"(V)": 1.0, "(mV)": 1e3}[volt_unit]

    def write(start_s, dt_s, t_s, channels):
        names = ",".join("Channel %s" % "ABCD"[n - 1] for n in channels)
        lines = ["Time,%s" % names, ",".join([time_unit] + [volt_unit] * len(channels)), ""]
        columns = list(channels.values())
        for k in range(t_s.size):
            lines.append("%.8f,%s" % (t_s[k] * t_scale,
                                      ",".join("%.8f" % (c[k] * v_scale) for c in columns)))
        return lines
    return write


def generic(header):
    def write(start_s, dt_s, t_s, channels):
        (_, volts), = channels.items()
        rows = ["%.9g,%.6g" % (t, v) for t, v in zip(t_s, volts, strict=True)]
        return (["time,volts"] if header else []) + rows
    return write


LAYOUTS = {
    "rigol_ds1000z": (rigol_ds, "rigol"), "rigol_mso5000": (rigol_mso, "rigol"),
    "siglent_sds1000x": (siglent_old, "siglent"), "siglent_x_e": (siglent_x_e, "siglent"),
    "keysight": (keysight, "keysight"), "tektronix": (tektronix, "tektronix"),
    "picoscope_ms_mV": (picoscope("(ms)", "(mV)"), "picoscope"),
    "picoscope_us_V": (picoscope("(µs)", "(V)"), "picoscope"),
    "picoscope_s_mV": (picoscope("(s)", "(mV)"), "picoscope"),
    "generic_header": (generic(True), "generic"), "generic_bare": (generic(False), "generic"),
}

CASES = [("square", 100, 200), ("square", 0.5, 80), ("square", 250, 40), ("sine", 50, 120),
         ("sine", 1, 40), ("triangle", 20, 400), ("triangle", 100, 160), ("burst", 250, 300),
         ("burst", 10, 400)]


def write_csv(path, layout, start_s, dt_s, t_s, channels, encoding="utf-8"):
    path.write_text("\r\n".join(LAYOUTS[layout][0](start_s, dt_s, t_s, channels)) + "\r\n",
                    encoding=encoding)
    return str(path)


def bench(argv, capsys):
    try:
        code = main(["bench", *argv])
    except SystemExit as exc:  # argparse errors
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def amp_tol(amp_ua):
    return max(0.1 * amp_ua, 10.0)


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("shape, freq_hz, amp_ua", CASES)
def test_measures_known_waveform(tmp_path, capsys, layout, shape, freq_hz, amp_ua):
    samples = 2500 if layout == "tektronix" else 8000  # TBS1000 records are 2500 points
    start_s, dt_s, t_s, volts = make_capture(shape, freq_hz, amp_ua, samples, seed=amp_ua)
    path = write_csv(tmp_path / "cap.csv", layout, start_s, dt_s, t_s, {1: volts})
    code, out, err = bench([path, "--load-ohm", "10000", "--json", "--expect-shape", shape,
                            "--expect-hz", str(freq_hz), "--expect-ua", str(amp_ua)], capsys)
    result = json.loads(out)
    assert (code, err) == (0, ""), result["checks"]
    assert result["vendor"] == LAYOUTS[layout][1]
    assert result["samples"] == samples
    assert result["sample_rate_hz"] == pytest.approx(1 / dt_s, rel=1e-3)
    assert result["shape"] == shape
    assert result["freq_hz"] == pytest.approx(freq_hz, rel=FREQ_TOL)
    assert result["peak_pos_ua"] == pytest.approx(amp_ua, abs=amp_tol(amp_ua))
    assert result["peak_neg_ua"] == pytest.approx(-amp_ua, abs=amp_tol(amp_ua))
    assert abs(result["dc_ua"]) < 0.02 * amp_ua
    assert result["balance"] < 0.02
    assert {c["name"] for c in result["checks"]} == {
        "shape", "freq_hz", "peak_pos_ua", "peak_neg_ua", "R1 |peak| uA", "R3 balance"}


@pytest.mark.parametrize("layout, channel, label", [
    ("rigol_ds1000z", 2, "CH2"), ("rigol_mso5000", 2, "CH2"), ("keysight", 2, "2"),
    ("picoscope_ms_mV", 2, "Channel B")])
def test_selects_channel(tmp_path, capsys, layout, channel, label):
    start_s, dt_s, t_s, volts = make_capture("sine", 40, 150)
    other = np.random.default_rng(3).normal(0, 0.01, t_s.size)
    path = write_csv(tmp_path / "cap.csv", layout, start_s, dt_s, t_s, {1: other, 2: volts})
    code, out, _ = bench([path, "--load-ohm", "10000", "--channel", str(channel), "--json"],
                         capsys)
    result = json.loads(out)
    assert code == 0
    assert (result["channel"], result["shape"]) == (label, "sine")
    assert result["freq_hz"] == pytest.approx(40, rel=FREQ_TOL)


@pytest.mark.parametrize("shape, freq_hz", [
    ("sine", 100), ("triangle", 100), ("square", 250), ("burst", 250)])
def test_control_tick_staircase(shape, freq_hz):
    # the firmware updates the output once per 1 ms tick: a 100 Hz sine is 10 steps
    t_s = np.arange(-0.03, 0.1, 4e-6)
    result = measure(t_s, wave_ua(shape, freq_hz, 200, np.floor(t_s * 1e3) / 1e3))
    assert result["shape"] == shape
    assert result["freq_hz"] == pytest.approx(freq_hz, rel=FREQ_TOL)
    assert result["balance"] < 0.01


def test_latin1_picoscope_units(tmp_path, capsys):
    start_s, dt_s, t_s, volts = make_capture("square", 80, 100)
    path = write_csv(tmp_path / "cap.csv", "picoscope_us_V", start_s, dt_s, t_s, {1: volts},
                     encoding="latin-1")
    code, out, _ = bench([path, "--load-ohm", "1e4", "--json"], capsys)
    assert code == 0
    assert json.loads(out)["freq_hz"] == pytest.approx(80, rel=FREQ_TOL)


def test_other_load_scales_current(tmp_path, capsys):
    start_s, dt_s, t_s, volts = make_capture("square", 100, 200)
    path = write_csv(tmp_path / "cap.csv", "generic_header", start_s, dt_s, t_s, {1: volts})
    _, out, _ = bench([path, "--load-ohm", "5000", "--json"], capsys)
    assert json.loads(out)["peak_pos_ua"] == pytest.approx(400, abs=amp_tol(400))


def test_unbalanced_capture_fails_balance(tmp_path, capsys):
    start_s, dt_s, t_s, volts = make_capture("square", 100, 200, pos_ua=260)
    path = write_csv(tmp_path / "cap.csv", "rigol_ds1000z", start_s, dt_s, t_s, {1: volts})
    code, out, _ = bench([path, "--load-ohm", "10000", "--json"], capsys)
    result = json.loads(out)
    assert code == 1
    assert result["balance"] == pytest.approx(60 / 460, rel=0.1)
    assert result["dc_ua"] == pytest.approx(30, rel=0.1)
    failed = [c["name"] for c in result["checks"] if not c["pass"]]
    assert failed == ["R3 balance"]


def test_over_hard_cap_and_wrong_expectations_fail(tmp_path, capsys):
    start_s, dt_s, t_s, volts = make_capture("sine", 50, 600)
    path = write_csv(tmp_path / "cap.csv", "keysight", start_s, dt_s, t_s, {1: volts})
    code, out, _ = bench([path, "--load-ohm", "10000", "--expect-shape", "square",
                          "--expect-hz", "55", "--expect-ua", "600"], capsys)
    assert code == 1
    assert "FAIL" in out
    code, out, _ = bench([path, "--load-ohm", "10000", "--json", "--expect-shape", "square",
                          "--expect-hz", "55", "--expect-ua", "600"], capsys)
    failed = {c["name"] for c in json.loads(out)["checks"] if not c["pass"]}
    assert failed == {"shape", "freq_hz", "R1 |peak| uA"}


def test_table_output_and_plot(tmp_path, capsys):
    import matplotlib.image

    start_s, dt_s, t_s, volts = make_capture("burst", 100, 200)
    path = write_csv(tmp_path / "cap.csv", "siglent_x_e", start_s, dt_s, t_s, {1: volts})
    png = tmp_path / "cap.png"
    code, out, err = bench([path, "--load-ohm", "10000", "--plot", str(png),
                            "--expect-shape", "burst"], capsys)
    assert (code, err) == (0, "")
    assert "burst" in out and out.rstrip().endswith("PASS")
    image = matplotlib.image.imread(str(png))
    assert image.shape[0] > 300 and image.shape[1] > 800
    assert image[..., :3].std() > 0.05


# --- the same captures as decimal-comma locales and spreadsheets write them -----------------

def _decimal_comma(cell):
    try:
        float(cell)
    except ValueError:
        return cell
    return cell.replace(".", ",")


# name: (separator, decimal comma, quote the cells holding a comma)
DIALECTS = {
    "semicolon_comma": (";", True, False),  # PicoScope and spreadsheets in de, fr, it, es, ...
    "tab_comma": ("\t", True, False),
    "semicolon_point": (";", False, False),
    "tab_point": ("\t", False, False),
    "comma_quoted_comma": (",", True, True),  # a spreadsheet that keeps ',' between fields
}


def localise(path, dialect, encoding="utf-8"):
    """Rewrite a comma/point capture in `dialect` (none of the writers above quote a cell)."""
    separator, comma, quote = DIALECTS[dialect]
    lines = []
    for line in path.read_text(encoding=encoding).splitlines():
        cells = [_decimal_comma(c) if comma else c for c in line.split(",")]
        lines.append(separator.join('"%s"' % c if quote and "," in c else c for c in cells))
    localised = path.with_name("%s-%s.csv" % (path.stem, dialect))
    localised.write_text("\r\n".join(lines) + "\r\n", encoding=encoding)
    return str(localised)


@pytest.mark.parametrize("dialect", sorted(DIALECTS))
@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_locale_dialect_gives_the_same_report(tmp_path, capsys, layout, dialect):
    shape, freq_hz, amp_ua = CASES[sorted(LAYOUTS).index(layout) % len(CASES)]
    start_s, dt_s, t_s, volts = make_capture(shape, freq_hz, amp_ua, 2500, seed=7)
    original = write_csv(tmp_path / "cap.csv", layout, start_s, dt_s, t_s, {1: volts})
    localised = localise(tmp_path / "cap.csv", dialect)
    with open(original) as f, open(localised) as g:  # the rewrite did change the file
        assert f.read() != g.read()
    argv = ["--load-ohm", "10000", "--json", "--expect-shape", shape, "--expect-hz", str(freq_hz)]
    reports = []
    for path in (original, localised):
        code, out, err = bench([path, *argv], capsys)
        assert (code, err) == (0, "")
        reports.append(json.loads(out))
    assert reports[0]["vendor"] == LAYOUTS[layout][1]
    assert reports[1] == reports[0]


def test_latin1_picoscope_in_a_decimal_comma_locale(tmp_path, capsys):
    start_s, dt_s, t_s, volts = make_capture("sine", 30, 150)
    write_csv(tmp_path / "cap.csv", "picoscope_us_V", start_s, dt_s, t_s, {1: volts, 2: volts / 2},
              encoding="latin-1")
    path = localise(tmp_path / "cap.csv", "semicolon_comma", encoding="latin-1")
    code, out, _ = bench([path, "--load-ohm", "1e4", "--channel", "2", "--json"], capsys)
    result = json.loads(out)
    assert (code, result["channel"], result["shape"]) == (0, "Channel B", "sine")
    assert result["peak_pos_ua"] == pytest.approx(75, abs=amp_tol(75))


# --- bad input: exit 2, one line, no traceback ----------------------------------------------

GOOD = "time,volts\n0,0.1\n0.001,-0.1\n0.002,0.1\n0.003,-0.1\n0.004,0.1\n"


def _periodic_rows(values):
    return "".join("%g,%g\n" % (k * 1e-3, v) for k, v in enumerate(values))


MALFORMED = {
    "empty": ("", [], "file is empty"),
    "blank lines": ("\n\n\n", [], "file is empty"),
    "header only": ("time,volts\n", [], "no samples"),
    "text in numbers": (GOOD + "0.005,abc\n", [], "line 7: 'abc' is not a number"),
    "text in time": (GOOD + "t5,0.1\n", [], "line 7: 't5' is not a number"),
    "over-range": ("Time,Channel A\n(ms),(mV)\n\n0,1\n1,\u221e\n", [], "line 5:"),
    "nan": (GOOD + "0.005,nan\n", [], "line 7: 'nan' is not a finite number"),
    "one column": ("time\n0\n1\n", [], "expected time and volts"),
    "short row": (GOOD + "0.005\n", [], "line 7: expected 2 columns, found 1"),
    "one sample": ("time,volts\n0,0.1\n", [], "line 2: only 1 sample"),
    "constant": (_periodic_rows([0.5] * 50), [], "signal is flat"),
    "no full period": (_periodic_rows(np.linspace(-1, 1, 50)), [], "less than one full period"),
    "time backwards": ("0,0.1\n0.002,-0.1\n0.001,0.1\n", [], "line 3: time does not increase"),
    "channel missing": ("X,CH1,Start,Increment,\nSequence,Volt,0,1e-3,\n0,1,\n1,-1,\n",
                        ["--channel", "2"], "channel 2 not present (file has CH1)"),
    "generic channel": (GOOD, ["--channel", "3"], "channel 3 not present"),
    "tek other source": ("Record Length,2,Points,0,1,\nSource,CH1,,0.001,-1,\n",
                         ["--channel", "2"], "channel 2 not present"),
    "rigol no increment": ("X,CH1,Start,Increment,\nSequence,Volt,0,\n", [], "line 2:"),
    "pico bad unit": ("Time,Channel A\n(min),(mV)\n\n0,1\n1,2\n", [], "unknown time unit"),
    "siglent no data": ("Record Length,Analog:7000,\nSample Interval,Analog:2E-06,\n", [],
                        "Second,Volt"),
    "binary": ("\x00\x01,\x02\n\x03\x04,\x05\n", [], "line 2:"),
    "mixed decimal marks": ("time;volts\n0;0,1\n0,001;-0,1\n0.002;0.1\n0,003;-0,1\n", [],
                            "line 4: a decimal point here, decimal commas from line 2: mixed number formats"),
    "mixed separators": ("time;volts\n0;0,1\n0,001;-0,1\n0,002,0,1\n0,003;-0,1\n", [],
                         "line 4: expected 2 columns, found 1 (this file separates fields with semicolons)"),
    "tabs and semicolons": ("0\t0,1\n0,001;-0,1\n0,002\t0,1\n0,003;-0,1\n", [],
                            "tabs and semicolons both separate fields: cannot tell the separator"),
    "unquoted decimal commas": ("time,volts\n0,0,1\n0,001,-0,1\n", [],
                                "line 2: 3 values in a layout of 2 columns (decimal commas in a comma-"),
    "tek decimal commas": ("Record Length,2,5e+03,Points,-0,0005,0,16,\n", [],
                           "line 1: 8 values in a layout of 5 columns (decimal commas"),
    "rigol decimal commas": ("X,CH1,Start,Increment,\nSequence,Volt,-1,0e-03,1,0e-05,\n0,1,\n1,-1,\n",
                             [], "line 2: 6 values in a layout of 4 columns (decimal commas"),
    "keysight decimal commas": ("x-axis,1\nsecond,Volt\n-1,0E-03,1,2E-01\n", [],
                                "line 3: 4 values in a layout of 2 columns (decimal commas"),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_capture_exits_2(tmp_path, capsys, name):
    text, extra, message = MALFORMED[name]
    path = tmp_path / "capture.csv"
    path.write_text(text, encoding="utf-8")
    code, out, err = bench([str(path), "--load-ohm", "10000", *extra], capsys)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("bench: error: %s" % path)
    assert message in err


@pytest.mark.parametrize("argv, message", [
    (["--load-ohm", "0"], "--load-ohm"), (["--load-ohm", "-5"], "--load-ohm"),
    (["--load-ohm", "abc"], "'abc' is not a number"), ([], "--load-ohm"),
    (["--load-ohm", "1e4", "--expect-shape", "sawtooth"], "invalid choice"),
    (["--load-ohm", "1e4", "--channel", "0"], "channel"),
    (["--load-ohm", "1e4", "--expect-hz", "nan"], "--expect-hz")])
def test_bad_arguments_exit_2(tmp_path, capsys, argv, message):
    path = tmp_path / "capture.csv"
    path.write_text(GOOD)
    code, out, err = bench([str(path), *argv], capsys)
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and message in err


def test_missing_file_and_directory(tmp_path, capsys):
    for path, message in ((tmp_path / "nope.csv", "no such file"), (tmp_path, "")):
        code, out, err = bench([str(path), "--load-ohm", "10000"], capsys)
        assert (code, out) == (2, "")
        assert err.count("\n") == 1 and message in err


def test_subprocess_error_has_no_traceback(tmp_path):
    path = tmp_path / "capture.csv"
    path.write_text(GOOD + "0.005,abc\n")
    argv = [sys.executable, "-m", "host_tools", "bench", str(path), "--load-ohm", "10000"]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert proc.returncode == 2
    assert proc.stderr == "bench: error: %s line 7: 'abc' is not a number\n" % path
