"""`deploy --board B --port P`: cross-compile, hash, copy with mpremote, verify, restart.

The manifest is removed first and copied last: a deploy cut short leaves a device whose
self-test fails (R10) rather than one that runs a mix of old and new files.
"""
import os
import shlex
import subprocess
import sys

from host_tools import firmware_build, paths

_MPREMOTE_TIMEOUT_S = 120

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
        "architecture, write the self-test hash manifest, copy everything with mpremote, "
        "verify the hashes on the device and restart the app.",
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
    tops = [d for d in dirs if "/" not in d]
    shadows = [f[:-4] + ".py" for f in files if f.endswith(".mpy") and "/" not in f]
    copy = ["resume", "exec", _PREPARE % ([firmware_build.MANIFEST] + tops + shadows, dirs)]
    for name in files:  # the manifest is last in build.files
        copy += ["+", "fs", "cp", build.local(name), ":" + name]
    verify = ["resume", "exec", _HASHES % (files[:-1],)]
    return copy, verify, ["resume"] + build.board.restart


def mpremote(port, args):
    cmd = [paths.tool_exe("mpremote"), "connect", port] + args
    return subprocess.run(cmd, capture_output=True, text=True, timeout=_MPREMOTE_TIMEOUT_S)


def check_hashes(build, output):
    """Files whose hash on the device differs from the manifest (or that are missing)."""
    with open(build.local(firmware_build.MANIFEST)) as f:
        expected = {path: digest for digest, path in (line.split() for line in f if line.strip())}
    seen = {}
    for line in output.splitlines():
        parts = line.split()
        if len(parts) == 2:
            seen[parts[1]] = parts[0]
    return [path for path, digest in expected.items() if seen.get(path) != digest]


def fail(message, code=1):
    sys.stderr.write("deploy: error: %s\n" % message)
    return code


def run(args):
    board = firmware_build.board(args.board)
    if not (args.dry_run or args.size_only or args.port):
        return fail("--port is required (or --dry-run, --size-only)", 2)
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
    copy, verify, restart = steps
    try:
        proc = mpremote(args.port, copy)
        if proc.returncode:
            return fail("copy failed: " + (proc.stderr or proc.stdout).strip()[-500:])
        proc = mpremote(args.port, verify)
        bad = check_hashes(build, proc.stdout) if proc.returncode == 0 else ["(no answer)"]
        if bad:
            return fail("verify failed on the device: " + ", ".join(bad))
        print("verified %d files on %s" % (len(build.files) - 1, args.port), flush=True)
        proc = mpremote(args.port, restart)
        if proc.returncode:
            return fail("restart failed: " + (proc.stderr or proc.stdout).strip()[-500:])
    except subprocess.TimeoutExpired:
        return fail("mpremote gave no answer within %d s on %s" % (_MPREMOTE_TIMEOUT_S, args.port))
    print("restarted the app on %s" % args.port)
    return 0
