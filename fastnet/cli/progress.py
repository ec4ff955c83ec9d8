"""A tqdm progress bar fed by :meth:`fastnet.Network.fit`'s per-epoch callback."""

import sys
import time


class ProgressBar:
    """Shows epoch, cost and epochs per second; silent when ``quiet`` or stderr is not a terminal.

    Use as ``fit(..., callback=bar)`` inside ``with ProgressBar(epochs) as bar``.
    """

    def __init__(self, epochs, quiet=False, initial=0):
        self.enabled = not quiet and sys.stderr.isatty()
        self.bar = None
        self._last_postfix = 0.0
        self._last_cost = None
        if self.enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=epochs, initial=initial, unit="epoch", dynamic_ncols=True, file=sys.stderr)

    def __call__(self, epoch, cost):
        if self.bar is None:
            return True
        self.bar.update(epoch - self.bar.n)
        self._last_cost = cost
        now = time.monotonic()
        if now - self._last_postfix > 0.2:  # formatting every epoch would cost more than a small epoch
            self.bar.set_postfix(cost=f"{cost:.6f}", refresh=False)
            self._last_postfix = now
        return True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.bar is not None:
            if self._last_cost is not None:
                # The postfix is refreshed at most every 0.2 s; end on the last cost, which
                # is the final cost the command prints.
                self.bar.set_postfix(cost=f"{self._last_cost:.6f}", refresh=False)
            self.bar.close()
        return False
