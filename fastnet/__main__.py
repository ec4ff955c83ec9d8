"""``python -m fastnet`` is the ``fastnet`` command."""

from .cli import main

raise SystemExit(main())
