"""A progress bar on stderr for computations that take more than a second.

The C engine calls the reporter on the submitting thread between tasks (at
most every 20 ms) with (tasks done, tasks in all).  Nothing is drawn when
stderr is not a terminal (unless forced with cw.config(progress=True)), nor
for work that ends within a second.
"""
from __future__ import annotations

import sys
import time

__all__ = ["reporter"]


class _Bar:
    __slots__ = ("label", "start", "shown", "stream", "last")

    def __init__(self, label):
        self.label = label
        self.start = time.monotonic()
        self.shown = False
        self.stream = sys.stderr
        self.last = 0.0

    def __call__(self, done, total):
        now = time.monotonic()
        elapsed = now - self.start
        # Nothing for short work; then at most ten redraws a second.
        if elapsed < 1.0 or total <= 0 or (now - self.last < 0.1 and done < total):
            return
        self.last = now
        frac = min(done / total, 1.0)
        width = 30
        fill = int(frac * width)
        eta = elapsed / frac - elapsed if frac > 0 else float("nan")
        self.stream.write(f"\r{self.label} [{'#' * fill}{'.' * (width - fill)}] "
                          f"{frac * 100:5.1f}%  {elapsed:6.1f} s  eta {eta:5.1f} s ")
        self.stream.flush()
        self.shown = True

    def close(self):
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()


def reporter(label, mode):
    """A progress callable for one run, or None when no bar is wanted;
    ``mode`` is the ``progress`` setting (None: only on a terminal)."""
    if mode is False:
        return None
    if mode is None and not (hasattr(sys.stderr, "isatty") and sys.stderr.isatty()):
        return None
    return _Bar(label)
