"""The ``fastnet`` command: train, predict, export, info, bench, tutorial.

Every error a user can cause is printed as one ``fastnet: error: ...`` line
(exit status 2), never as a traceback. Ctrl-C prints one line and exits with
status 130; during training it first keeps the last completed iteration (and
saves the model and the checkpoint when asked to). A closed output pipe
(``fastnet info | head -1``) ends the command quietly, as other tools do.
"""

import argparse
import contextlib
import importlib
import os
import signal
import sys
import threading

COMMANDS = ("train", "predict", "export", "info", "bench", "tutorial")

# The exit status of a process ended by SIGPIPE, which is what `cat` or `yes` give.
BROKEN_PIPE_STATUS = 141
INTERRUPTED_STATUS = 130


class OneLineErrors(argparse.ArgumentParser):
    """argparse, but a usage error is one ``fastnet: error:`` line and where to read more, not the usage block."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see: {self.prog} --help)\n")


def build_parser():
    from fastnet import __version__

    parser = OneLineErrors(prog="fastnet", description="GPU-accelerated, vectorised neural-network trainer.")
    parser.add_argument("--version", action="version", version=f"fastnet {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=OneLineErrors)
    for name in COMMANDS:
        command(name).add_parser(sub)
    return parser


def command(name):
    """The module of subcommand ``name`` (imported here, so that start-up is inside main's handlers)."""
    return importlib.import_module(f"{__name__}.{name}")


_noted = []  # the Ctrl-Cs of the command running now (see _remembering_interrupts)


def raise_noted_interrupt():
    """Raise KeyboardInterrupt if a Ctrl-C came while the command ran: for a command about to start long work.

    A Ctrl-C that C code swallowed (Numba compiling a kernel runs ctypes callbacks)
    would otherwise surface only when the work is done: after every epoch of a
    ``fastnet train --epochs 10000000``. One that was raised and handled never gets here.
    """
    if _noted:
        raise KeyboardInterrupt


@contextlib.contextmanager
def _remembering_interrupts():
    """While the command runs, note every Ctrl-C as well as raising it.

    CPython drops an exception raised inside a weakref or ctypes callback
    ("Exception ignored in ..."), and the import system and Numba's compiler run
    such callbacks: a Ctrl-C landing there would be lost and the command would end
    with status 0. The note keeps it.
    """
    interrupted = _noted
    interrupted.clear()
    if threading.current_thread() is not threading.main_thread():
        yield interrupted  # signal handlers belong to the main thread
        return

    def note_and_raise(signum, frame):
        interrupted.append(signum)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, note_and_raise)
    try:
        yield interrupted
    finally:
        signal.signal(signal.SIGINT, previous)


def main(argv=None):
    """Entry point of the ``fastnet`` console script; returns the exit status."""
    try:
        with _remembering_interrupts() as interrupted:
            args = build_parser().parse_args(argv)
            status = command(args.command).run(args)
            sys.stdout.flush()  # a closed pipe shows here, inside the handler, not at exit
        if interrupted:
            raise KeyboardInterrupt  # one that C code swallowed: the work is done, the status says so
        return status
    except KeyboardInterrupt:
        print("fastnet: interrupted", file=sys.stderr)
        return INTERRUPTED_STATUS
    except BrokenPipeError:
        # Whoever read our output has gone. Point stdout at /dev/null so that the
        # interpreter's final flush does not raise again, and leave without a word.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return BROKEN_PIPE_STATUS
    except (ValueError, RuntimeError, OSError, FloatingPointError, MemoryError) as exc:
        print(f"fastnet: error: {exc}", file=sys.stderr)
        return 2


def entry():
    """The console script and ``python -m fastnet``: :func:`main`, leaving with the status it chose."""
    # Each line reaches a pipe or file when printed, not when a buffer fills: `fastnet
    # train | tee log` shows its header before hours of training, and a script reading
    # it can wait for a line (Python buffers a pipe in blocks unless PYTHONUNBUFFERED).
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(line_buffering=True)
    status = main()
    if status == INTERRUPTED_STATUS:
        # A Ctrl-C that lands while C code runs Python code (an extension module
        # initialising during start-up) is remembered by CPython, which then ends the
        # process by SIGINT at exit (status -2) although main handled it. Leave now.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
    return status
