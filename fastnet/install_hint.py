"""How to install an optional part of fastnet, said the same way by every message.

The distribution is ``fastnet-trainer``: the name ``fastnet`` on the package index
belongs to another project, so ``pip install "fastnet[plot]"`` would install that one.
The import name and the ``fastnet`` command stay ``fastnet``.
"""

DISTRIBUTION = "fastnet-trainer"


def install_hint(extra):
    """``pip install "fastnet-trainer[extra]"``, and the same from a clone, for an error message."""
    return f'pip install "{DISTRIBUTION}[{extra}]" (in a clone of fastnet: pip install ".[{extra}]")'
