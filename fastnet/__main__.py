"""``python -m fastnet`` is the ``fastnet`` command."""

from .cli import entry

raise SystemExit(entry())
