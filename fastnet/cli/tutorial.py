"""``fastnet tutorial NAME``: run one of the tutorials' experiments."""

import argparse

from .. import tutorials
from .progress import ProgressBar


def add_parser(sub):
    lines = "\n".join(f"  {name:17s} {text}" for name, (_, text) in tutorials.TUTORIALS.items())
    p = sub.add_parser("tutorial", help="run a tutorial experiment by name", description=f"experiments:\n{lines}",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", metavar="NAME", help=", ".join(tutorials.TUTORIALS))
    p.add_argument("--plot", metavar="PNG", help="save the experiment's figure here (every experiment but feedforward)")
    p.add_argument("--quiet", action="store_true", help="no progress bar (digits)")


def run(args):
    plot = None
    if args.plot:
        if args.name in tutorials.WITHOUT_FIGURE:
            tutorials.run(args.name, plot=args.plot)  # raises, naming the experiments that draw one
        from .train_checks import plot_path

        plot = plot_path(args.plot)
    if args.name == "digits":
        from ..recipes import recipe

        # The one long experiment: 3000 iterations, with a progress bar as in `fastnet train`.
        with ProgressBar(recipe("tutorial")["epochs"], quiet=args.quiet) as bar:
            tutorials.run(args.name, plot=plot, callback=bar if bar.enabled else None)
    else:
        tutorials.run(args.name, plot=plot)
    return 0
