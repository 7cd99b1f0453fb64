"""`python -m host_tools COMMAND`: one argparse front end; each command lives in its own module.

A command module imports its heavy libraries (numpy, matplotlib, pyvcd, pyserial, prompt_toolkit)
inside the function that runs it, so the listing and every --help start at once.
"""
import argparse
import importlib
import os
import sys

# command name -> module exposing register(subparsers) which sets `func` on its parser
COMMANDS = ("sim", "bench", "perf", "deploy", "monitor", "devsim", "hil", "emu", "web")


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2 (argparse prints usage + message otherwise)
        sys.stderr.write("%s: error: %s\n" % (self.prog, message))
        sys.exit(2)


class _Listing(argparse.HelpFormatter):
    """One line per command whatever the terminal width."""

    def __init__(self, prog):
        super().__init__(prog, max_help_position=16, width=1000)


def build_parser():
    parser = _Parser(prog="python -m host_tools", formatter_class=_Listing,
                     usage="%(prog)s COMMAND [options]",
                     description="Host tools for the roller firmware. "
                     "`python -m host_tools COMMAND --help` shows a command's options.")
    sub = parser.add_subparsers(dest="tool", metavar="COMMAND", title="commands",
                                parser_class=_Parser, prog=parser.prog)
    for name in COMMANDS:
        importlib.import_module("host_tools.cmd_" + name).register(sub)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.tool is None:  # the list of commands is the answer to a bare invocation
        parser.print_help(sys.stderr)
        return 2
    try:
        return args.func(args) or 0
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader left (`| head`): stop quietly, and quiet the exit flush
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
