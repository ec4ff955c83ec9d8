"""Every check ``fastnet train`` can make before it reads data or prints a line.

Options, output paths and optional dependencies are all checked here first, so a
bad flag or an unwritable ``--save`` folder stops the run at once instead of after
minutes of training. Messages name the command line's flags, not Python's
keywords.
"""

import math
import os
from dataclasses import dataclass

from ..backends import BackendUnavailableError, backend_status
from ..initializers import INITIALIZERS
from ..losses import LOSSES, check_loss
from ..network import HIDDEN_ACTIVATIONS
from ..maths import ACTIVATIONS
from ..optimizers import OPTIMIZERS
from ..recipes import recipe
from ..validation import DTYPES
from .output_paths import refuse_overwrites, writable_file


@dataclass
class TrainPlan:
    """What ``fastnet train`` will do, once every option has been checked."""

    settings: dict  # Network keywords: activation, output_activation, loss, init
    lr: float
    epochs: int
    plot: str = None  # the file the cost curve goes to, suffix included
    resume_epoch: int = 0  # epochs already done in the --resume checkpoint


def _one_of(flag, value, valid):
    if value not in valid:
        raise ValueError(f"{flag} {value!r} is not one of: {', '.join(valid)}")


def _positive(flag, value, integer=False):
    if value is None:
        return
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{flag} must be a positive {'integer' if integer else 'number'}, got {value!r}")


def plot_path(path):
    """The file a figure for ``--plot PATH`` is written to: PATH, with ``.png`` added when it has no suffix.

    Raises ValueError when matplotlib is missing or cannot write that file type.
    """
    from .. import plots

    plt = plots.pyplot()  # raises, naming the extra to install
    if not os.path.splitext(path)[1]:
        path += ".png"
    suffix = os.path.splitext(path)[1][1:].lower()
    supported = plt.figure().canvas.get_supported_filetypes()
    plt.close("all")
    if suffix not in supported:
        raise ValueError(f"--plot {path!r}: matplotlib cannot write .{suffix} files; use one of: "
                         f"{', '.join('.' + s for s in sorted(supported))}")
    writable_file("--plot", path)
    return path


def check_train_options(args):
    """Check every option of ``fastnet train``; returns a :class:`TrainPlan` or raises ValueError."""
    settings = recipe(args.recipe)
    for key in ("activation", "output_activation", "loss", "init", "lr", "epochs"):
        if getattr(args, key) is not None:
            settings[key] = getattr(args, key)
    lr, epochs = settings.pop("lr"), settings.pop("epochs")
    if settings["activation"] == "softmax":
        raise ValueError("--activation softmax: softmax belongs on the output layer; use --output-activation softmax")
    _one_of("--activation", settings["activation"], HIDDEN_ACTIVATIONS)
    _one_of("--output-activation", settings["output_activation"], ACTIVATIONS)
    _one_of("--loss", settings["loss"], LOSSES)
    try:
        check_loss(settings["loss"], settings["output_activation"])
    except ValueError:
        raise ValueError(f"--loss cross_entropy needs probabilities out of the last layer, but the output activation "
                         f"is {settings['output_activation']!r}; add --output-activation softmax (classes)") from None
    _one_of("--init", settings["init"], INITIALIZERS)
    _one_of("--optimizer", args.optimizer, OPTIMIZERS)
    _one_of("--dtype", args.dtype, DTYPES)
    _positive("--lr", lr)
    _positive("--epochs", epochs, integer=True)
    _positive("--batch-size", args.batch_size, integer=True)
    _positive("--checkpoint-every", args.checkpoint_every, integer=True)
    if args.seed < 0:
        raise ValueError(f"--seed must be 0 or a positive integer, got {args.seed}")
    if args.data is not None and not 0 < args.test_size < 1:
        raise ValueError(f"--test-size must lie strictly between 0 and 1, got {args.test_size}")
    if args.drop and args.data is None:
        raise ValueError("--drop names columns of a --data file; the digits have none to drop")
    if args.checkpoint_every is not None and args.checkpoint is None:
        raise ValueError("--checkpoint-every needs --checkpoint PATH to write to")
    # An unknown or unusable backend, before any data is read. Only asked, not built: a
    # compiled backend's kernels load after the data, so that they and the reader's
    # temporaries are never in memory at once (see fastnet.cli.train._dataset).
    usable, why_not = backend_status(args.backend)
    if not usable:
        raise BackendUnavailableError(why_not)
    for flag, path in (("--save", args.save), ("--checkpoint", args.checkpoint)):
        if path is not None:
            writable_file(flag, path)
    plan = TrainPlan(settings=settings, lr=float(lr), epochs=int(epochs),
                     plot=plot_path(args.plot) if args.plot else None)
    # --checkpoint may name the --resume file: a resumed run goes on updating its checkpoint.
    refuse_overwrites([("--save", args.save), ("--checkpoint", args.checkpoint), ("--plot", plan.plot)],
                      [("--data", args.data), ("--resume", args.resume)], may_update=[("--checkpoint", "--resume")])
    if args.resume is not None:
        plan.resume_epoch = checkpoint_epoch(args.resume)
        if plan.epochs <= plan.resume_epoch:
            raise ValueError(f"--epochs {plan.epochs} is not beyond the {plan.resume_epoch} epochs already done in "
                             f"{args.resume!r}: with --resume, --epochs is the total to reach")
    return plan


def checkpoint_epoch(path):
    """The number of epochs a checkpoint file records."""
    from ..model_file import read_archive

    meta, _ = read_archive(path, kind="checkpoint")
    epoch = meta.get("epoch")
    if not isinstance(epoch, int) or epoch < 0:
        raise ValueError(f"--resume {path!r} records no epoch count")
    return epoch
