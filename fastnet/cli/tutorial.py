"""``fastnet tutorial NAME``: run one of the tutorials' experiments."""

import argparse

from .. import tutorials


def add_parser(sub):
    lines = "\n".join(f"  {name:17s} {text}" for name, (_, text) in tutorials.TUTORIALS.items())
    p = sub.add_parser("tutorial", help="run a tutorial experiment by name", description=f"experiments:\n{lines}",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", metavar="NAME", help=", ".join(tutorials.TUTORIALS))
    p.add_argument("--plot", metavar="PNG", help="save the experiment's figure here")


def run(args):
    tutorials.run(args.name, plot=args.plot)
    return 0
