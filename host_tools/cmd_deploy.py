"""`deploy --board B --port P`: check the device, cross-compile, hash, copy with mpremote, verify,
restart, and wait for the app to answer `info` with the deployed firmware version.

The device is asked for its platform and .mpy format first: a firmware it cannot load is never
copied. The manifest is removed first and copied last: a deploy cut short leaves a device whose
self-test fails (R10) rather than one that runs a mix of old and new files.
"""
import json
import os
import shlex
import subprocess
import sys

from host_tools import device, firmware_build, paths
from host_tools.serial_link import AppStopped, LinkError, missing_port

# Device side: clear the firmware folders (no stale module, no .py shadowing a new .mpy).
_PREPARE = """import os
def rm(p):
    try:
        if os.stat(p)[0] & 0x4000:
            for n in os.listdir(p):
                rm(p + '/' + n)
            os.rmdir(p)
        else:
            os.remove(p)
    except OSError:
        pass
for p in %r:
    rm(p)
for d in %r:
    os.mkdir(d)
"""

# Device side: the SHA-256 of each deployed file, as the self-test computes it.
_HASHES = """import hashlib, binascii
for p in %r:
    h = hashlib.sha256()
    try:
        with open(p, 'rb') as f:
            while True:
                b = f.read(512)
                if not b:
                    break
                h.update(b)
        print(binascii.hexlify(h.digest()).decode(), p)
    except OSError:
        print('missing', p)
"""


def register(sub):
    p = sub.add_parser(
        "deploy",
        help="compile the firmware for a board and copy it with mpremote",
        description="Compile firmware/roller and the board HAL with mpy-cross for the board's "
        "architecture, check that the device runs MicroPython for that platform and .mpy format "
        "(exit 2 and copy nothing if not), write the self-test hash manifest, copy everything "
        "with mpremote, verify the hashes on the device, restart the app and check that it "
        "answers `info` with the deployed firmware version (exit 1 if not).",
    )
    names = sorted(firmware_build.BOARDS) + sorted(firmware_build.ALIASES)
    p.add_argument("--board", required=True, choices=names, metavar="B", help=", ".join(names))
    p.add_argument("--port", metavar="P", help="serial port of the device (devsim: its pty)")
    p.add_argument("--dry-run", action="store_true",
                   help="build and print the size and the mpremote commands; touch no device")
    p.add_argument("--size-only", action="store_true",
                   help="build and print only the size against the limit; touch no device")
    p.add_argument("--out", metavar="DIR", help="build folder (default build/deploy/BOARD)")
    p.set_defaults(func=run)


def plan(build):
    """The mpremote argument lists: prepare + copy, verify, restart (without `connect P`)."""
    files = build.files
    # every folder a file sits in, parents first (boards, boards/sim)
    dirs = sorted({f.rsplit("/", i)[0] for f in files for i in range(1, f.count("/") + 1)})
    # every top folder of the board's firmware, also those a frozen image holds (nothing shadows it)
    tops = sorted({dev.split("/")[0] for _, dev in firmware_build.sources(build.board) if "/" in dev})
    shadows = [f[:-4] + ".py" for f in files if f.endswith(".mpy") and "/" not in f]
    if "main.py" not in files:  # a frozen image runs its own main.py and boot.py: these are stale
        shadows += ["main.py", "boot.py"]
    copy = ["resume", "exec", _PREPARE % ([firmware_build.MANIFEST] + tops + shadows, dirs)]
    for name in files:  # the manifest is last in build.files
        copy += ["+", "fs", "cp", build.local(name), ":" + name]
    verify = ["resume", "exec", _HASHES % (files[:-1],)]
    return copy, verify, ["resume"] + build.board.restart


def mismatch(identity, build):
    """Why the device cannot load this build (one line), or None."""
    version, sub, arch = build.mpy_needs()
    dev_version, dev_sub = identity.mpy_version
    if (identity.platform == build.board.platform and dev_version == version
            and (arch is None or (dev_sub, identity.arch) == (sub, arch))):
        return None
    fits = firmware_build.board_for_platform(identity.platform)
    return "%s needs MicroPython for %s with .mpy %d.%s %s, the device is %s: nothing copied%s" % (
        build.board.name, build.board.platform, version, "x" if sub is None else sub,
        arch or "(no native code)", identity, " (--board %s?)" % fits.name if fits else "")


def frozen_mismatch(identity, board):
    """Why a deploy onto the device's frozen image cannot vouch for it (one line), or None."""
    local = firmware_build.frozen_source_sha256(board)
    if identity.frozen == local:
        return None
    return ("the device runs a frozen image of other sources (%s..., these are %s...): flash this "
            "version's UF2 first (make uf2, docs/flashing.md): nothing copied"
            % (identity.frozen[:12], local[:12]))


def check_device(port, build):
    """Refuse a device that cannot load the build, leaving its app running if it was; returns
    (refusal or None, the device's Identity)."""
    try:
        was_running = device.app_answers(port)
    except AppStopped:
        was_running = False  # at the REPL: mpremote's home
    identity = device.identify(port)  # stops the app
    refusal = mismatch(identity, build)
    if refusal is None and identity.frozen:
        refusal = frozen_mismatch(identity, build.board)
    if refusal and was_running:
        device.restart_app(port, identity)
    return refusal, identity


def check_hashes(build, output):
    """Files whose hash on the device differs from the manifest (or that are missing)."""
    with open(build.local(firmware_build.MANIFEST)) as f:
        expected = {path: digest for digest, path in (line.split() for line in f if line.strip())}
    seen = {}
    expected.pop(firmware_build.FROZEN, None)  # the image's identity, checked before the copy
    for line in output.splitlines():
        parts = line.split()
        if len(parts) == 2:
            seen[parts[1]] = parts[0]
    return [path for path, digest in expected.items() if seen.get(path) != digest]


def fail(message, code=1):
    sys.stderr.write("deploy: error: %s\n" % message)
    return code


# Device side: import every deployed module afresh (the app's loop runs only in main.py), so
# mpremote shows the error that stopped the app at start; pyserial drops what came before.
_IMPORTS = """import sys
sys.modules.clear()
for m in %r:
    __import__(m)
"""


def modules(build):
    """The deployed .mpy files as module names (roller/__init__.mpy -> roller)."""
    names = [f[:-4].replace("/", ".") for f in build.files if f.endswith(".mpy")]
    return [n[:-len(".__init__")] if n.endswith(".__init__") else n for n in names]


def confirm_version(port, build, version):
    """None once the restarted app answers `info` with `version`, else what went wrong."""
    try:
        link, info = device.wait_for_app(port)
    except AppStopped as exc:
        try:
            device.mpremote(port, ["resume", "exec", _IMPORTS % (modules(build),)])
        except LinkError as why:
            return "after the restart %s; importing its modules says: %s" % (exc, why)
        return "after the restart %s; its modules import cleanly, `mpremote connect %s resume exec " \
               "'import main'` shows why main stops" % (exc, port)
    except LinkError as exc:
        return "after the restart: %s" % exc
    link.close()
    if info.get("fw") != version:
        return "after the restart the device answers info with %s, not firmware %s" % (
            json.dumps(info, separators=(",", ":"))[:300], version)
    return None


def run(args):
    board = firmware_build.board(args.board)
    offline = args.dry_run or args.size_only
    if not (offline or args.port):
        return fail("--port is required (or --dry-run, --size-only)", 2)
    if not offline and missing_port(args.port):
        return fail("%s: %s" % (args.port, missing_port(args.port)), 2)
    out_dir = args.out or os.path.join(paths.ROOT, "build", "deploy", board.name)
    try:
        build = firmware_build.build(board, out_dir)
    except subprocess.CalledProcessError as exc:
        return fail("mpy-cross: " + (exc.stderr or exc.stdout or "").strip())
    limit_bytes = firmware_build.mpy_limit_bytes(board)
    print(firmware_build.size_line(build), flush=True)
    if build.mpy_bytes > limit_bytes:
        return fail("%s: %d bytes of .mpy exceed the %d byte limit"
                    % (board.name, build.mpy_bytes, limit_bytes))
    if args.size_only:
        return 0
    steps = plan(build)
    if args.dry_run:
        for step in steps:
            print(shlex.join(["mpremote", "connect", args.port or "PORT"] + step))
        return 0
    try:
        refusal, identity = check_device(args.port, build)
    except (LinkError, OSError) as exc:
        return fail("cannot ask the device what it runs: %s" % exc, 2)
    if refusal:
        return fail(refusal, 2)
    if identity.frozen:  # roller/ and hal/ are in the image: only the file-system files
        build = firmware_build.build(board, out_dir, frozen=identity.frozen)
        print("the device runs the frozen image of these sources: %s" % firmware_build.size_line(build),
              flush=True)
    copy, verify, restart = plan(build)
    try:
        device.mpremote(args.port, copy)
    except LinkError as exc:
        return fail("copy failed: %s" % exc)
    try:
        bad = check_hashes(build, device.mpremote(args.port, verify))
    except LinkError as exc:
        bad = ["(no answer: %s)" % exc]
    if bad:
        return fail("verify failed on the device: " + ", ".join(bad))
    print("verified %d files on %s" % (len(build.files) - 1, args.port), flush=True)
    try:
        device.mpremote(args.port, restart)
    except LinkError as exc:
        return fail("restart failed: %s" % exc)
    version = firmware_build.firmware_version()
    problem = confirm_version(args.port, build, version)
    if problem:
        return fail(problem)
    print("restarted the app on %s: it answers info with firmware %s" % (args.port, version))
    return 0
