"""Checks on the files a command will write, made before it reads or trains anything.

A command must never destroy its own input: ``train --data f.csv --save f.csv`` would
replace the training data with the model, and ``predict m.npz new.csv -o new.csv``
the rows with their predictions. Paths are compared as the files they name
(symlinks and ``..`` resolved, hard links caught by ``os.path.samefile``), not as text.
"""

import os


def writable_file(flag, path):
    """Raise ValueError, naming ``flag``, unless ``path`` can be written as a file."""
    if os.path.isdir(path):
        raise ValueError(f"{flag} {path!r} is a folder; give a file name")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ValueError(f"{flag} {path!r}: the folder {folder!r} does not exist")
    if not os.access(folder, os.W_OK):
        raise ValueError(f"{flag} {path!r}: the folder {folder!r} is read-only; write somewhere else")
    if os.path.exists(path) and not os.access(path, os.W_OK):
        raise ValueError(f"{flag} {path!r} is a read-only file; write somewhere else")


def same_file(a, b):
    """Whether paths ``a`` and ``b`` name one file (which need not exist yet)."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist: then they differ
        return False


def refuse_overwrites(outputs, inputs=(), may_update=()):
    """Raise ValueError when an output is the same file as an input or as another output.

    ``outputs`` and ``inputs`` are ``(flag, path)`` pairs (``path`` None when not
    given). ``may_update`` lists ``(output flag, input flag)`` pairs where writing
    over the input is the point: ``--checkpoint`` may update the ``--resume`` file.
    """
    outputs = [(flag, path) for flag, path in outputs if path is not None]
    inputs = [(flag, path) for flag, path in inputs if path is not None]
    for i, (out_flag, out) in enumerate(outputs):
        for in_flag, given in inputs:
            if (out_flag, in_flag) not in may_update and same_file(out, given):
                raise ValueError(f"{out_flag} {out!r} is the {in_flag} file {given!r}: writing it would destroy "
                                 f"the input; give {out_flag} another name")
        for other_flag, other in outputs[i + 1:]:
            if same_file(out, other):
                raise ValueError(f"{out_flag} and {other_flag} are both {out!r}: one would overwrite the other; "
                                 "give them different names")
