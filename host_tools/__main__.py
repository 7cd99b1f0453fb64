"""`python -m host_tools COMMAND`: one argparse front end; each command lives in its own module."""
import argparse
import importlib
import sys

# command name -> module exposing register(subparsers) which sets `func` on its parser
COMMANDS = ("sim", "bench", "perf", "deploy", "monitor", "devsim", "hil")


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2 (argparse prints usage + message otherwise)
        sys.stderr.write("%s: error: %s\n" % (self.prog, message))
        sys.exit(2)


def build_parser():
    parser = _Parser(prog="python -m host_tools", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name in COMMANDS:
        try:
            module = importlib.import_module("host_tools.cmd_" + name)
        except ModuleNotFoundError as exc:
            if exc.name != "host_tools.cmd_" + name:
                raise
            continue
        module.register(sub)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return args.func(args) or 0
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
