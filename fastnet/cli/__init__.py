"""The ``fastnet`` command: train, predict, info, bench, tutorial.

Every error a user can cause is printed as one ``fastnet: error: ...`` line
(exit status 2), never as a traceback. Ctrl-C during training keeps the last
completed iteration (and saves it when ``--save`` was given), exit status 130.
"""

import argparse
import sys

from . import bench, info, predict, train, tutorial

COMMANDS = {"train": train, "predict": predict, "info": info, "bench": bench, "tutorial": tutorial}


def build_parser():
    parser = argparse.ArgumentParser(prog="fastnet", description="GPU-accelerated, vectorised neural-network trainer.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module in COMMANDS.items():
        module.add_parser(sub)
    return parser


def main(argv=None):
    """Entry point of the ``fastnet`` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command].run(args)
    except (ValueError, RuntimeError, OSError, FloatingPointError, MemoryError) as exc:
        print(f"fastnet: error: {exc}", file=sys.stderr)
        return 2
